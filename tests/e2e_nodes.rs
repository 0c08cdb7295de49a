//! Several nodes: two airsync processes share one PostgreSQL store (the test stack's)
//! and serve the same device, whose requests alternate between them, as behind a load
//! balancer without affinity. FolderSync and Sync go on with no duplicate, no gap and
//! no Status 3 / resync whichever node answers; the cached empty Sync request and the
//! client's own changes cross nodes; and a device's waiting Ping on one node ends when
//! its next request lands on the other (PostgreSQL LISTEN/NOTIFY), but not when
//! another device's does.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use airsync::wbxml::Element;
use airsync::wbxml::pages::{AirSync as A, Email as E};
use common::airsync::Server;
use common::eas::{
    Cmd, Phone, collection, folder_changes, mail_options, parse_sync, send, spawn_ping,
};
use common::imap::{Imap, message};
use common::{Stack, wait_until};

/// Two servers on one fresh PostgreSQL schema. Heartbeats from 1 s (the Ping test's
/// short checks) up to the default 3540 s.
fn two_nodes(stack: &Stack) -> (Server, Server) {
    let extra = format!(
        "[store]\nurl = \"{}\"\n[push]\nmin_heartbeat_secs = 1\n",
        stack.new_pg_store()
    );
    let node = |name: &str| {
        let dir = tempfile::Builder::new()
            .prefix(&format!("airsync-node{name}-"))
            .tempdir()
            .unwrap()
            .keep();
        Server::start_in(stack, &dir, &extra)
    };
    let a = node("a");
    let b = node("b");
    (a, b)
}

