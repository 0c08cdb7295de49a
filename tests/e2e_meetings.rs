//! Meetings end to end: an iMIP REQUEST delivered through the MTA reaches the
//! attendee's device as a meeting request; MeetingResponse files the event in the
//! attendee's calendar and airsync sends the iTIP REPLY when RSVP was asked; the
//! organizer's event learns the answer when the REPLY is synced.

mod common;

use std::time::Duration;

use airsync::wbxml::Element;
use airsync::wbxml::pages::{Calendar as Cal, ComposeMail as C, Email as E, MeetingResponse as M};
use common::Stack;
use common::airsync::Server;
use common::dav::Dav;
use common::eas::{Cmd, Phone, body_text, collection, https_client, mail_options, ping_doc};
use common::imap::rand_id;

async fn phone(server: &Server, stack: &Stack, user: &str, password: &str) -> Phone {
    let mut p = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        user,
        password,
        &format!("MEET{}", rand_id()),
    );
    p.provision().await;
    p
}

fn text(e: &Element, t: airsync::wbxml::Tag) -> String {
    e.child_text(t).map(|s| s.into_owned()).unwrap_or_default()
}

fn event(
    uid: &str,
    summary: &str,
    organizer: &str,
    attendee: &str,
    rsvp: bool,
    method: Option<&str>,
) -> String {
    let method = method
        .map(|m| format!("METHOD:{m}\r\n"))
        .unwrap_or_default();
    let rsvp = if rsvp { ";RSVP=TRUE" } else { "" };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{method}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T090000Z\r\n\
         SEQUENCE:0\r\nDTSTART;TZID=Europe/Berlin:20261126T100000\r\nDTEND;TZID=Europe/Berlin:20261126T113000\r\n\
         SUMMARY:{summary}\r\nORGANIZER;CN=Organizer:mailto:{organizer}\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:{organizer}\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION{rsvp}:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn imip(from: &str, to: &str, summary: &str, ics: &str) -> Vec<u8> {
    itip_mail(from, to, &format!("Invitation: {summary}"), "REQUEST", ics)
}

/// An iMIP message (RFC 6047): a short text and the text/calendar part with `method`.
fn itip_mail(from: &str, to: &str, subject: &str, method: &str, ics: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nA calendar message.\r\n\
         --b\r\nContent-Type: text/calendar; charset=utf-8; method={method}\r\n\r\n{ics}\r\n--b--\r\n",
        rand_id()
    )
    .into_bytes()
}

/// An attendee's iTIP REPLY to the meeting `uid` of [`event`].
fn reply_ics(uid: &str, organizer: &str, attendee: &str, partstat: &str, stamp: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:{stamp}\r\nSEQUENCE:0\r\nDTSTART;TZID=Europe/Berlin:20261126T100000\r\n\
         ORGANIZER:mailto:{organizer}\r\nATTENDEE;PARTSTAT={partstat}:mailto:{attendee}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// The PARTSTAT of `who` in an iCalendar text.
fn partstat_of(ics: &str, who: &str) -> String {
    let unfolded = ics.replace("\r\n", "\n").replace("\n ", "");
    let line = unfolded
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.contains(&format!("mailto:{who}")))
        .unwrap_or_default();
    line.split(';')
        .find_map(|p| p.strip_prefix("PARTSTAT="))
        .map(|p| p.split(':').next().unwrap_or(p).to_string())
        .unwrap_or_default()
}

async fn respond(p: &Phone, inbox: &str, request_id: &str, answer: u8) -> Element {
    let doc = Element::new(M::MeetingResponse).child(
        Element::new(M::Request)
            .text_child(M::UserResponse, answer.to_string())
            .text_child(M::CollectionId, inbox)
            .text_child(M::RequestId, request_id),
    );
    let a = p.post("MeetingResponse", &doc).await;
    assert_eq!(a.status, 200);
    a.body.unwrap().first(M::Result).cloned().expect("Result")
}

