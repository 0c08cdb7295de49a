//! Calendars and tasks end to end against the real Radicale: upstream objects reach the
//! device, the device's Adds, Changes and Deletes reach Radicale, a property EAS does
//! not know survives a device edit, and retries never duplicate.

mod common;

use airsync::wbxml::Element;
use airsync::wbxml::pages::{AirSync as A, Calendar as C, Tasks as T};
use common::Stack;
use common::airsync::Server;
use common::dav::Dav;
use common::eas::{Cmd, collection, folder_changes};

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:upstream-1@test\r\n\
DTSTAMP:20261120T100000Z\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\nDTEND;TZID=Europe/Berlin:20261201T100000\r\n\
SUMMARY:Planning\r\nLOCATION:Room 1\r\nX-CUSTOM-THING:keep me\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn text(e: &Element, t: airsync::wbxml::Tag) -> String {
    e.child_text(t).map(|s| s.into_owned()).unwrap_or_default()
}

#[tokio::test]
async fn calendar_both_ways() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("cal");
    let dav = Dav::new(stack, &user, &pw);
    dav.put("calendar/upstream-1.ics", EVENT).await;
    let server = Server::start(stack);
    let p = server.phone(stack, &user, &pw, "CAL1").await;
    let a = p.folder_sync("0").await;
    let (_, _, folders, _, _) = folder_changes(a.body.as_ref().unwrap());
    let cal = folders
        .iter()
        .find(|f| f.kind == 8)
        .expect("default calendar (type 8)")
        .server_id
        .clone();
    assert!(
        folders.iter().any(|f| f.kind == 7),
        "a Tasks folder: {folders:?}"
    );
    assert!(
        folders.iter().any(|f| f.kind == 9),
        "a Contacts folder: {folders:?}"
    );

    let options = Element::new(A::Options).text_child(A::FilterType, "0");
    let (key, cmds) = p.sync_all(&cal, 50, options.clone()).await;
    let Some(Cmd::Add(event_id, data)) = cmds.first() else {
        panic!("{cmds:?}")
    };
    assert_eq!(text(data, C::Subject), "Planning");
    assert_eq!(
        text(data, C::StartTime),
        "20261201T080000Z",
        "09:00 Berlin is 08:00 UTC"
    );
    assert!(!text(data, C::Timezone).is_empty(), "a TimeZone blob");

    // Device edits the subject: the unknown property survives upstream.
    let change = Element::new(A::Change)
        .text_child(A::ServerId, event_id.clone())
        .child(data.clone().children.into_iter().fold(
            Element::new(A::ApplicationData),
            |mut acc, n| {
                if let airsync::wbxml::Node::Element(e) = n {
                    if e.tag == C::Subject {
                        acc.push(Element::with_text(C::Subject, "Planning (moved)"));
                    } else {
                        acc.push(e);
                    }
                }
                acc
            },
        ));
    let s = p
        .sync_one(collection(
            &cal,
            &key,
            Some(50),
            Some(options.clone()),
            vec![change],
        ))
        .await;
    assert_eq!(s.status, "1");
    assert!(s.commands.is_empty(), "no echo: {:?}", s.commands);
    let quiet = p.sync_changes(&cal, &s.sync_key, 50, options.clone()).await;
    assert!(
        quiet.commands.is_empty(),
        "nor by the next Sync: {:?}",
        quiet.commands
    );
    let stored = dav.get("calendar/upstream-1.ics").await.unwrap();
    assert!(stored.contains("SUMMARY:Planning (moved)"), "{stored}");
    assert!(
        stored.contains("X-CUSTOM-THING:keep me"),
        "lossless: {stored}"
    );

    // Device creates an event, twice with the same ClientId: one object upstream.
    let add = || {
        Element::new(A::Add).text_child(A::ClientId, "c-1").child(
            Element::new(A::ApplicationData)
                .text_child(C::Subject, "Dentist")
                .text_child(C::StartTime, "20261210T140000Z")
                .text_child(C::EndTime, "20261210T150000Z")
                .text_child(C::AllDayEvent, "0")
                .text_child(C::BusyStatus, "2")
                .text_child(C::Sensitivity, "0")
                .text_child(C::MeetingStatus, "0"),
        )
    };
    let r1 = p
        .sync_one(collection(
            &cal,
            &s.sync_key,
            Some(50),
            Some(options.clone()),
            vec![add()],
        ))
        .await;
    let r2 = p
        .sync_one(collection(
            &cal,
            &s.sync_key,
            Some(50),
            Some(options.clone()),
            vec![add()],
        ))
        .await;
    assert_eq!(r1.add_result().0, "1");
    assert_eq!(r1.add_result(), r2.add_result());
    assert!(r2.commands.is_empty(), "{:?}", r2.commands);
    let objects = dav.all("calendar/").await;
    assert_eq!(
        objects
            .iter()
            .filter(|o| o.contains("SUMMARY:Dentist"))
            .count(),
        1,
        "{objects:?}"
    );

    // Upstream change reaches the device; device delete reaches upstream.
    dav.put(
        "calendar/upstream-1.ics",
        &EVENT.replace("SUMMARY:Planning", "SUMMARY:Planning v3"),
    )
    .await;
    let s3 = p
        .sync_changes(&cal, &r2.sync_key, 50, options.clone())
        .await;
    let Some(Cmd::Change(id, data)) = s3.commands.first() else {
        panic!("{:?}", s3.commands)
    };
    assert_eq!(id, event_id);
    assert_eq!(text(data, C::Subject), "Planning v3");
    let delete = Element::new(A::Delete).text_child(A::ServerId, event_id.clone());
    let s4 = p
        .sync_one(collection(
            &cal,
            &s3.sync_key,
            Some(50),
            Some(options.clone()),
            vec![delete],
        ))
        .await;
    assert_eq!(s4.status, "1");
    assert!(
        dav.get("calendar/upstream-1.ics").await.is_none(),
        "deleted upstream"
    );
}

