//! Faults end to end: upstream outages in the middle of long syncs, airsync killed with
//! SIGKILL during a Sync and during a SendMail. What must hold: while an upstream is
//! down every answer is one a phone retries without touching its data (HTTP 503 with
//! Retry-After, or the command's "retry later" status: Sync Status 16, common Status
//! 111 — never an invalid SyncKey, a deleted folder or an item-not-found), and
//! afterwards the device ends with every item exactly once and every message sent
//! exactly once.
//!
//! The outage tests stop and start Dovecot and Radicale, so each runs on a stack of
//! its own ([`Stack::start_private`]); the others use the shared stack.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airsync::wbxml::Element;
use airsync::wbxml::pages::{
    AirSync as A, Calendar as Cal, ComposeMail as CM, ItemOperations as I, Ping as P,
};
use common::Stack;
use common::airsync::Server;
use common::eas::{Answer, Cmd, Phone, collection, mail_options, parse_sync, sync_doc};
use common::imap::{Imap, message, rand_id};

/// Every `<Status>` value in an answer, in document order.
fn statuses(a: &Answer) -> Vec<String> {
    let xml = a.xml();
    xml.split("<Status>")
        .skip(1)
        .filter_map(|s| s.split_once("</Status>").map(|(v, _)| v.to_string()))
        .collect()
}

/// The answer is one a phone retries as is: HTTP 503 with Retry-After, or HTTP 200
/// whose every Status is in `allowed`.
fn assert_retryable(what: &str, a: &Answer, allowed: &[&str]) {
    match a.status {
        503 => assert!(
            a.headers.contains_key("retry-after"),
            "{what}: 503 without Retry-After"
        ),
        200 => {
            let found = statuses(a);
            assert!(
                found.iter().all(|s| allowed.contains(&s.as_str())),
                "{what}: statuses {found:?}, only {allowed:?} are safe during an outage\n{}",
                a.xml()
            );
        }
        other => panic!("{what}: HTTP {other} during an outage\n{}", a.xml()),
    }
}

fn sync_request(id: &str, key: &str, window: u32, options: Element) -> Element {
    sync_doc(collection(id, key, Some(window), Some(options), vec![]))
}

/// Records the Adds of one Sync answer; panics on a ServerId seen before.
fn take_adds(seen: &mut HashSet<String>, commands: &[Cmd]) {
    for c in commands {
        match c {
            Cmd::Add(id, _) => assert!(seen.insert(id.clone()), "ServerId {id} sent twice"),
            other => panic!("an initial sync sends only Adds, got {other:?}"),
        }
    }
}

/// One Sync window: `Some((next key, more))` when it succeeded.
async fn window(
    p: &Phone,
    id: &str,
    key: &str,
    size: u32,
    options: &Element,
    seen: &mut HashSet<String>,
) -> Option<(String, bool)> {
    let a = p
        .try_post("Sync", &sync_request(id, key, size, options.clone()))
        .await?;
    assert_eq!(a.status, 200, "Sync: {}", a.xml());
    let s = parse_sync(a.body.as_ref());
    assert_eq!(s.status, "1", "Sync with key {key}: {}", a.xml());
    take_adds(seen, &s.commands);
    Some((s.sync_key, s.more_available))
}

fn send_mail(client_id: &str, mime: &[u8]) -> Element {
    Element::new(CM::SendMail)
        .text_child(CM::ClientId, client_id)
        .child(Element::new(CM::SaveInSentItems))
        .child(Element::with_opaque(CM::Mime, mime.to_vec()))
}

/// How many messages with this Subject the mailbox holds, once deliveries settled:
/// waits for at least one, then lets Postfix's queue run (retries every 2 s) before
/// counting again, so that a second copy would have arrived.
fn delivered(stack: &Stack, login: &str, subject: &str) -> usize {
    let q = ["HEADER", "Subject", subject];
    stack.wait_for_messages(login, "INBOX", &q, 1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(5));
    stack.search(login, "INBOX", &q).len()
}