#[tokio::test]
async fn invitation_answers_reach_the_calendars_and_the_organizer() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("org-alice");
    let (bob, bob_pw) = stack.new_user("att-bob");
    let server = Server::start(stack);
    let tag = rand_id();
    let (acc, dec, ten, quiet) = (
        format!("acc-{tag}"),
        format!("dec-{tag}"),
        format!("ten-{tag}"),
        format!("quiet-{tag}"),
    );

    // Alice's own copy of the accepted meeting, as her calendar client would keep it.
    let alice_dav = Dav::new(stack, &alice, &alice_pw);
    alice_dav
        .put(
            "calendar/meeting.ics",
            &event(&acc, &acc, &alice, &bob, true, None),
        )
        .await;

    for (uid, rsvp) in [(&acc, true), (&dec, true), (&ten, true), (&quiet, false)] {
        let ics = event(uid, uid, &alice, &bob, rsvp, Some("REQUEST"));
        stack.deliver(&alice, &bob, &imip(&alice, &bob, uid, &ics));
    }
    stack.wait_for_messages(&bob, "INBOX", &["ALL"], 4, Duration::from_secs(20));

    let pb = phone(&server, stack, &bob, &bob_pw).await;
    let inbox = pb.folder_id(2).await;
    let (_, cmds) = pb.sync_all(&inbox, 50, mail_options(1, None)).await;
    let mut ids = std::collections::HashMap::new();
    for c in &cmds {
        let Cmd::Add(id, data) = c else { continue };
        assert_eq!(text(data, E::MessageClass), "IPM.Schedule.Meeting.Request");
        let m = data.first(E::MeetingRequest).expect("MeetingRequest");
        // 10:00-11:30 in Berlin (CET in November) is 09:00-10:30 UTC, UTC+1.
        assert_eq!(text(m, E::StartTime), "2026-11-26T09:00:00.000Z");
        assert_eq!(text(m, E::EndTime), "2026-11-26T10:30:00.000Z");
        let tz =
            airsync::mapping::timezone::EasTimeZone::from_base64(&text(m, E::TimeZone)).unwrap();
        assert_eq!(tz.standard_offset(), 60, "Berlin is UTC+1 in winter");
        assert!(!text(m, E::GlobalObjId).is_empty());
        let subject = text(data, E::Subject);
        let uid = subject.trim_start_matches("Invitation: ").to_string();
        assert_eq!(
            text(m, E::ResponseRequested),
            if uid == quiet { "0" } else { "1" },
            "{uid}"
        );
        ids.insert(uid, id.clone());
    }
    assert_eq!(ids.len(), 4);

    let r = respond(&pb, &inbox, &ids[&acc], 1).await;
    assert_eq!(text(&r, M::Status), "1");
    assert!(
        !text(&r, M::CalendarId).is_empty(),
        "an accepted meeting is in the calendar"
    );
    let r = respond(&pb, &inbox, &ids[&dec], 3).await;
    assert_eq!(text(&r, M::Status), "1");
    assert!(
        r.first(M::CalendarId).is_none(),
        "a declined meeting is not"
    );
    assert_eq!(
        text(&respond(&pb, &inbox, &ids[&ten], 2).await, M::Status),
        "1"
    );
    assert_eq!(
        text(&respond(&pb, &inbox, &ids[&quiet], 1).await, M::Status),
        "1"
    );
    // A forged RequestId is an invalid request, not someone else's meeting.
    assert_eq!(
        text(
            &respond(&pb, &inbox, &format!("{inbox}:999999"), 1).await,
            M::Status
        ),
        "2"
    );

    // Bob's calendar: accepted and tentative (and the no-RSVP one), not the declined one.
    let bob_dav = Dav::new(stack, &bob, &bob_pw);
    let objects = bob_dav.all("calendar/").await;
    let find = |uid: &str| {
        objects
            .iter()
            .find(|o| o.contains(&format!("UID:{uid}")))
            .cloned()
    };
    let accepted = find(&acc).expect("accepted event filed");
    assert!(
        accepted.contains("PARTSTAT=ACCEPTED") && !accepted.contains("METHOD"),
        "{accepted}"
    );
    assert!(
        find(&ten)
            .expect("tentative event filed")
            .contains("PARTSTAT=TENTATIVE")
    );
    assert!(find(&dec).is_none(), "declined events leave the calendar");
    assert!(find(&quiet).is_some());
    // The requests went to Deleted Items.
    assert!(stack.search(&bob, "INBOX", &["ALL"]).is_empty());
    assert_eq!(stack.search(&bob, "Trash", &["ALL"]).len(), 4);

    // Alice gets airsync's REPLYs for the three RSVP requests, none for the quiet one.
    let replies = stack.wait_for_messages(&alice, "INBOX", &["ALL"], 3, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        stack.search(&alice, "INBOX", &["ALL"]).len(),
        3,
        "no reply without RSVP"
    );
    assert_eq!(replies.len(), 3);
    for (verb, uid) in [("Accepted", &acc), ("Declined", &dec), ("Tentative", &ten)] {
        assert_eq!(
            stack
                .search(
                    &alice,
                    "INBOX",
                    &["HEADER", "Subject", &format!("{verb}: {uid}")]
                )
                .len(),
            1,
            "{verb}"
        );
    }
    assert!(
        stack
            .search(&alice, "INBOX", &["HEADER", "Subject", &quiet])
            .is_empty()
    );

    // Alice's device syncs her INBOX: the REPLY is applied to her event.
    let before = alice_dav.get("calendar/meeting.ics").await.unwrap();
    assert!(before.contains("PARTSTAT=NEEDS-ACTION"), "{before}");
    let pa = phone(&server, stack, &alice, &alice_pw).await;
    let alice_inbox = pa.folder_id(2).await;
    pa.sync_all(&alice_inbox, 50, mail_options(1, None)).await;
    let after = alice_dav.get("calendar/meeting.ics").await.unwrap();
    let bob_line = after
        .replace("\r\n ", "")
        .lines()
        .find(|l| l.contains(&format!("mailto:{bob}")))
        .unwrap_or_default()
        .to_string();
    assert!(bob_line.contains("PARTSTAT=ACCEPTED"), "{after}");

    // Alice's device sees her event with Bob as accepted (AttendeeStatus 3).
    let cal = pa.folder_id(8).await;
    let (_, cmds) = pa
        .sync_all(
            &cal,
            50,
            Element::new(airsync::wbxml::pages::AirSync::Options),
        )
        .await;
    let ev = cmds
        .iter()
        .find_map(|c| {
            if let Cmd::Add(_, d) = c {
                Some(d.clone())
            } else {
                None
            }
        })
        .expect("Alice's event");
    let status = ev.first(Cal::Attendees).and_then(|a| {
        a.all(Cal::Attendee)
            .find(|x| text(x, Cal::Email).eq_ignore_ascii_case(&bob))
            .map(|x| text(x, Cal::AttendeeStatus))
    });
    assert_eq!(status.as_deref(), Some("3"));
}