fn subject(data: &Element) -> String {
    data.child_text(E::Subject)
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

/// One Sync of INBOX on `phone`'s node: must succeed (never Status 3); its Adds are
/// recorded by ServerId → subject, each ServerId at most once.
async fn sync(
    phone: &Phone,
    inbox: &str,
    key: &str,
    commands: Vec<Element>,
    seen: &mut BTreeMap<String, String>,
) -> common::eas::Synced {
    let s = phone
        .sync_one(collection(
            inbox,
            key,
            Some(2),
            Some(mail_options(1, Some(200))),
            commands,
        ))
        .await;
    assert_eq!(
        (s.status.as_str(), s.top_status.as_deref()),
        ("1", None),
        "Sync of key {key} on {}",
        phone.base_url
    );
    record(&s, seen);
    s
}

fn record(s: &common::eas::Synced, seen: &mut BTreeMap<String, String>) {
    for c in &s.commands {
        match c {
            Cmd::Add(id, data) => {
                let old = seen.insert(id.clone(), subject(data));
                assert!(old.is_none(), "{id} added twice");
            }
            other => panic!("unexpected server command {other:?}"),
        }
    }
}

fn subjects(seen: &BTreeMap<String, String>) -> Vec<String> {
    let mut v: Vec<String> = seen.values().cloned().collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_device_alternating_between_nodes_syncs_without_duplicate_gap_or_resync() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("nodes");
    let (a, b) = two_nodes(stack);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let first: Vec<Vec<u8>> = (0..5)
        .map(|i| message("x@example.org", &user, &format!("m{i}"), "b"))
        .collect();
    imap.append_many("INBOX", &first, "");

    // Provisioned on A: the policy key is valid on B (one device registry).
    let on_a = a.phone(stack, &user, &pw, "NODES1").await;
    let on_b = on_a.at(&b.base_url);

    // Nothing is cached yet: an empty Sync request asks for the full one (MS-ASCMD
    // 2.2.3.177.17, Status 13).
    let empty = send(on_b.request(reqwest::Method::POST, &on_b.url("Sync"))).await;
    let status = empty
        .body
        .as_ref()
        .and_then(|b| b.first(A::Status))
        .and_then(Element::text);
    assert_eq!(status.as_deref(), Some("13"), "{}", empty.xml());

    // FolderSync: 0 on B, a new folder upstream, the next key on A, then B again.
    let f0 = on_b.folder_sync("0").await;
    let (status, k1, adds, _, _) = folder_changes(f0.body.as_ref().unwrap());
    assert_eq!(status, "1", "{}", f0.xml());
    let inbox = adds.iter().find(|f| f.kind == 2).unwrap().server_id.clone();
    imap.command("CREATE Projects");
    let f1 = on_a.folder_sync(&k1).await;
    let (status, k2, adds, updates, deletes) = folder_changes(f1.body.as_ref().unwrap());
    assert_eq!(status, "1", "{}", f1.xml());
    assert_eq!(
        (
            adds.len(),
            adds[0].name.as_str(),
            updates.len(),
            deletes.len()
        ),
        (1, "Projects", 0, 0),
        "{}",
        f1.xml()
    );
    let f2 = on_b.folder_sync(&k2).await;
    let (status, _, adds, updates, deletes) = folder_changes(f2.body.as_ref().unwrap());
    assert_eq!(
        (status.as_str(), adds.len() + updates.len() + deletes.len()),
        ("1", 0),
        "{}",
        f2.xml()
    );

    // Sync in windows of 2, node by node, with mail delivered in between.
    let mut seen = BTreeMap::new();
    let mut key = sync(&on_a, &inbox, "0", vec![], &mut seen).await.sync_key;
    let nodes = [&on_b, &on_a];
    let mut expected: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    for round in 0..12 {
        let phone = nodes[round % 2];
        let s = sync(phone, &inbox, &key, vec![], &mut seen).await;
        key = s.sync_key;
        if round < 3 {
            let subject = format!("n{round}");
            stack.deliver(
                "y@example.org",
                &user,
                &message("y@example.org", &user, &subject, "b"),
            );
            stack.wait_for_messages(
                &user,
                "INBOX",
                &["SUBJECT", &subject],
                1,
                Duration::from_secs(20),
            );
            expected.push(subject);
        } else if !s.more_available {
            break;
        }
    }
    expected.sort();
    assert_eq!(subjects(&seen), expected, "every message exactly once");

    // The device's own change through B reaches the upstream and is echoed by neither.
    let (first_id, first_subject) = seen
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let read = Element::new(A::Change)
        .text_child(A::ServerId, first_id.clone())
        .child(Element::new(A::ApplicationData).text_child(E::Read, "1"));
    let s = sync(&on_b, &inbox, &key, vec![read], &mut seen).await;
    assert!(s.commands.is_empty() && s.responses.is_empty(), "{s:?}");
    key = s.sync_key;
    let seen_flag = stack.search(&user, "INBOX", &["SEEN", "SUBJECT", &first_subject]);
    assert_eq!(seen_flag.len(), 1, "the Read change reached Dovecot");
    let s = sync(&on_a, &inbox, &key, vec![], &mut seen).await;
    assert!(
        s.commands.is_empty(),
        "own change echoed by the other node: {s:?}"
    );

    // The cached full request crosses nodes: a full Sync on A, a delivery, an empty
    // Sync request (no body) on B gets the new message under A's key.
    let late = "late";
    stack.deliver(
        "y@example.org",
        &user,
        &message("y@example.org", &user, late, "b"),
    );
    stack.wait_for_messages(
        &user,
        "INBOX",
        &["SUBJECT", late],
        1,
        Duration::from_secs(20),
    );
    let empty = send(on_b.request(reqwest::Method::POST, &on_b.url("Sync"))).await;
    assert_eq!(empty.status, 200, "{}", empty.xml());
    let s = parse_sync(empty.body.as_ref());
    assert_eq!(s.status, "1", "{}", empty.xml());
    record(&s, &mut seen);
    assert!(
        seen.values().any(|v| v == late),
        "the empty Sync on B used the request cached by A: {}",
        empty.xml()
    );
    assert_eq!(seen.len(), expected.len() + 1);
}

#[tokio::test]
async fn a_waiting_ping_ends_when_the_device_turns_up_on_the_other_node() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("nodeping");
    let (a, b) = two_nodes(stack);
    let on_a = a.phone(stack, &user, &pw, "NODEPING1").await;
    let on_b = on_a.at(&b.base_url);
    let other_on_b = b.phone(stack, &user, &pw, "NODEPING2").await;
    let inbox = on_a.folder_id(2).await;
    let (key, _) = on_b.sync_all(&inbox, 50, mail_options(1, Some(200))).await;
    let other_inbox = other_on_b.folder_id(2).await;
    let (other_key, _) = other_on_b
        .sync_all(&other_inbox, 50, mail_options(1, Some(200)))
        .await;
    let folders = [(inbox.as_str(), "Email")];
    let idle = |s: &common::eas::Synced| s.status == "1" && s.commands.is_empty();

    // A long Ping waits on A…
    let waiting = spawn_ping(&on_a, 3000, &folders);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "the Ping answered before anything happened"
    );
    // …another device of the user on B does not end it…
    let s = other_on_b
        .sync_one(collection(&other_inbox, &other_key, None, None, vec![]))
        .await;
    assert!(idle(&s), "{s:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "another device's request ended the Ping"
    );
    // …the same device's Sync on B does, at once (Status 1: Ping again).
    let s = on_b
        .sync_one(collection(&inbox, &key, None, None, vec![]))
        .await;
    assert!(idle(&s), "{s:?}");
    let r = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the Ping on A ended within 5 s of the device's Sync on B")
        .unwrap();
    assert_eq!(r.status, "1", "{r:?}");

    // The other way round, Ping against Ping: B's ends when the device Pings A.
    let on_b_waiting = spawn_ping(&on_b, 3000, &folders);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!on_b_waiting.is_finished());
    let newest = spawn_ping(&on_a, 3000, &folders);
    let r = tokio::time::timeout(Duration::from_secs(5), on_b_waiting)
        .await
        .expect("the Ping on B ended within 5 s of the device's Ping on A")
        .unwrap();
    assert_eq!(r.status, "1", "{r:?}");
    // The newest Ping is not ended by its own announcement, and still wakes on mail.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!newest.is_finished(), "the newest Ping ended by itself");
    stack.deliver(
        "y@example.org",
        &user,
        &message("y@example.org", &user, "wake", "b"),
    );
    let r = tokio::time::timeout(Duration::from_secs(20), newest)
        .await
        .expect("the Ping on A woke on the delivery")
        .unwrap();
    assert_eq!(
        (r.status.as_str(), r.folders.clone()),
        ("2", vec![inbox.clone()]),
        "{r:?}"
    );
    // Both nodes logged their several-node mode.
    for node in [&a, &b] {
        wait_until(Duration::from_secs(1), "cluster log line", || {
            node.log().contains("several-node mode").then_some(())
        });
    }
}