/// Dovecot stops after a third of an initial Sync of 3,000 messages (WindowSize 100)
/// and comes back: meanwhile Sync, FolderSync, Ping, ItemOperations and SendMail all
/// answer "retry later"; then the device resumes with the same SyncKey and ends with
/// every UID exactly once, and the mail it sent during the outage arrives once.
#[tokio::test(flavor = "multi_thread")]
async fn dovecot_outage_in_the_middle_of_a_long_initial_sync() {
    const MESSAGES: usize = 3000;
    let stack = Stack::start_private();
    let (user, pw) = stack.new_user("outage");
    let (rcpt, _) = stack.new_user("outage-rcpt");
    let msgs: Vec<_> = (0..MESSAGES)
        .map(|i| message("bulk@example.org", &user, &format!("bulk {i}"), "text"))
        .collect();
    Imap::login(stack.imap_port, &user, &pw).append_many("INBOX", &msgs, "");
    let server = Server::start_in(
        &stack,
        &tempfile::tempdir().unwrap().keep(),
        "[push]\nmin_heartbeat_secs = 1\n",
    );
    let p = server.phone(&stack, &user, &pw, "OUTAGE1").await;
    let (folder_key, inbox) = p.hierarchy(2).await;
    let options = mail_options(1, Some(200));

    let first = p
        .sync_one(collection(&inbox, "0", None, Some(options.clone()), vec![]))
        .await;
    let mut key = first.sync_key;
    let mut seen = HashSet::new();
    for _ in 0..10 {
        let (next, more) = window(&p, &inbox, &key, 100, &options, &mut seen)
            .await
            .expect("an answer");
        assert!(more);
        key = next;
    }
    let some_item = seen.iter().next().unwrap().clone();

    stack.daemon("stop", "dovecot");
    // A window read ahead before the outage may still be served (Status 1, the key
    // advances); after that, "retry later" with the key unchanged.
    let mut refused = 0;
    for _ in 0..6 {
        let a = p
            .post("Sync", &sync_request(&inbox, &key, 100, options.clone()))
            .await;
        let s = parse_sync(a.body.as_ref());
        if a.status == 200 && s.status == "1" {
            assert_eq!(refused, 0, "served after a refusal: {}", a.xml());
            take_adds(&mut seen, &s.commands);
            key = s.sync_key;
            continue;
        }
        // MS-ASCMD 2.2.3.177.17: Status 16, retry; 111 ServerErrorRetryLater.
        assert_retryable("Sync", &a, &["16", "111"]);
        refused += 1;
    }
    assert!(
        refused >= 4,
        "{refused} Syncs refused while Dovecot is down"
    );
    let a = p.folder_sync(&folder_key).await;
    // FolderSync Status 6 (server error, retry) or an unchanged hierarchy.
    assert_retryable("FolderSync", &a, &["1", "6", "111"]);
    assert!(!a.xml().contains("<Delete>"), "{}", a.xml());
    let ping = Element::new(P::Ping)
        .text_child(P::HeartbeatInterval, "1")
        .child(
            Element::new(P::Folders).child(
                Element::new(P::Folder)
                    .text_child(P::Id, inbox.as_str())
                    .text_child(P::Class, "Email"),
            ),
        );
    // Ping: 1 expired, 2 changes found (a Sync follows), 8 server error (retry).
    assert_retryable(
        "Ping",
        &p.post("Ping", &ping).await,
        &["1", "2", "8", "111"],
    );
    let fetch = Element::new(I::ItemOperations).child(
        Element::new(I::Fetch)
            .text_child(I::Store, "Mailbox")
            .text_child(A::CollectionId, inbox.as_str())
            .text_child(A::ServerId, some_item.as_str()),
    );
    assert_retryable(
        "ItemOperations",
        &p.post("ItemOperations", &fetch).await,
        &["111"],
    );
    let subject = format!("sent during the outage {}", rand_id());
    let mime = message(&user, &rcpt, &subject, "hello");
    let client_id = rand_id();
    assert_retryable(
        "SendMail",
        &p.post("SendMail", &send_mail(&client_id, &mime)).await,
        &["111"],
    );
    stack.daemon("start", "dovecot");

    // The device retries what it could not do, with the same keys.
    let a = p.post("SendMail", &send_mail(&client_id, &mime)).await;
    assert_eq!((a.status, statuses(&a)), (200, vec![]), "{}", a.xml());
    loop {
        let (next, more) = window(&p, &inbox, &key, 100, &options, &mut seen)
            .await
            .expect("an answer");
        key = next;
        if !more {
            break;
        }
    }
    let uids: BTreeSet<u32> = stack.search(&user, "INBOX", &["ALL"]).into_iter().collect();
    let got: BTreeSet<u32> = seen
        .iter()
        .map(|id| id.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(uids.len(), MESSAGES);
    assert_eq!(got, uids, "every UID exactly once");
    assert_eq!(delivered(&stack, &rcpt, &subject), 1);
    assert!(
        server.log().contains("upstream unavailable"),
        "the outage is logged"
    );
}

fn event(i: usize) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//airsync faults//EN\r\nBEGIN:VEVENT\r\n\
         UID:fault-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260301T{h:02}0000Z\r\n\
         DTEND:20260301T{h:02}3000Z\r\nSUMMARY:event {i}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        h = i % 24
    )
}