#[tokio::test]
async fn an_invitation_sent_from_the_phone_reaches_the_attendee_as_a_meeting_request() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("phone-org");
    let (bob, bob_pw) = stack.new_user("phone-att");
    let server = Server::start(stack);
    let uid = format!("phone-{}", rand_id());
    // What a phone sends for a meeting created with attendees: SendMail with a
    // text/calendar part.
    let ics = event(&uid, "Phone meeting", &alice, &bob, true, Some("REQUEST"));
    let mime = imip(&alice, &bob, "Phone meeting", &ics);
    let pa = phone(&server, stack, &alice, &alice_pw).await;
    let doc = Element::new(C::SendMail)
        .text_child(C::ClientId, uid.clone())
        .child(Element::with_opaque(C::Mime, mime));
    let a = pa.post("SendMail", &doc).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());
    stack.wait_for_messages(&bob, "INBOX", &["ALL"], 1, Duration::from_secs(20));
    let pb = phone(&server, stack, &bob, &bob_pw).await;
    let inbox = pb.folder_id(2).await;
    let (_, cmds) = pb.sync_all(&inbox, 50, mail_options(1, None)).await;
    let Some(Cmd::Add(_, data)) = cmds.first() else {
        panic!("{cmds:?}")
    };
    assert_eq!(text(data, E::MessageClass), "IPM.Schedule.Meeting.Request");
    assert_eq!(
        text(data.first(E::MeetingRequest).unwrap(), E::StartTime),
        "2026-11-26T09:00:00.000Z"
    );
}

