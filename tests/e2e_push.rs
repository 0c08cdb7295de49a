//! Push end to end against the real Dovecot, Postfix and Radicale: Ping and the hanging
//! Sync wake on a delivery or a calendar change, expire, refuse bad heartbeats, repeat
//! the last Ping, notice new folders, share one upstream watcher between devices, and
//! answer when superseded or when the server stops.

mod common;

use std::time::{Duration, Instant};

use airsync::wbxml::Element;
use airsync::wbxml::pages::{AirSync as A, Email as E};
use common::Stack;
use common::airsync::Server;
use common::eas::{
    Phone, clone_phone, collection, empty_ping, https_client, mail_options, parse_sync, ping,
    spawn_ping, sync_doc,
};

/// Short heartbeats and a 1 s DAV poll, so that every test is quick.
const PUSH: &str = "[push]\nmin_heartbeat_secs = 1\ndav_poll_secs = 1\n";

fn start(stack: &Stack, extra: &str) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("airsync-push-")
        .tempdir()
        .unwrap()
        .keep();
    Server::start_in(stack, &dir, extra)
}

async fn phone(server: &Server, stack: &Stack, user: &str, password: &str, device: &str) -> Phone {
    let mut p = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        user,
        password,
        device,
    );
    p.provision().await;
    p
}

fn message(to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@test>\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\n\r\nHello {subject}\r\n"
    )
    .into_bytes()
}

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:push-1@test\r\n\
DTSTAMP:20261120T100000Z\r\nDTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:Pushed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

async fn put_event(stack: &Stack, user: &str, password: &str, path: &str) {
    let url = format!(
        "http://127.0.0.1:{}/{}/{path}",
        stack.dav_port,
        user.replace('@', "%40")
    );
    let r = reqwest::Client::new()
        .put(url)
        .basic_auth(user, Some(password))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(EVENT)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PUT {path}: {}", r.status());
}

/// FolderSync 0, then the key of a full Sync of INBOX and of the calendar.
async fn prime(p: &Phone) -> (String, String, String, String) {
    let inbox = p.folder_id(2).await;
    let calendar = p.folder_id(8).await;
    let (inbox_key, _) = p.sync_all(&inbox, 100, mail_options(1, Some(1000))).await;
    let (cal_key, _) = p
        .sync_all(
            &calendar,
            100,
            Element::new(A::Options).text_child(A::FilterType, "0"),
        )
        .await;
    (inbox, inbox_key, calendar, cal_key)
}

fn watcher_logins(server: &Server, user: &str) -> usize {
    server
        .log()
        .lines()
        .filter(|l| l.contains("push: upstream watcher connected") && l.contains(user))
        .count()
}

#[tokio::test]
async fn ping_wakes_on_mail_and_calendar_expires_and_checks_its_request() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("ping");
    let server = start(stack, PUSH);
    let p = phone(&server, stack, &user, &pw, "PUSH1").await;
    let (inbox, mut inbox_key, calendar, cal_key) = prime(&p).await;
    let both = [(inbox.as_str(), "Email"), (calendar.as_str(), "Calendar")];

    // A delivery through the MTA ends the Ping with Status 2 naming INBOX only.
    let waiting = spawn_ping(&p, 60, &both);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "the Ping answered before anything changed"
    );
    stack.deliver("sender@example.org", &user, &message(&user, "first"));
    let r = waiting.await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.folders.clone()),
        ("2", vec![inbox.clone()]),
        "{r:?}"
    );
    assert!(r.took < Duration::from_secs(10), "{r:?}");
    let s = p
        .sync_changes(&inbox, &inbox_key, 100, mail_options(1, Some(1000)))
        .await;
    assert_eq!(s.adds().len(), 1);
    inbox_key = s.sync_key;

    // An event PUT to Radicale ends a Ping on the calendar within the poll interval.
    let waiting = spawn_ping(&p, 60, &both);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "the Ping answered before anything changed"
    );
    let put_at = Instant::now();
    put_event(stack, &user, &pw, "calendar/push-1.ics").await;
    let r = waiting.await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.folders.clone()),
        ("2", vec![calendar.clone()]),
        "{r:?}"
    );
    assert!(
        put_at.elapsed() < Duration::from_secs(4),
        "took {:?} after the PUT",
        put_at.elapsed()
    );
    let s = p
        .sync_one(collection(&calendar, &cal_key, Some(100), None, vec![]))
        .await;
    assert_eq!(s.adds().len(), 1, "the event reaches the device");

    // Nothing changes: Status 1 when the heartbeat expires, not before.
    let r = ping(&p, Some(2), &both).await;
    assert_eq!(r.status, "1", "{r:?}");
    assert!(
        r.took >= Duration::from_millis(1900) && r.took < Duration::from_secs(6),
        "{r:?}"
    );

    // The empty Ping repeats the last one (heartbeat 2, both folders).
    let r = empty_ping(&p).await;
    assert_eq!(r.status, "1", "{r:?}");
    assert!(r.took >= Duration::from_millis(1900), "{r:?}");

    // Out of range: Status 5 with the bound.
    let r = ping(&p, Some(5000), &both).await;
    assert_eq!(
        (r.status.as_str(), r.heartbeat.as_deref()),
        ("5", Some("3540")),
        "{r:?}"
    );
    let r = ping(&p, Some(0), &both).await;
    assert_eq!(
        (r.status.as_str(), r.heartbeat.as_deref()),
        ("5", Some("1")),
        "{r:?}"
    );

    // A delivery between the last Sync and the Ping: answered at once.
    stack.deliver("sender@example.org", &user, &message(&user, "between"));
    stack.wait_for_messages(&user, "INBOX", &["ALL"], 2, Duration::from_secs(10));
    let r = ping(&p, Some(60), &both).await;
    assert_eq!(
        (r.status.as_str(), r.folders.clone()),
        ("2", vec![inbox.clone()]),
        "{r:?}"
    );
    assert!(r.took < Duration::from_secs(3), "{r:?}");
    let s = p
        .sync_changes(&inbox, &inbox_key, 100, mail_options(1, Some(1000)))
        .await;
    assert_eq!(s.adds().len(), 1);

    // A device that never Pinged has nothing to repeat: Status 3.
    let fresh = phone(&server, stack, &user, &pw, "PUSH1B").await;
    let r = empty_ping(&fresh).await;
    assert_eq!(r.status, "3", "{r:?}");
}