/// Radicale restarts in the middle of an initial calendar Sync of 150 events
/// (WindowSize 20): while it is down, Sync answers "retry later"; afterwards the device
/// resumes with the same key and has every event exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn radicale_restart_during_a_calendar_sync() {
    const EVENTS: usize = 150;
    let stack = Stack::start_private();
    let (user, pw) = stack.new_user("davout");
    // Written into Radicale's storage directly: PUTting them one by one is slow and
    // not what is tested.
    let dir = stack
        .dir
        .join("radicale/collections/collection-root")
        .join(&user)
        .join("calendar");
    assert!(dir.is_dir(), "{}", dir.display());
    for i in 0..EVENTS {
        std::fs::write(dir.join(format!("e{i}.ics")), event(i)).unwrap();
    }
    let server = Server::start_in(&stack, &tempfile::tempdir().unwrap().keep(), "");
    let p = server.phone(&stack, &user, &pw, "DAVOUT1").await;
    let (folder_key, calendar) = p.hierarchy(8).await;
    let options = Element::new(A::Options).text_child(A::FilterType, "0");
    let first = p
        .sync_one(collection(
            &calendar,
            "0",
            None,
            Some(options.clone()),
            vec![],
        ))
        .await;
    let mut key = first.sync_key;
    let mut seen = HashSet::new();
    let mut subjects = BTreeSet::new();
    let mut record = |s: &common::eas::Synced, seen: &mut HashSet<String>| {
        take_adds(seen, &s.commands);
        for d in s.adds() {
            subjects.insert(d.child_text(Cal::Subject).unwrap().into_owned());
        }
    };
    for round in 0.. {
        if round == 3 {
            stack.daemon("stop", "radicale");
            // As for mail: a window read ahead before the outage may still be served
            // (Status 1, the key advances); after that, "retry later", key unchanged.
            let mut refused = 0;
            for _ in 0..4 {
                let a = p
                    .post("Sync", &sync_request(&calendar, &key, 20, options.clone()))
                    .await;
                let s = parse_sync(a.body.as_ref());
                if a.status == 200 && s.status == "1" {
                    assert_eq!(refused, 0, "served after a refusal: {}", a.xml());
                    record(&s, &mut seen);
                    key = s.sync_key;
                    continue;
                }
                assert_retryable("calendar Sync", &a, &["16", "111"]);
                refused += 1;
            }
            assert!(
                refused >= 2,
                "{refused} Syncs refused while Radicale is down"
            );
            // The calendars cannot be listed: never reported as deleted.
            let a = p.folder_sync(&folder_key).await;
            assert_retryable("FolderSync", &a, &["1", "6", "111"]);
            assert!(!a.xml().contains("<Delete>"), "{}", a.xml());
            stack.daemon("start", "radicale");
        }
        let a = p
            .post("Sync", &sync_request(&calendar, &key, 20, options.clone()))
            .await;
        assert_eq!(a.status, 200);
        let s = parse_sync(a.body.as_ref());
        assert_eq!(s.status, "1", "{}", a.xml());
        record(&s, &mut seen);
        key = s.sync_key.clone();
        if !s.more_available {
            break;
        }
    }
    assert_eq!(seen.len(), EVENTS, "every event exactly once");
    let want: BTreeSet<String> = (0..EVENTS).map(|i| format!("event {i}")).collect();
    assert_eq!(subjects, want);
}