/// The object at `path` once `who` has `partstat` in it, or after 15 s as it is then.
async fn until_partstat(dav: &Dav, path: &str, who: &str, partstat: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = dav.get(path).await.unwrap();
        if partstat_of(&now, who) == partstat || std::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_reply_reaches_the_organizers_calendar_while_her_device_only_waits() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("push-org");
    let (bob, _) = stack.new_user("push-bob");
    let (carol, _) = stack.new_user("push-carol");
    let server = Server::start_in(
        stack,
        &tempfile::Builder::new()
            .prefix("airsync-meet-")
            .tempdir()
            .unwrap()
            .keep(),
        "[push]\nmin_heartbeat_secs = 1\ndav_poll_secs = 1\n",
    );
    let uid = format!("push-{}", rand_id());
    let alice_dav = Dav::new(stack, &alice, &alice_pw);
    let with_carol = event(&uid, "Push meeting", &alice, &bob, true, None).replace(
        "END:VEVENT",
        &format!("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{carol}\r\nEND:VEVENT"),
    );
    alice_dav.put("calendar/push.ics", &with_carol).await;

    let pa = phone(&server, stack, &alice, &alice_pw).await;
    let inbox = pa.folder_id(2).await;
    let calendar = pa.folder_id(8).await;
    // The device is in step with both folders, as a phone is before it Pings.
    let (_, before) = pa.sync_all(&inbox, 50, mail_options(1, None)).await;
    assert!(before.is_empty());
    pa.sync_all(
        &calendar,
        50,
        Element::new(airsync::wbxml::pages::AirSync::Options),
    )
    .await;
    let ping = ping_doc(
        Some(120),
        &[(inbox.as_str(), "Email"), (calendar.as_str(), "Calendar")],
    );

    // Alice's device waits in a Ping; Bob's REPLY arrives through the MTA; her event
    // shows his answer while the device never syncs INBOX.
    let waiting = pa.post("Ping", &ping);
    let arrive = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let accepted = reply_ics(&uid, &alice, &bob, "ACCEPTED", "20261102T100000Z");
        let (a, b) = (alice.clone(), bob.clone());
        tokio::task::spawn_blocking(move || {
            stack.deliver(&b, &a, &itip_mail(&b, &a, "Accepted", "REPLY", &accepted))
        })
        .await
        .unwrap();
        until_partstat(&alice_dav, "calendar/push.ics", &bob, "ACCEPTED").await
    };
    let (pinged, after) = tokio::join!(waiting, arrive);
    assert_eq!(partstat_of(&after, &bob), "ACCEPTED", "{after}");
    assert!(
        pinged.xml().contains("<Status>2</Status>"),
        "the Ping saw the change: {}",
        pinged.xml()
    );

    // A REPLY that arrives late with an older DTSTAMP does not overwrite Bob's answer;
    // Carol's newer one, delivered after it, shows that the watcher has looked at both.
    let waiting = pa.post("Ping", &ping);
    let arrive = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let stale = reply_ics(&uid, &alice, &bob, "DECLINED", "20261102T090000Z");
        let carols = reply_ics(&uid, &alice, &carol, "TENTATIVE", "20261102T110000Z");
        let (a, b, c) = (alice.clone(), bob.clone(), carol.clone());
        tokio::task::spawn_blocking(move || {
            stack.deliver(&b, &a, &itip_mail(&b, &a, "Declined", "REPLY", &stale));
            stack.deliver(&c, &a, &itip_mail(&c, &a, "Tentative", "REPLY", &carols));
        })
        .await
        .unwrap();
        until_partstat(&alice_dav, "calendar/push.ics", &carol, "TENTATIVE").await
    };
    let (_, after) = tokio::join!(waiting, arrive);
    assert_eq!(partstat_of(&after, &carol), "TENTATIVE", "{after}");
    assert_eq!(
        partstat_of(&after, &bob),
        "ACCEPTED",
        "a stale REPLY lost: {after}"
    );

    // Now the device syncs INBOX: Sync sees the three REPLYs again and applies none of
    // them a second time.
    stack.wait_for_messages(&alice, "INBOX", &["ALL"], 3, Duration::from_secs(20));
    let (_, cmds) = pa.sync_all(&inbox, 50, mail_options(1, None)).await;
    assert_eq!(cmds.len(), 3);
    let final_copy = alice_dav.get("calendar/push.ics").await.unwrap();
    assert_eq!(final_copy, after, "nothing was written again");
    let applied = server
        .log()
        .lines()
        .filter(|l| l.contains("meeting reply applied") && l.contains(&uid))
        .count();
    assert_eq!(applied, 2, "Bob's and Carol's replies, each once");
}

/// A device's Sync of a calendar: (ServerId, ApplicationData) of every item.
async fn calendar_items(p: &Phone) -> (String, Vec<(String, Element)>) {
    let cal = p.folder_id(8).await;
    let (_, cmds) = p
        .sync_all(
            &cal,
            50,
            Element::new(airsync::wbxml::pages::AirSync::Options),
        )
        .await;
    let items = cmds
        .into_iter()
        .filter_map(|c| match c {
            Cmd::Add(id, d) => Some((id, d)),
            _ => None,
        })
        .collect();
    (cal, items)
}

fn smart(command: airsync::wbxml::Tag, client_id: &str, source: Element, mime: String) -> Element {
    Element::new(command)
        .text_child(C::ClientId, client_id)
        .child(Element::new(C::SaveInSentItems))
        .child(source)
        .child(Element::with_opaque(C::Mime, mime.into_bytes()))
}