#[tokio::test]
async fn tasks_both_ways() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("tasks");
    let dav = Dav::new(stack, &user, &pw);
    dav.put("tasks/t1.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:t1@test\r\nDTSTAMP:20261120T100000Z\r\nSUMMARY:Buy milk\r\nPRIORITY:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n").await;
    let server = Server::start(stack);
    let p = server.phone(stack, &user, &pw, "TASK1").await;
    let a = p.folder_sync("0").await;
    let (_, _, folders, _, _) = folder_changes(a.body.as_ref().unwrap());
    let tasks = folders
        .iter()
        .find(|f| f.kind == 7)
        .expect("Tasks")
        .server_id
        .clone();
    let (key, cmds) = p.sync_all(&tasks, 50, Element::new(A::Options)).await;
    let Some(Cmd::Add(_, data)) = cmds.iter().find(|c| matches!(c, Cmd::Add(..))) else {
        panic!("{cmds:?}")
    };
    assert_eq!(text(data, T::Subject), "Buy milk");
    assert_eq!(text(data, T::Importance), "2");
    let add = Element::new(A::Add).text_child(A::ClientId, "t-2").child(
        Element::new(A::ApplicationData)
            .text_child(T::Subject, "Call Bob")
            .text_child(T::Complete, "0")
            .text_child(T::Importance, "1"),
    );
    let s = p
        .sync_one(collection(
            &tasks,
            &key,
            Some(50),
            Some(Element::new(A::Options)),
            vec![add],
        ))
        .await;
    assert_eq!(
        s.responses
            .iter()
            .find(|r| r.tag == A::Add)
            .map(|r| text(r, A::Status))
            .as_deref(),
        Some("1")
    );
    let all = dav.all("tasks/").await;
    assert!(
        all.iter()
            .any(|o| o.contains("SUMMARY:Call Bob") && o.contains("VTODO")),
        "{all:?}"
    );

    // The device completes the task it created and deletes the upstream one.
    let (_, bob) = s.add_result();
    let milk = cmds
        .iter()
        .find_map(|c| match c {
            Cmd::Add(id, d) if text(d, T::Subject) == "Buy milk" => Some(id.clone()),
            _ => None,
        })
        .unwrap();
    let change = Element::new(A::Change).text_child(A::ServerId, bob).child(
        Element::new(A::ApplicationData)
            .text_child(T::Subject, "Call Bob")
            .text_child(T::Complete, "1")
            .text_child(T::DateCompleted, "2026-11-21T10:00:00.000Z")
            .text_child(T::Importance, "1"),
    );
    let delete = Element::new(A::Delete).text_child(A::ServerId, milk);
    let s2 = p
        .sync_one(collection(
            &tasks,
            &s.sync_key,
            Some(50),
            Some(Element::new(A::Options)),
            vec![change, delete],
        ))
        .await;
    assert_eq!(s2.status, "1");
    assert!(s2.responses.is_empty(), "{:?}", s2.responses);
    assert!(dav.get("tasks/t1.ics").await.is_none(), "deleted upstream");
    let all = dav.all("tasks/").await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].contains("STATUS:COMPLETED"), "{}", all[0]);
}