/// airsync is killed (SIGKILL) while Syncs of a 600-message INBOX are in flight, at
/// different points of the request, six times; after each restart the device repeats
/// the request it got no answer to. It always gets Status 1 (never an invalid key)
/// and ends with every UID exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_sync() {
    const MESSAGES: usize = 600;
    let stack = Stack::get();
    let (user, pw) = stack.new_user("killsync");
    let msgs: Vec<_> = (0..MESSAGES)
        .map(|i| message("bulk@example.org", &user, &format!("bulk {i}"), "text"))
        .collect();
    Imap::login(stack.imap_port, &user, &pw).append_many("INBOX", &msgs, "");
    let dir = tempfile::tempdir().unwrap().keep();
    let mut server = Server::start_in(stack, &dir, "");
    let mut p = server.phone(stack, &user, &pw, "KILL1").await;
    let inbox = p.folder_id(2).await;
    let options = mail_options(1, Some(100));
    let mut key = p.first_key(&inbox, &options).await;
    let mut seen = HashSet::new();
    let mut kills = 0;
    for round in 0u64.. {
        // Every third request is killed: the two before it ran on one process, so
        // the second stored its key from the first's cached snapshot (mod.rs, Next),
        // and the request after the restart reads that key back from the store.
        let answer = if round % 3 == 2 && kills < 6 {
            // A Sync in flight, and the process killed 0-25 ms into it.
            let doc = sync_request(&inbox, &key, 50, options.clone());
            let request = p.try_post("Sync", &doc);
            let killer = async {
                tokio::time::sleep(Duration::from_millis(kills * 5)).await;
            };
            let (answer, ()) = tokio::join!(request, async {
                killer.await;
                server.kill();
            });
            kills += 1;
            server = Server::start_config(&dir);
            p.base_url = server.base_url.clone();
            answer
        } else {
            p.try_post("Sync", &sync_request(&inbox, &key, 50, options.clone()))
                .await
        };
        // No answer: the device repeats the same request (same SyncKey).
        let Some(a) = answer else { continue };
        assert_eq!(a.status, 200, "{}", a.xml());
        let s = parse_sync(a.body.as_ref());
        assert_eq!(
            s.status,
            "1",
            "Sync with key {key} after a crash: {}",
            a.xml()
        );
        take_adds(&mut seen, &s.commands);
        key = s.sync_key;
        if !s.more_available && kills >= 6 {
            break;
        }
        assert!(round < 200, "the sync does not end");
    }
    assert_eq!(seen.len(), MESSAGES, "every UID exactly once");
}

/// A TCP relay between airsync and Postfix's submission port that can hold back the end
/// of a message's DATA (the lone "." line): airsync is then killed while the MTA has
/// not accepted the message, the relay drops both connections, and Postfix discards
/// the unfinished transaction.
struct SmtpRelay {
    port: u16,
    hold: Arc<AtomicBool>,
    held: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl SmtpRelay {
    fn start(upstream: u16) -> SmtpRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = SmtpRelay {
            port: listener.local_addr().unwrap().port(),
            hold: Arc::new(AtomicBool::new(true)),
            held: Arc::new(AtomicBool::new(false)),
            open: Arc::default(),
        };
        let (hold, held, open) = (relay.hold.clone(), relay.held.clone(), relay.open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                open.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                let (mut from_server, mut to_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut from_server, &mut to_client));
                let (hold, held) = (hold.clone(), held.clone());
                std::thread::spawn(move || relay_client(client, server, &hold, &held));
            }
        });
        relay
    }

    /// Closes every relayed connection (both sides).
    fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Copies client → server; while `hold` is set, stops before the end of DATA.