#[tokio::test]
async fn forwarding_one_occurrence_of_a_meeting_sends_a_meeting_request_for_it() {
    let stack = Stack::get();
    let (bob, bob_pw) = stack.new_user("fwd-org");
    let (alice, alice_pw) = stack.new_user("fwd-alice");
    let (carol, carol_pw) = stack.new_user("fwd-carol");
    let server = Server::start(stack);
    let uid = format!("weekly-{}", rand_id());
    // Bob organizes a weekly meeting, six Mondays from 2 November 2026, 10:00 Berlin.
    let series = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20261020T090000Z\r\nSEQUENCE:0\r\nDTSTART;TZID=Europe/Berlin:20261102T100000\r\n\
         DTEND;TZID=Europe/Berlin:20261102T110000\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\n\
         SUMMARY:Weekly sync\r\nLOCATION:Room 7\r\nDESCRIPTION:Agenda: the numbers\r\n\
         ORGANIZER;CN=Bob:mailto:{bob}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{alice}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    Dav::new(stack, &bob, &bob_pw)
        .put("calendar/weekly.ics", &series)
        .await;
    let pb = phone(&server, stack, &bob, &bob_pw).await;
    let (cal, items) = calendar_items(&pb).await;
    assert_eq!(items.len(), 1);
    let item = items[0].0.clone();
    let inbox = pb.folder_id(2).await;
    let source = |folder: &str, item: &str, instance: Option<&str>| {
        let mut s = Element::new(C::Source)
            .text_child(C::FolderId, folder)
            .text_child(C::ItemId, item);
        if let Some(i) = instance {
            s = s.text_child(C::InstanceId, i);
        }
        s
    };
    let mime = |to: &str, subject: &str, text: &str| {
        format!(
            "From: {bob}\r\nTo: {to}\r\nSubject: {subject}\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        )
    };
    // The third Monday, 16 November: 10:00 Berlin (CET) is 09:00 UTC.
    let third = "2026-11-16T09:00:00.000Z";

    // Ids the account does not have, or an instant that is no occurrence: Status 150,
    // and nothing is sent.
    let marker = rand_id();
    for (n, bad) in [
        source(&cal, &format!("{cal}:999999"), None),
        source(&cal, &item, Some("2026-11-16T10:00:00.000Z")),
        source(&cal, &item, Some("2026-12-14T09:00:00.000Z")),
        source(&inbox, &item, Some(third)),
        source("99999", "99999:1", None),
    ]
    .into_iter()
    .enumerate()
    {
        let doc = smart(
            C::SmartForward,
            &format!("bad-{n}"),
            bad,
            mime(&carol, &format!("bad {marker}"), "x"),
        );
        let a = pb.post("SmartForward", &doc).await;
        assert!(a.xml().contains("<Status>150</Status>"), "{n}: {}", a.xml());
    }

    // Bob forwards the third occurrence to Carol.
    let doc = smart(
        C::SmartForward,
        "fwd-1",
        source(&cal, &item, Some(third)),
        mime(&carol, "FW: Weekly sync", "Join us that week."),
    );
    let a = pb.post("SmartForward", &doc).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());
    // And replies about the series to Alice.
    let doc = smart(
        C::SmartReply,
        "re-1",
        source(&cal, &item, None),
        mime(&alice, "RE: Weekly sync", "Can we move it?"),
    );
    let a = pb.post("SmartReply", &doc).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());

    // Carol's device: a meeting request for that occurrence only.
    stack.wait_for_messages(&carol, "INBOX", &["ALL"], 1, Duration::from_secs(20));
    let pc = phone(&server, stack, &carol, &carol_pw).await;
    let carol_inbox = pc.folder_id(2).await;
    let (_, cmds) = pc.sync_all(&carol_inbox, 50, mail_options(1, None)).await;
    assert_eq!(cmds.len(), 1, "only the good forward arrived: {cmds:?}");
    let Cmd::Add(request_id, data) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert_eq!(text(data, E::MessageClass), "IPM.Schedule.Meeting.Request");
    let m = data.first(E::MeetingRequest).expect("MeetingRequest");
    assert_eq!(text(m, E::StartTime), third);
    assert_eq!(text(m, E::EndTime), "2026-11-16T10:00:00.000Z");
    assert_eq!(text(m, E::InstanceType), "3", "one occurrence");
    assert_eq!(text(m, E::RecurrenceId), third);
    assert!(m.first(E::Recurrences).is_none(), "not the series");
    assert_eq!(text(m, E::Organizer), format!("\"Bob\" <{bob}>"));
    assert_eq!(text(m, E::ResponseRequested), "1");
    let body = body_text(data);
    assert!(
        body.starts_with("Join us that week.")
            && body.contains("Where: Room 7")
            && body.contains("Agenda: the numbers"),
        "{body}"
    );

    // Carol accepts: the occurrence is in her calendar and Bob gets her REPLY for it.
    let r = respond(&pc, &carol_inbox, request_id, 1).await;
    assert_eq!(text(&r, M::Status), "1");
    let carol_events = Dav::new(stack, &carol, &carol_pw).all("calendar/").await;
    assert_eq!(carol_events.len(), 1);
    assert!(
        carol_events[0].contains("DTSTART;TZID=Europe/Berlin:20261116T100000")
            && !carol_events[0].contains("FREQ=WEEKLY")
            && partstat_of(&carol_events[0], &carol) == "ACCEPTED",
        "{}",
        carol_events[0]
    );
    let replies = stack.wait_for_messages(
        &bob,
        "INBOX",
        &["HEADER", "Subject", "Accepted: Weekly sync"],
        1,
        Duration::from_secs(20),
    );
    assert_eq!(replies.len(), 1);
    // Bob organizes: forwarding invited Carol to that occurrence in his own copy too
    // (an override of the series), so her REPLY counts once his device sees it.
    let bob_dav = Dav::new(stack, &bob, &bob_pw);
    let own = bob_dav.get("calendar/weekly.ics").await.unwrap();
    assert!(
        own.contains("RECURRENCE-ID;TZID=Europe/Berlin:20261116T100000")
            && own.contains("FREQ=WEEKLY;COUNT=6")
            && partstat_of(&own, &carol) == "NEEDS-ACTION",
        "{own}"
    );
    pb.sync_all(&inbox, 50, mail_options(1, None)).await;
    let own = bob_dav.get("calendar/weekly.ics").await.unwrap();
    assert_eq!(partstat_of(&own, &carol), "ACCEPTED", "{own}");

    // Alice gets a plain reply quoting the appointment, no meeting request.
    stack.wait_for_messages(&alice, "INBOX", &["ALL"], 1, Duration::from_secs(20));
    let pa = phone(&server, stack, &alice, &alice_pw).await;
    let alice_inbox = pa.folder_id(2).await;
    let (_, cmds) = pa.sync_all(&alice_inbox, 50, mail_options(1, None)).await;
    let Some(Cmd::Add(_, data)) = cmds.first() else {
        panic!("{cmds:?}")
    };
    assert_eq!(text(data, E::MessageClass), "IPM.Note");
    let body = body_text(data);
    assert!(
        body.starts_with("Can we move it?")
            && body.contains("> When: Monday, 2 November 2026 10:00-11:00 (UTC+01:00)")
            && body.contains("> Agenda: the numbers"),
        "{body}"
    );

    // Nothing of the refused attempts reached anyone.
    let (sink, _) = stack.sink();
    for (user, mailbox) in [(&carol, "INBOX"), (&sink, "INBOX"), (&bob, "Sent")] {
        assert!(
            stack
                .search(user, mailbox, &["HEADER", "Subject", &marker])
                .is_empty(),
            "{user}/{mailbox}"
        );
    }
    assert_eq!(stack.search(&bob, "Sent", &["ALL"]).len(), 2);
}