#[tokio::test]
async fn calendar_folders_created_renamed_deleted_from_the_device() {
    use airsync::wbxml::pages::FolderHierarchy as F;
    let stack = Stack::get();
    let (user, pw) = stack.new_user("calfolders");
    let server = Server::start(stack);
    let p = server.phone(stack, &user, &pw, "CALF1").await;
    let a = p.folder_sync("0").await;
    let (_, key, _, _, _) = folder_changes(a.body.as_ref().unwrap());
    let create = Element::new(F::FolderCreate)
        .text_child(F::SyncKey, key.clone())
        .text_child(F::ParentId, "0")
        .text_child(F::DisplayName, "Holidays")
        .text_child(F::Type, "13");
    let a = p.post("FolderCreate", &create).await;
    let body = a.body.unwrap();
    assert_eq!(
        text(&body, F::Status),
        "1",
        "{}",
        airsync::wbxml::to_xml(&body)
    );
    let id = text(&body, F::ServerId);
    let key2 = text(&body, F::SyncKey);
    // The next incremental FolderSync does not announce it again.
    let (_, _, adds, _, _) = folder_changes(p.folder_sync(&key2).await.body.as_ref().unwrap());
    assert!(adds.is_empty(), "{adds:?}");
    // Two calendars are two folders; the new one is a user calendar (13).
    let (_, key2, all, _, _) = folder_changes(p.folder_sync("0").await.body.as_ref().unwrap());
    let holidays = all
        .iter()
        .find(|f| f.server_id == id)
        .expect("the new calendar");
    assert_eq!((holidays.name.as_str(), holidays.kind), ("Holidays", 13));
    assert!(all.iter().any(|f| f.kind == 8), "{all:?}");

    let rename = Element::new(F::FolderUpdate)
        .text_child(F::SyncKey, key2.clone())
        .text_child(F::ServerId, id.clone())
        .text_child(F::ParentId, "0")
        .text_child(F::DisplayName, "Vacation");
    let a = p.post("FolderUpdate", &rename).await;
    let body = a.body.unwrap();
    assert_eq!(text(&body, F::Status), "1");
    let (_, key3, all, _, _) = folder_changes(p.folder_sync("0").await.body.as_ref().unwrap());
    assert_eq!(
        all.iter()
            .find(|f| f.server_id == id)
            .map(|f| f.name.as_str()),
        Some("Vacation"),
        "same id after a rename"
    );

    // The default calendar is special: it cannot be deleted.
    let default = all.iter().find(|f| f.kind == 8).unwrap().server_id.clone();
    let del = |sid: &str, key: &str| {
        Element::new(F::FolderDelete)
            .text_child(F::SyncKey, key)
            .text_child(F::ServerId, sid)
    };
    let a = p.post("FolderDelete", &del(&default, &key3)).await;
    assert_eq!(text(a.body.as_ref().unwrap(), F::Status), "3");
    let a = p.post("FolderDelete", &del(&id, &key3)).await;
    assert_eq!(text(a.body.as_ref().unwrap(), F::Status), "1");
    let (_, _, all, _, _) = folder_changes(p.folder_sync("0").await.body.as_ref().unwrap());
    assert!(all.iter().all(|f| f.server_id != id), "{all:?}");
}