fn relay_client(
    mut client: TcpStream,
    mut server: TcpStream,
    hold: &AtomicBool,
    held: &AtomicBool,
) {
    const END: &[u8] = b"\r\n.\r\n";
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16384];
    // This connection stopped before the end of DATA: nothing more goes through.
    let mut holding = false;
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if holding {
            continue;
        }
        if hold.load(Ordering::SeqCst) {
            // Where the end of DATA lies in tail+chunk, if it is there.
            let mut joined = tail.clone();
            joined.extend_from_slice(chunk);
            if let Some(at) = joined.windows(END.len()).position(|w| w == END) {
                let upto = (at + 2).saturating_sub(tail.len());
                let _ = server.write_all(&chunk[..upto]);
                holding = true;
                held.store(true, Ordering::SeqCst);
                continue;
            }
            tail = joined[joined.len().saturating_sub(END.len())..].to_vec();
        }
        if server.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = server.shutdown(std::net::Shutdown::Both);
}

/// airsync is killed (SIGKILL) in the middle of a SendMail, before the MTA accepted the
/// message. The device's retry with the same ClientId first hears "retry later" (the
/// interrupted submission might still be running), then, once the submission timeout
/// has passed, sends it; a further retry gets MessagePreviouslySent. The recipient
/// gets the message exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_sendmail() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("killsend");
    let (rcpt, _) = stack.new_user("killsend-rcpt");
    let relay = SmtpRelay::start(stack.submission_port);
    let dir = tempfile::tempdir().unwrap().keep();
    let mut first = Server::start_in(stack, &dir, "");
    first.stop();
    // Plain SMTP to the relay, so that it can see the end of DATA; a short timeout so
    // that the interrupted submission counts as abandoned after 2 × 2 s.
    let config = dir.join("airsync.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("url = \"{}\"", stack.submission_url()),
        &format!(
            "url = \"smtp://127.0.0.1:{}?tls=none\"\ntimeout_secs = 2",
            relay.port
        ),
    );
    assert!(text.contains("timeout_secs"), "{text}");
    std::fs::write(&config, text).unwrap();
    let mut server = Server::start_config(&dir);
    let mut p = server.phone(stack, &user, &pw, "KILLSEND1").await;

    let subject = format!("killed while sending {}", rand_id());
    let mime = message(&user, &rcpt, &subject, &"a line of text\r\n".repeat(2000));
    let client_id = rand_id();
    let doc = send_mail(&client_id, &mime);
    let sending = p.try_post("SendMail", &doc);
    let answer = tokio::join!(sending, async {
        for _ in 0..400 {
            if relay.held.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            relay.held.load(Ordering::SeqCst),
            "the end of DATA never came"
        );
        server.kill();
        relay.cut();
    })
    .0;
    assert!(answer.is_none(), "killed before it could answer");
    relay.hold.store(false, Ordering::SeqCst);
    server = Server::start_config(&dir);
    p.base_url = server.base_url.clone();

    // At once: the claim of the killed request may still be live: retry later.
    let a = p.post("SendMail", &doc).await;
    assert_eq!(statuses(&a), vec!["111"], "{}", a.xml());
    // After 2 × timeout_secs it is known to be abandoned: the retry sends it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let a = p.post("SendMail", &doc).await;
    assert_eq!((a.status, statuses(&a)), (200, vec![]), "{}", a.xml());
    let a = p.post("SendMail", &doc).await;
    assert_eq!(statuses(&a), vec!["118"], "{}", a.xml());
    assert_eq!(
        delivered(stack, &rcpt, &subject),
        1,
        "delivered exactly once"
    );

    // Killed after the MTA accepted it and before the device read the answer: the
    // retry after the restart is recognised and sends nothing.
    let subject = format!("answer lost {}", rand_id());
    let doc = send_mail(&rand_id(), &message(&user, &rcpt, &subject, "once"));
    let a = p.post("SendMail", &doc).await;
    assert_eq!(a.status, 200);
    server.kill();
    server = Server::start_config(&dir);
    p.base_url = server.base_url.clone();
    let a = p.post("SendMail", &doc).await;
    assert_eq!(statuses(&a), vec!["118"], "{}", a.xml());
    assert_eq!(
        delivered(stack, &rcpt, &subject),
        1,
        "delivered exactly once"
    );
}