/// EAS 16.x (MS-ASCMD 2.2.3.169): a phone forwards a meeting naming the recipients in
/// Forwardees and its text in airsyncbase:Body, with no MIME message. The forwardee
/// gets a meeting request with that text, the organizer's own event invites them,
/// and the forward is kept in Sent.
#[tokio::test]
async fn forwarding_a_meeting_with_forwardees_and_no_mime() {
    use airsync::wbxml::pages::AirSyncBase as B;
    let stack = Stack::get();
    let (bob, bob_pw) = stack.new_user("fwdees-org");
    let (dave, dave_pw) = stack.new_user("fwdees-dave");
    let server = Server::start(stack);
    let uid = format!("review-{}", rand_id());
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20261020T090000Z\r\nSEQUENCE:0\r\nDTSTART:20261203T140000Z\r\n\
         DTEND:20261203T150000Z\r\nSUMMARY:Budget review\r\nLOCATION:Room 2\r\n\
         ORGANIZER;CN=Bob:mailto:{bob}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    Dav::new(stack, &bob, &bob_pw)
        .put("calendar/review.ics", &ics)
        .await;
    let pb = phone(&server, stack, &bob, &bob_pw).await;
    let (cal, items) = calendar_items(&pb).await;
    let doc = Element::new(C::SmartForward)
        .text_child(C::ClientId, "fwdees-1")
        .child(
            Element::new(C::Source)
                .text_child(C::FolderId, &cal)
                .text_child(C::ItemId, &items[0].0),
        )
        .child(
            Element::new(C::Forwardees).child(
                Element::new(C::Forwardee)
                    .text_child(C::ForwardeeName, "Dave Dee")
                    .text_child(C::ForwardeeEmail, &dave),
            ),
        )
        .child(
            Element::new(B::Body)
                .text_child(B::Type, "1")
                .text_child(B::Data, "Dave, please join us."),
        );
    let a = pb.post("SmartForward", &doc).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());

    stack.wait_for_messages(&dave, "INBOX", &["ALL"], 1, Duration::from_secs(20));
    let pd = phone(&server, stack, &dave, &dave_pw).await;
    let inbox = pd.folder_id(2).await;
    let (_, cmds) = pd.sync_all(&inbox, 50, mail_options(1, None)).await;
    let [Cmd::Add(_, data)] = &cmds[..] else {
        panic!("{cmds:?}")
    };
    assert_eq!(text(data, E::MessageClass), "IPM.Schedule.Meeting.Request");
    assert_eq!(text(data, E::Subject), "FW: Budget review");
    assert!(text(data, E::To).contains(&dave), "{}", text(data, E::To));
    let m = data.first(E::MeetingRequest).expect("MeetingRequest");
    assert_eq!(text(m, E::StartTime), "2026-12-03T14:00:00.000Z");
    let body = body_text(data);
    assert!(
        body.starts_with("Dave, please join us.") && body.contains("Where: Room 2"),
        "{body}"
    );
    let own = Dav::new(stack, &bob, &bob_pw)
        .get("calendar/review.ics")
        .await
        .unwrap();
    assert_eq!(partstat_of(&own, &dave), "NEEDS-ACTION", "{own}");
    assert_eq!(stack.search(&bob, "Sent", &["ALL"]).len(), 1);
}