#[tokio::test]
async fn contacts_with_photo_both_ways() {
    use airsync::wbxml::pages::Contacts as K;
    let stack = Stack::get();
    let (user, pw) = stack.new_user("contacts");
    let dav = Dav::new(stack, &user, &pw);
    // A 1x1 PNG as the photo, and a property EAS has no twin for.
    let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1@test\r\nFN:Erika Mustermann\r\nN:Mustermann;Erika;;;\r\n\
EMAIL;TYPE=INTERNET:erika@example.org\r\nTEL;TYPE=CELL:+49 170 1234567\r\nX-SOCIALPROFILE;TYPE=mastodon:https://example.social/@erika\r\n\
PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\nEND:VCARD\r\n";
    dav.put_as("contacts/c1.vcf", vcard, "text/vcard; charset=utf-8")
        .await;
    let server = Server::start(stack);
    let p = server.phone(stack, &user, &pw, "CONTACT1").await;
    let a = p.folder_sync("0").await;
    let (_, _, folders, _, _) = folder_changes(a.body.as_ref().unwrap());
    let contacts = folders
        .iter()
        .find(|f| f.kind == 9)
        .expect("Contacts (9)")
        .server_id
        .clone();
    let (key, cmds) = p.sync_all(&contacts, 50, Element::new(A::Options)).await;
    let Some(Cmd::Add(id, data)) = cmds.first() else {
        panic!("{cmds:?}")
    };
    assert_eq!(text(data, K::FirstName), "Erika");
    assert_eq!(text(data, K::LastName), "Mustermann");
    assert_eq!(text(data, K::Email1Address), "erika@example.org");
    assert_eq!(text(data, K::MobilePhoneNumber), "+49 170 1234567");
    assert!(!text(data, K::Picture).is_empty(), "the photo");
    // The phone edits the mobile number: the social profile survives upstream.
    let change = Element::new(A::Change)
        .text_child(A::ServerId, id.clone())
        .child({
            let mut d = data.clone();
            d.children.retain(
                |n| !matches!(n, airsync::wbxml::Node::Element(e) if e.tag == K::MobilePhoneNumber),
            );
            d.push(Element::with_text(K::MobilePhoneNumber, "+49 171 7654321"));
            d
        });
    let s = p
        .sync_one(collection(
            &contacts,
            &key,
            Some(50),
            Some(Element::new(A::Options)),
            vec![change],
        ))
        .await;
    assert_eq!(s.status, "1");
    let stored = dav.get("contacts/c1.vcf").await.unwrap();
    assert!(stored.contains("+49 171 7654321"), "{stored}");
    assert!(stored.contains("X-SOCIALPROFILE"), "lossless: {stored}");
    // A contact created on the phone reaches CardDAV.
    let add = Element::new(A::Add).text_child(A::ClientId, "k1").child(
        Element::new(A::ApplicationData)
            .text_child(K::FirstName, "Max")
            .text_child(K::LastName, "Muster")
            .text_child(K::Email1Address, "max@example.org"),
    );
    let s2 = p
        .sync_one(collection(
            &contacts,
            &s.sync_key,
            Some(50),
            Some(Element::new(A::Options)),
            vec![add],
        ))
        .await;
    assert_eq!(
        s2.responses
            .iter()
            .find(|r| r.tag == A::Add)
            .map(|r| text(r, A::Status))
            .as_deref(),
        Some("1")
    );
    let all = dav.all("contacts/").await;
    assert!(all.iter().any(|c| c.contains("max@example.org")), "{all:?}");
    // The phone deletes the upstream contact.
    let delete = Element::new(A::Delete).text_child(A::ServerId, id.clone());
    let s3 = p
        .sync_one(collection(
            &contacts,
            &s2.sync_key,
            Some(50),
            Some(Element::new(A::Options)),
            vec![delete],
        ))
        .await;
    assert_eq!(s3.status, "1");
    assert!(
        dav.get("contacts/c1.vcf").await.is_none(),
        "deleted upstream"
    );
}