/// A big folder (its keys stored as differences from a base that each node keeps
/// decoded in memory) paged alternately on two nodes, while the device moves a message
/// of another folder into it through one node: every message once, and the moved one
/// is not offered again as new by either node.
#[tokio::test]
async fn keys_stored_as_differences_cross_nodes_and_moves() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("nodedeltas");
    let (a, b) = two_nodes(stack);
    stack.doveadm(&["mailbox", "create", "-u", &user, "Kept"]);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let msgs: Vec<Vec<u8>> = (0..200)
        .map(|i| message("x@example.org", &user, &format!("d{i}"), "b"))
        .collect();
    imap.append_many("INBOX", &msgs, "");
    imap.append("Kept", &message("x@example.org", &user, "kept", "b"), "");
    let on_a = a.phone(stack, &user, &pw, "NODEDELTAS1").await;
    let on_b = on_a.at(&b.base_url);
    let inbox = on_a.folder_id(2).await;
    let kept = on_a.folder_id_by_name("Kept").await;
    let opts = mail_options(1, Some(100));
    let (_, kept_items) = on_b.sync_all(&kept, 10, opts.clone()).await;
    let kept_id = kept_items[0].server_id().to_string();

    let nodes = [&on_a, &on_b];
    let mut key = on_a
        .sync_one(collection(&inbox, "0", None, Some(opts.clone()), vec![]))
        .await
        .sync_key;
    let mut seen = BTreeMap::new();
    let mut moved_in = None;
    for round in 0..40 {
        let s = nodes[round % 2]
            .sync_one(collection(
                &inbox,
                &key,
                Some(20),
                Some(opts.clone()),
                vec![],
            ))
            .await;
        assert_eq!(s.status, "1", "round {round}: never Status 3");
        record(&s, &mut seen);
        key = s.sync_key;
        if round == 3 {
            let (status, dst) = on_b.move_item(&kept_id, &kept, &inbox).await;
            assert_eq!(status, "3");
            moved_in = dst;
        }
        if !s.more_available && round > 3 {
            break;
        }
    }
    let moved_in = moved_in.expect("moved");
    assert!(
        !seen.contains_key(&moved_in),
        "the device's own move offered as new"
    );
    assert_eq!(seen.len(), 200, "every message of the folder once");
}