/// What a phone sends for its meeting: the event data of a calendar Add or Change.
fn phone_meeting(uid: &str, organizer: &str, attendee: &str, start: &str, end: &str) -> Element {
    Element::new(airsync::wbxml::pages::AirSync::ApplicationData)
        .text_child(Cal::Subject, "Phone planning")
        .text_child(Cal::StartTime, start)
        .text_child(Cal::EndTime, end)
        .text_child(Cal::AllDayEvent, "0")
        .text_child(Cal::BusyStatus, "2")
        .text_child(Cal::Sensitivity, "0")
        .text_child(Cal::MeetingStatus, "1")
        .text_child(Cal::OrganizerEmail, organizer)
        .text_child(Cal::ClientUid, uid)
        .child(
            Element::new(Cal::Attendees).child(
                Element::new(Cal::Attendee)
                    .text_child(Cal::Email, attendee)
                    .text_child(Cal::Name, "Bob")
                    .text_child(Cal::AttendeeType, "1"),
            ),
        )
}

/// The iTIP REQUEST the phone mails for its meeting (what iOS and Android send).
fn phone_request(
    uid: &str,
    organizer: &str,
    attendee: &str,
    seq: u32,
    start: &str,
    end: &str,
) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:2026112{seq}T080000Z\r\nSEQUENCE:{seq}\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Phone planning\r\n\
         ORGANIZER:mailto:{organizer}\r\nATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// Bob's device answers the one meeting request in his INBOX; the StartTime it showed.
async fn accept_the_request(pb: &Phone) -> String {
    let inbox = pb.folder_id(2).await;
    let (_, cmds) = pb.sync_all(&inbox, 50, mail_options(1, None)).await;
    let adds: Vec<(String, Element)> = cmds
        .into_iter()
        .filter_map(|c| match c {
            Cmd::Add(id, d) => Some((id, d)),
            _ => None,
        })
        .collect();
    assert_eq!(adds.len(), 1, "{adds:?}");
    let (id, data) = &adds[0];
    assert_eq!(text(data, E::MessageClass), "IPM.Schedule.Meeting.Request");
    let start = text(data.first(E::MeetingRequest).unwrap(), E::StartTime);
    assert_eq!(text(&respond(pb, &inbox, id, 1).await, M::Status), "1");
    start
}