#[tokio::test]
async fn two_devices_share_one_watcher_and_a_new_ping_ends_the_old() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("pingtwo");
    let server = start(stack, PUSH);
    let a = phone(&server, stack, &user, &pw, "PUSHA").await;
    let b = phone(&server, stack, &user, &pw, "PUSHB").await;
    let (inbox, _, _, _) = prime(&a).await;
    let inbox_b = b.folder_id(2).await;
    b.sync_all(&inbox_b, 100, mail_options(1, Some(1000))).await;
    assert_eq!(inbox, inbox_b);

    // Device A Pings; a second Ping of A ends the first (Status 1) at once.
    let first = spawn_ping(&a, 60, &[(&inbox, "Email")]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let second = spawn_ping(&a, 60, &[(&inbox, "Email")]);
    let r = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("older Ping ended")
        .unwrap();
    assert_eq!(r.status, "1", "{r:?}");
    let from_b = spawn_ping(&b, 60, &[(&inbox, "Email")]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!second.is_finished() && !from_b.is_finished());

    // One delivery wakes both devices…
    stack.deliver("sender@example.org", &user, &message(&user, "both"));
    let (ra, rb) = (second.await.unwrap(), from_b.await.unwrap());
    assert_eq!(
        (ra.status.as_str(), ra.folders.clone()),
        ("2", vec![inbox.clone()]),
        "{ra:?}"
    );
    assert_eq!(
        (rb.status.as_str(), rb.folders.clone()),
        ("2", vec![inbox.clone()]),
        "{rb:?}"
    );
    // …through one upstream watcher connection.
    assert_eq!(watcher_logins(&server, &user), 1, "{}", server.log());
}

#[tokio::test]
async fn new_upstream_folder_gives_status_7_until_folder_sync() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("pingtree");
    let server = start(stack, PUSH);
    let p = phone(&server, stack, &user, &pw, "PUSHT").await;
    let inbox = p.folder_id(2).await;
    let fs = p.folder_sync("0").await;
    let key = fs
        .body
        .as_ref()
        .unwrap()
        .child_text(airsync::wbxml::pages::FolderHierarchy::SyncKey)
        .unwrap()
        .into_owned();
    let waiting = spawn_ping(&p, 60, &[(&inbox, "Email")]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished());
    stack.doveadm(&["mailbox", "create", "-u", &user, "Projects"]);
    let r = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("Ping answered")
        .unwrap();
    assert_eq!(r.status, "7", "{r:?}");
    // Still 7 until the device runs FolderSync; then the Ping waits again.
    let r = ping(&p, Some(1), &[(&inbox, "Email")]).await;
    assert_eq!(r.status, "7", "{r:?}");
    let fs = p.folder_sync(&key).await;
    assert!(fs.xml().contains("Projects"), "{}", fs.xml());
    let r = ping(&p, Some(1), &[(&inbox, "Email")]).await;
    assert_eq!(r.status, "1", "{r:?}");
}

fn hanging_sync_doc(inbox: &str, key: &str, heartbeat: u32) -> Element {
    let options = mail_options(1, Some(1000));
    sync_doc(collection(inbox, key, Some(100), Some(options), vec![]))
        .text_child(A::HeartbeatInterval, heartbeat.to_string())
}