#[tokio::test]
async fn calendar_survives_a_crash_between_syncs() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("calcrash");
    let dav = Dav::new(stack, &user, &pw);
    for i in 0..12 {
        dav.put(
            &format!("calendar/e{i}.ics"),
            &EVENT
                .replace("upstream-1@test", &format!("e{i}@test"))
                .replace("SUMMARY:Planning", &format!("SUMMARY:Event {i}")),
        )
        .await;
    }
    let mut server = Server::start(stack);
    let mut p = server.phone(stack, &user, &pw, "CALCRASH").await;
    let a = p.folder_sync("0").await;
    let (_, _, folders, _, _) = folder_changes(a.body.as_ref().unwrap());
    let cal = folders
        .iter()
        .find(|f| f.kind == 8)
        .unwrap()
        .server_id
        .clone();
    let options = Element::new(A::Options).text_child(A::FilterType, "0");
    let mut key = p
        .sync_one(collection(&cal, "0", None, Some(options.clone()), vec![]))
        .await
        .sync_key;
    let first = p.sync_changes(&cal, &key, 5, options.clone()).await;
    // The same key again (a lost answer): the same ServerIds.
    let again = p.sync_changes(&cal, &key, 5, options.clone()).await;
    assert_eq!(first.add_ids(), again.add_ids());
    let mut seen = first.add_ids();
    key = first.sync_key;
    let dir = server.dir.clone();
    server.kill();
    let server = Server::start_in(stack, &dir, "");
    p.base_url = server.base_url.clone();
    loop {
        let s = p.sync_changes(&cal, &key, 5, options.clone()).await;
        assert_eq!(s.status, "1");
        seen.extend(s.add_ids());
        key = s.sync_key;
        if !s.more_available {
            break;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (unique.len(), seen.len()),
        (12, 12),
        "every event exactly once"
    );
}