#[tokio::test]
async fn a_meeting_made_and_moved_on_the_phone_reaches_the_attendee_and_comes_back_answered() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("made-org");
    let (bob, bob_pw) = stack.new_user("made-att");
    let server = Server::start(stack);
    let uid = format!("made-{}", rand_id());
    let pa = phone(&server, stack, &alice, &alice_pw).await;
    let pb = phone(&server, stack, &bob, &bob_pw).await;
    let cal = pa.folder_id(8).await;
    let options = || Element::new(airsync::wbxml::pages::AirSync::Options);
    let first = pa.sync_one(collection(&cal, "0", None, None, vec![])).await;

    // 1. The phone files the meeting in Alice's calendar and mails the invitation.
    let (start, end) = ("20261203T090000Z", "20261203T100000Z");
    let add = Element::new(airsync::wbxml::pages::AirSync::Add)
        .text_child(airsync::wbxml::pages::AirSync::ClientId, "m-1")
        .child(phone_meeting(&uid, &alice, &bob, start, end));
    let added = pa
        .sync_one(collection(
            &cal,
            &first.sync_key,
            Some(50),
            Some(options()),
            vec![add],
        ))
        .await;
    let (status, server_id) = added.add_result();
    assert_eq!(status, "1");
    let send = |seq: u32, start: &str, end: &str| {
        let ics = phone_request(&uid, &alice, &bob, seq, start, end);
        Element::new(C::SendMail)
            .text_child(C::ClientId, format!("{uid}-{seq}"))
            .child(Element::new(C::SaveInSentItems))
            .child(Element::with_opaque(
                C::Mime,
                imip(&alice, &bob, "Phone planning", &ics),
            ))
    };
    let a = pa.post("SendMail", &send(0, start, end)).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());

    // 2. Bob's device sees the request at the right time and accepts; his answer comes
    // back to Alice and her event (the one her phone made) shows it.
    stack.wait_for_messages(&bob, "INBOX", &["ALL"], 1, Duration::from_secs(20));
    assert_eq!(accept_the_request(&pb).await, "2026-12-03T09:00:00.000Z");
    stack.wait_for_messages(&alice, "INBOX", &["ALL"], 1, Duration::from_secs(20));
    let alice_inbox = pa.folder_id(2).await;
    pa.sync_all(&alice_inbox, 50, mail_options(1, None)).await;
    let alice_dav = Dav::new(stack, &alice, &alice_pw);
    let mine = |all: Vec<String>| {
        all.into_iter()
            .find(|o| o.contains(&uid))
            .expect("the event")
    };
    let event = mine(alice_dav.all("calendar/").await);
    assert_eq!(partstat_of(&event, &bob), "ACCEPTED", "{event}");

    // 3. The phone learns Bob's answer, then moves the meeting to the afternoon and
    // mails the update.
    let learned = pa.sync_changes(&cal, &added.sync_key, 50, options()).await;
    let status = learned.commands.iter().find_map(|c| match c {
        Cmd::Change(_, d) => d
            .first(Cal::Attendees)
            .and_then(|a| a.first(Cal::Attendee).map(|x| text(x, Cal::AttendeeStatus))),
        _ => None,
    });
    assert_eq!(status.as_deref(), Some("3"), "{:?}", learned.commands);
    let (start, end) = ("20261203T130000Z", "20261203T140000Z");
    let change = Element::new(airsync::wbxml::pages::AirSync::Change)
        .text_child(airsync::wbxml::pages::AirSync::ServerId, server_id)
        .child(phone_meeting(&uid, &alice, &bob, start, end));
    let changed = pa
        .sync_one(collection(
            &cal,
            &learned.sync_key,
            Some(50),
            Some(options()),
            vec![change],
        ))
        .await;
    assert_eq!(changed.status, "1");
    let a = pa.post("SendMail", &send(1, start, end)).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());

    // 4. Bob's device sees the new time and accepts again: his calendar holds the
    // meeting once, at the new time; Alice's event has the new time and his answer.
    stack.wait_for_messages(
        &bob,
        "INBOX",
        &["HEADER", "Subject", "Phone planning"],
        1,
        Duration::from_secs(20),
    );
    assert_eq!(accept_the_request(&pb).await, "2026-12-03T13:00:00.000Z");
    let bobs: Vec<String> = Dav::new(stack, &bob, &bob_pw)
        .all("calendar/")
        .await
        .into_iter()
        .filter(|o| o.contains(&uid))
        .collect();
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    assert!(bobs[0].contains("DTSTART:20261203T130000Z"), "{}", bobs[0]);
    stack.wait_for_messages(&alice, "INBOX", &["ALL"], 2, Duration::from_secs(20));
    pa.sync_all(&alice_inbox, 50, mail_options(1, None)).await;
    let event = mine(alice_dav.all("calendar/").await);
    assert!(event.contains("DTSTART:20261203T130000Z"), "{event}");
    assert_eq!(partstat_of(&event, &bob), "ACCEPTED", "{event}");
}