#[tokio::test]
async fn hanging_sync_returns_the_new_message_or_nothing_on_expiry() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("hang");
    let server = start(stack, PUSH);
    let p = phone(&server, stack, &user, &pw, "PUSHS").await;
    let inbox = p.folder_id(2).await;
    let (key, _) = p.sync_all(&inbox, 100, mail_options(1, Some(1000))).await;

    // Nothing new: the no-change answer when the heartbeat expires.
    let started = Instant::now();
    let s = parse_sync(
        p.post("Sync", &hanging_sync_doc(&inbox, &key, 2))
            .await
            .body
            .as_ref(),
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        (s.status.as_str(), s.sync_key.as_str(), s.commands.len()),
        ("1", key.as_str(), 0)
    );

    // A delivery while it waits: the answer carries the new message itself.
    let q = clone_phone(&p);
    let doc = hanging_sync_doc(&inbox, &key, 60);
    let waiting = tokio::spawn(async move { parse_sync(q.post("Sync", &doc).await.body.as_ref()) });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "the Sync answered before anything changed"
    );
    stack.deliver("sender@example.org", &user, &message(&user, "hanging-news"));
    let s = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("Sync answered")
        .unwrap();
    assert_eq!(s.status, "1");
    let adds = s.adds();
    assert_eq!(adds.len(), 1, "{s:?}");
    assert_eq!(
        adds[0].child_text(E::Subject).as_deref(),
        Some("hanging-news")
    );
    assert_ne!(s.sync_key, key);

    // Out of range: Status 14 with the bound.
    let s = parse_sync(
        p.post("Sync", &hanging_sync_doc(&inbox, &s.sync_key, 4000))
            .await
            .body
            .as_ref(),
    );
    assert_eq!(s.top_status.as_deref(), Some("14"));
}

#[tokio::test]
async fn idle_fallback_and_graceful_shutdown() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("pingidle");
    let mut server = start(stack, &format!("{PUSH}imap_notify = false\n"));
    let p = phone(&server, stack, &user, &pw, "PUSHI").await;
    let inbox = p.folder_id(2).await;
    p.sync_all(&inbox, 100, mail_options(1, Some(1000))).await;

    // Without NOTIFY: IDLE on INBOX still wakes the Ping quickly.
    let waiting = spawn_ping(&p, 60, &[(&inbox, "Email")]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished());
    let sent = Instant::now();
    stack.deliver("sender@example.org", &user, &message(&user, "idle"));
    let r = waiting.await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.folders.clone()),
        ("2", vec![inbox.clone()]),
        "{r:?}"
    );
    assert!(sent.elapsed() < Duration::from_secs(5), "{r:?}");

    // A waiting Ping is answered (Status 1) when the server stops gracefully.
    let p2 = phone(&server, stack, &user, &pw, "PUSHI2").await;
    p2.folder_sync("0").await;
    let waiting = spawn_ping(&p2, 600, &[(&inbox, "Email")]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished());
    let stop = Instant::now();
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("Ping answered")
        .unwrap();
    assert_eq!(r.status, "1", "{r:?}");
    assert!(stop.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn own_changes_do_not_wake_the_device() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("ownchange");
    let server = start(stack, PUSH);
    let mut imap = common::imap::Imap::login(stack.imap_port, &user, &pw);
    imap.append("INBOX", &message(&user, "flag-me"), "");
    imap.append("INBOX", &message(&user, "delete-me"), "");
    let p = phone(&server, stack, &user, &pw, "OWNCHG1").await;
    let inbox = p.folder_id(2).await;
    let opts = mail_options(1, Some(1000));
    let (key, cmds) = p.sync_all(&inbox, 100, opts.clone()).await;
    assert_eq!(cmds.len(), 2);
    // Read one message, delete the other, from the device.
    let read = Element::new(A::Change)
        .text_child(A::ServerId, cmds[0].server_id())
        .child(Element::new(A::ApplicationData).text_child(E::Read, "1"));
    let delete = Element::new(A::Delete).text_child(A::ServerId, cmds[1].server_id());
    let s = p
        .sync_one(collection(
            &inbox,
            &key,
            Some(100),
            Some(opts),
            vec![read, delete],
        ))
        .await;
    assert_eq!(s.status, "1");
    // The device's own changes are no news to it: the Ping runs to its expiry.
    let r = ping(&p, Some(3), &[(inbox.as_str(), "Email")]).await;
    assert_eq!(r.status, "1", "{r:?}");
    // A change by someone else still wakes it.
    let waiting = spawn_ping(&p, 30, &[(inbox.as_str(), "Email")]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    imap.append("INBOX", &message(&user, "from-elsewhere"), "");
    let r = waiting.await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.folders.clone()),
        ("2", vec![inbox]),
        "{r:?}"
    );
}