/// A weekly series (Mondays 09:00 Berlin, six times) whose second occurrence is deleted
/// (EXDATE) and whose third is moved to 11:00 (a RECURRENCE-ID override), plus a
/// property EAS does not know.
const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:series-1@test\r\nDTSTAMP:20261120T100000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261207T090000\r\nDTEND;TZID=Europe/Berlin:20261207T100000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\nEXDATE;TZID=Europe/Berlin:20261214T090000\r\n\
SUMMARY:Standup\r\nX-CUSTOM-THING:keep me\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:series-1@test\r\nDTSTAMP:20261120T100000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20261221T090000\r\n\
DTSTART;TZID=Europe/Berlin:20261221T110000\r\nDTEND;TZID=Europe/Berlin:20261221T120000\r\n\
SUMMARY:Standup moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// The series and an all-day event upstream, the device's calendar synced whole:
/// (phone, calendar id, SyncKey, series ServerId, series data, all-day data).
async fn series_on_a_phone(
    stack: &'static Stack,
    server: &Server,
    prefix: &str,
    version: &str,
) -> (
    common::eas::Phone,
    Dav,
    String,
    String,
    String,
    Element,
    Element,
) {
    let (user, pw) = stack.new_user(prefix);
    let dav = Dav::new(stack, &user, &pw);
    dav.put("calendar/series.ics", SERIES).await;
    dav.put("calendar/allday.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n\
UID:allday@test\r\nDTSTAMP:20261120T100000Z\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\n\
SUMMARY:Christmas Eve\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").await;
    let mut p = server.phone(stack, &user, &pw, prefix).await;
    p.version = version.into();
    let cal = p.folder_id(8).await;
    let options = Element::new(A::Options).text_child(A::FilterType, "0");
    let (key, cmds) = p.sync_all(&cal, 50, options).await;
    let find = |subject: &str| {
        cmds.iter()
            .find_map(|c| match c {
                Cmd::Add(id, d) if text(d, C::Subject) == subject => Some((id.clone(), d.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no Add of {subject:?}: {cmds:?}"))
    };
    let (series_id, series) = find("Standup");
    let (_, allday) = find("Christmas Eve");
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    (p, dav, cal, key, series_id, series, allday)
}

/// The Recurrence and Exceptions of the series as the device sees them; `instance` is
/// the tag that names an occurrence (ExceptionStartTime before 16.0, InstanceId after).
fn assert_series(data: &Element, instance: airsync::wbxml::Tag) {
    assert_eq!(text(data, C::StartTime), "20261207T080000Z");
    assert_eq!(text(data, C::EndTime), "20261207T090000Z");
    let r = data.first(C::Recurrence).expect("a Recurrence");
    assert_eq!(text(r, C::Type), "1", "weekly");
    assert_eq!(text(r, C::DayOfWeek), "2", "Mondays");
    assert_eq!(text(r, C::Occurrences), "6");
    let exs: Vec<&Element> = data
        .first(C::Exceptions)
        .expect("Exceptions")
        .all(C::Exception)
        .collect();
    assert_eq!(exs.len(), 2, "one deleted, one moved: {exs:?}");
    let deleted = exs
        .iter()
        .find(|e| text(e, C::Deleted) == "1")
        .expect("the deleted occurrence");
    assert_eq!(text(deleted, instance), "20261214T080000Z");
    let moved = exs
        .iter()
        .find(|e| text(e, C::Deleted) != "1")
        .expect("the moved occurrence");
    assert_eq!(
        text(moved, instance),
        "20261221T080000Z",
        "its original time"
    );
    assert_eq!(
        text(moved, C::StartTime),
        "20261221T100000Z",
        "moved to 11:00"
    );
    assert_eq!(text(moved, C::EndTime), "20261221T110000Z");
    assert_eq!(text(moved, C::Subject), "Standup moved");
}

fn assert_all_day(data: &Element) {
    let t = |tag| {
        chrono::NaiveDateTime::parse_from_str(&text(data, tag), "%Y%m%dT%H%M%SZ")
            .unwrap_or_else(|e| panic!("{tag}: {e}"))
    };
    assert_eq!(text(data, C::AllDayEvent), "1");
    assert_eq!(t(C::EndTime) - t(C::StartTime), chrono::Duration::days(1));
}

/// Sends the device's edits of the series, checks what is upstream after them, and
/// that the next Sync does not echo the edit back.
async fn edit_series(
    p: &common::eas::Phone,
    dav: &Dav,
    cal: &str,
    key: &str,
    commands: Vec<Element>,
    wants: &[&str],
) {
    let options = Element::new(A::Options).text_child(A::FilterType, "0");
    let s = p
        .sync_one(collection(
            cal,
            key,
            Some(50),
            Some(options.clone()),
            commands,
        ))
        .await;
    assert_eq!(s.status, "1");
    assert!(s.responses.is_empty(), "no failure: {:?}", s.responses);
    let stored = dav
        .get("calendar/series.ics")
        .await
        .expect("the series stays")
        .replace("\r\n ", "");
    for want in wants {
        assert!(stored.contains(want), "{want} upstream:\n{stored}");
    }
    let quiet = p.sync_changes(cal, &s.sync_key, 50, options).await;
    assert!(quiet.commands.is_empty(), "no echo: {:?}", quiet.commands);
}

#[tokio::test]
async fn series_with_exceptions_both_ways_14() {
    let stack = Stack::get();
    let server = Server::start(stack);
    let (p, dav, cal, key, id, data, allday) =
        series_on_a_phone(stack, &server, "series14", "14.1").await;
    assert_series(&data, C::ExceptionStartTime);
    assert_all_day(&allday);

    // The device moves one more occurrence: the whole item with one more Exception.
    let mut changed = data.clone();
    for n in changed.children.iter_mut() {
        if let airsync::wbxml::Node::Element(e) = n
            && e.tag == C::Exceptions
        {
            e.push(
                Element::new(C::Exception)
                    .text_child(C::ExceptionStartTime, "20261228T080000Z")
                    .text_child(C::StartTime, "20261228T130000Z")
                    .text_child(C::EndTime, "20261228T140000Z")
                    .text_child(C::Subject, "Standup special"),
            );
        }
    }
    let change = Element::new(A::Change)
        .text_child(A::ServerId, id.clone())
        .child(changed);
    edit_series(
        &p,
        &dav,
        &cal,
        &key,
        vec![change],
        &[
            "RECURRENCE-ID;TZID=Europe/Berlin:20261228T090000",
            "DTSTART;TZID=Europe/Berlin:20261228T140000",
            "SUMMARY:Standup special",
            // what was there stays
            "RECURRENCE-ID;TZID=Europe/Berlin:20261221T090000",
            "SUMMARY:Standup moved",
            "EXDATE;TZID=Europe/Berlin:20261214T090000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
            "X-CUSTOM-THING:keep me",
        ],
    )
    .await;
}

#[tokio::test]
async fn series_with_exceptions_both_ways_16() {
    use airsync::wbxml::pages::AirSyncBase as B;
    let stack = Stack::get();
    let server = Server::start(stack);
    let (p, dav, cal, key, id, data, allday) =
        series_on_a_phone(stack, &server, "series16", "16.1").await;
    assert_series(&data, B::InstanceId);
    assert_all_day(&allday);

    // MS-ASCAL 2.2.2.22: a 16.x device changes one occurrence by its InstanceId ...
    let change = Element::new(A::Change)
        .text_child(A::ServerId, id.clone())
        .text_child(B::InstanceId, "20261228T080000Z")
        .child(
            Element::new(A::ApplicationData)
                .text_child(C::StartTime, "20261228T130000Z")
                .text_child(C::EndTime, "20261228T140000Z")
                .text_child(C::Subject, "Standup special"),
        );
    // ... and deletes one the same way.
    let delete = Element::new(A::Delete)
        .text_child(A::ServerId, id.clone())
        .text_child(B::InstanceId, "20270104T080000Z");
    edit_series(
        &p,
        &dav,
        &cal,
        &key,
        vec![change, delete],
        &[
            "RECURRENCE-ID;TZID=Europe/Berlin:20261228T090000",
            "DTSTART;TZID=Europe/Berlin:20261228T140000",
            "SUMMARY:Standup special",
            "EXDATE;TZID=Europe/Berlin:20270104T090000",
            "SUMMARY:Standup moved",
            "EXDATE;TZID=Europe/Berlin:20261214T090000",
            "X-CUSTOM-THING:keep me",
        ],
    )
    .await;
}

#[tokio::test]
async fn two_calendars_and_two_address_books_are_separate_folders() {
    use airsync::wbxml::pages::Contacts as K;
    let stack = Stack::get();
    let (user, pw) = stack.new_user("twoeach");
    let dav = Dav::new(stack, &user, &pw);
    dav.mkcalendar("work/", "Work", "VEVENT").await;
    dav.mkaddressbook("family/", "Family").await;
    for (path, summary) in [
        ("calendar/home.ics", "Home event"),
        ("work/job.ics", "Work meeting"),
    ] {
        dav.put(
            path,
            &EVENT
                .replace("upstream-1@test", path)
                .replace("SUMMARY:Planning", &format!("SUMMARY:{summary}")),
        )
        .await;
    }
    for (path, name) in [("contacts/a.vcf", "Anna"), ("family/m.vcf", "Mum")] {
        dav.put_as(
            path,
            &format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{path}\r\nFN:{name} Test\r\nN:Test;{name};;;\r\nEND:VCARD\r\n"),
            "text/vcard; charset=utf-8",
        )
        .await;
    }
    let server = Server::start(stack);
    let p = server.phone(stack, &user, &pw, "TWOEACH").await;
    let (_, _, folders, _, _) = folder_changes(p.folder_sync("0").await.body.as_ref().unwrap());
    let pick = |kinds: [u8; 2]| {
        let mut v: Vec<(u8, String, String)> = folders
            .iter()
            .filter(|f| kinds.contains(&f.kind))
            .map(|f| (f.kind, f.name.clone(), f.server_id.clone()))
            .collect();
        v.sort();
        v
    };
    // MS-ASCMD 2.2.3.186.3: one default folder of a kind (8, 9), the others user-created
    // ones (13, 14).
    let calendars = pick([8, 13]);
    let books = pick([9, 14]);
    assert_eq!(
        calendars.iter().map(|c| c.0).collect::<Vec<_>>(),
        [8, 13],
        "{folders:?}"
    );
    assert_eq!(
        books.iter().map(|c| c.0).collect::<Vec<_>>(),
        [9, 14],
        "{folders:?}"
    );
    let names = |v: &[(u8, String, String)]| {
        let mut n: Vec<String> = v.iter().map(|c| c.1.clone()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&calendars), ["Calendar", "Work"]);
    assert_eq!(names(&books), ["Contacts", "Family"]);

    let id_of =
        |v: &[(u8, String, String)], name: &str| v.iter().find(|c| c.1 == name).unwrap().2.clone();
    let options = Element::new(A::Options).text_child(A::FilterType, "0");
    for (folder, tag, want) in [
        (id_of(&calendars, "Calendar"), C::Subject, "Home event"),
        (id_of(&calendars, "Work"), C::Subject, "Work meeting"),
        (id_of(&books, "Contacts"), K::FirstName, "Anna"),
        (id_of(&books, "Family"), K::FirstName, "Mum"),
    ] {
        let (_, cmds) = p.sync_all(&folder, 50, options.clone()).await;
        let got: Vec<String> = cmds
            .iter()
            .filter_map(|c| match c {
                Cmd::Add(_, d) => Some(text(d, tag)),
                _ => None,
            })
            .collect();
        assert_eq!(got, [want], "folder {folder}");
    }

    // Items the device adds land in the collection of their folder.
    for (folder, upstream, other, data) in [
        (
            id_of(&calendars, "Work"),
            "work/",
            "calendar/",
            Element::new(A::ApplicationData)
                .text_child(C::Subject, "Added at work")
                .text_child(C::StartTime, "20261210T140000Z")
                .text_child(C::EndTime, "20261210T150000Z"),
        ),
        (
            id_of(&books, "Family"),
            "family/",
            "contacts/",
            Element::new(A::ApplicationData)
                .text_child(K::FirstName, "Added")
                .text_child(K::LastName, "Family"),
        ),
    ] {
        let key = p.sync_all(&folder, 50, options.clone()).await.0;
        let add = Element::new(A::Add)
            .text_child(A::ClientId, "n1")
            .child(data);
        let s = p
            .sync_one(collection(
                &folder,
                &key,
                Some(50),
                Some(options.clone()),
                vec![add],
            ))
            .await;
        assert_eq!(s.add_result().0, "1");
        let here = dav.all(upstream).await;
        assert!(
            here.iter().any(|o| o.contains("Added")),
            "{upstream}: {here:?}"
        );
        let there = dav.all(other).await;
        assert!(
            !there.iter().any(|o| o.contains("Added")),
            "{other}: {there:?}"
        );
    }
}
