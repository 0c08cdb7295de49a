//! Mail end to end against the real stack: delivery through the MTA, Sync in every
//! body type, changes both ways, deletes, moves, attachments, retries, a crash between
//! Syncs, a 10,000-message folder, and ids forged across accounts.

mod common;

use airsync::wbxml::Element;
use airsync::wbxml::pages::{AirSync as A, AirSyncBase as B, Email as E, ItemOperations as I};
use base64::Engine;
use common::Stack;
use common::airsync::Server;
use common::eas::{Cmd, assert_each_once, collection, mail_options, send};
use common::imap::{Imap, message};

fn wait_for_messages(stack: &Stack, user: &str, password: &str, mailbox: &str, n: usize) {
    let mut imap = Imap::login(stack.imap_port, user, password);
    for _ in 0..200 {
        if imap.count(mailbox) >= n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{n} message(s) never arrived in {mailbox} of {user}");
}

fn text(data: &Element, tag: airsync::wbxml::Tag) -> String {
    data.child_text(tag)
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

const PDF: &[u8] = b"%PDF-1.4\n\x00\x01\x02\xff binary attachment bytes \x80\x81\n%%EOF";

fn rich_message(from: &str, to: &str) -> Vec<u8> {
    let pdf = base64::engine::general_purpose::STANDARD.encode(PDF);
    format!(
        "From: Alice Example <{from}>\r\nTo: {to}\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <rich-{}@test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=outer\r\n\r\n\
         --outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
         --inner\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         Hallo Bob, sch=F6ne Gr=FC=DFe.\r\n\
         --inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hallo Bob, <b>sch\u{f6}ne</b> Gr\u{fc}\u{df}e.</p>\r\n\
         --inner--\r\n\
         --outer\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--outer--\r\n",
        common::imap::rand_id()
    )
    .into_bytes()
}

#[tokio::test]
async fn delivered_mail_syncs_in_every_body_type_with_its_attachment() {
    let stack = Stack::get();
    let (bob, bob_pw) = stack.new_user("bodytypes");
    let server = Server::start(stack);
    stack.deliver(
        "alice@example.org",
        &bob,
        &rich_message("alice@example.org", &bob),
    );
    wait_for_messages(stack, &bob, &bob_pw, "INBOX", 1);

    for (device, body_type) in [("BODYHTML", 2u8), ("BODYPLAIN", 1), ("BODYMIME", 4)] {
        let p = server.phone(stack, &bob, &bob_pw, device).await;
        let inbox = p.folder_id(2).await;
        let (_, cmds) = p.sync_all(&inbox, 50, mail_options(body_type, None)).await;
        let adds: Vec<_> = cmds
            .iter()
            .filter_map(|c| {
                if let Cmd::Add(id, d) = c {
                    Some((id, d))
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(adds.len(), 1, "{device}: {cmds:?}");
        let (id, data) = adds[0];
        assert!(id.starts_with(&format!("{inbox}:")));
        assert_eq!(text(data, E::Subject), "Grüße aus Berlin");
        assert!(text(data, E::From).contains("alice@example.org"));
        assert_eq!(text(data, E::Read), "0");
        let body = data.first(B::Body).expect("Body");
        assert_eq!(text(body, B::Type), body_type.to_string());
        let content =
            String::from_utf8_lossy(&body.first(B::Data).and_then(|d| d.bytes()).unwrap())
                .into_owned();
        match body_type {
            1 => assert!(
                content.contains("Hallo Bob, schöne Grüße.") && !content.contains("<p>"),
                "{content}"
            ),
            2 => assert!(content.contains("<b>schöne</b>"), "{content}"),
            _ => assert!(
                content.contains("Content-Type: multipart/mixed") && content.contains("report.pdf"),
                "{content}"
            ),
        }
        // The attachment, fetched by its FileReference, has the exact bytes.
        let att = data
            .first(B::Attachments)
            .and_then(|a| a.first(B::Attachment))
            .expect("attachment listed");
        assert_eq!(text(att, B::DisplayName), "report.pdf");
        let reference = text(att, B::FileReference);
        let fetch = Element::new(I::ItemOperations).child(
            Element::new(I::Fetch)
                .text_child(I::Store, "Mailbox")
                .text_child(B::FileReference, reference.clone()),
        );
        let a = p.post("ItemOperations", &fetch).await;
        let f = a
            .body
            .as_ref()
            .unwrap()
            .first(I::Response)
            .and_then(|r| r.first(I::Fetch))
            .unwrap();
        assert_eq!(text(f, I::Status), "1", "{}", a.xml());
        let data64 = text(f.first(I::Properties).unwrap(), I::Data);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(data64)
                .unwrap(),
            PDF
        );
    }
    // Fetching never marked the message read.
    let mut imap = Imap::login(stack.imap_port, &bob, &bob_pw);
    assert!(!imap.flags("INBOX")[0].1.contains("\\Seen"));
}

#[tokio::test]
async fn changes_flow_both_ways() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("changes");
    let server = Server::start(stack);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    imap.append(
        "INBOX",
        &message("carol@example.org", &user, "flag me", "body"),
        "",
    );
    let p = server.phone(stack, &user, &pw, "CHANGES1").await;
    let inbox = p.folder_id(2).await;
    let (key, cmds) = p.sync_all(&inbox, 50, mail_options(1, Some(200))).await;
    let id = cmds[0].server_id().to_string();

    // Phone: read, flagged, one category.
    let change = Element::new(A::Change)
        .text_child(A::ServerId, id.clone())
        .child(
            Element::new(A::ApplicationData)
                .text_child(E::Read, "1")
                .child(
                    Element::new(E::Flag)
                        .text_child(E::Status, "2")
                        .text_child(E::FlagType, "Follow up"),
                )
                .child(Element::new(E::Categories).text_child(E::Category, "Work")),
        );
    let s = p
        .sync_one(collection(
            &inbox,
            &key,
            Some(50),
            Some(mail_options(1, Some(200))),
            vec![change],
        ))
        .await;
    assert_eq!(s.status, "1");
    assert!(
        s.commands.is_empty(),
        "the phone's own change is not echoed: {:?}",
        s.commands
    );
    assert!(
        s.responses.is_empty(),
        "a successful Change has no response"
    );
    let flags = &imap.flags("INBOX")[0].1;
    assert!(
        flags.contains("\\Seen") && flags.contains("\\Flagged") && flags.contains("Work"),
        "{flags}"
    );
    assert_ne!(s.sync_key, key, "client commands always give a new key");
    // Nor is it echoed by the next Sync.
    let quiet = p
        .sync_changes(&inbox, &s.sync_key, 50, mail_options(1, Some(200)))
        .await;
    assert!(quiet.commands.is_empty(), "{:?}", quiet.commands);

    // Upstream: unread again → the next Sync carries a Change with Read 0.
    let uid: u32 = id.split(':').nth(1).unwrap().parse().unwrap();
    imap.store("INBOX", uid, "-FLAGS (\\Seen)");
    let s2 = p
        .sync_changes(&inbox, &s.sync_key, 50, mail_options(1, Some(200)))
        .await;
    let Cmd::Change(cid, data) = &s2.commands[0] else {
        panic!("{:?}", s2.commands)
    };
    assert_eq!(cid, &id);
    assert_eq!(text(data, E::Read), "0");
    // Nothing more after that.
    let s3 = p
        .sync_changes(&inbox, &s2.sync_key, 50, mail_options(1, Some(200)))
        .await;
    assert!(s3.commands.is_empty());
    assert_eq!(s3.sync_key, s2.sync_key, "no changes: the key stays");
}

#[tokio::test]
async fn delete_moves_to_trash_and_moveitems_moves() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("moves");
    let server = Server::start(stack);
    stack.doveadm(&["mailbox", "create", "-u", &user, "Archive2026"]);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    imap.append(
        "INBOX",
        &message("x@example.org", &user, "delete me", "1"),
        "",
    );
    imap.append(
        "INBOX",
        &message("x@example.org", &user, "move me", "2"),
        "",
    );
    let p = server.phone(stack, &user, &pw, "MOVES1").await;
    let inbox = p.folder_id(2).await;
    let archive = p.folder_id_by_name("Archive2026").await;
    let opts = mail_options(1, Some(100));
    let (key, cmds) = p.sync_all(&inbox, 50, opts.clone()).await;
    let subject_of = |c: &Cmd| {
        if let Cmd::Add(_, d) = c {
            text(d, E::Subject)
        } else {
            String::new()
        }
    };
    let doomed = cmds
        .iter()
        .find(|c| subject_of(c) == "delete me")
        .unwrap()
        .server_id()
        .to_string();
    let moving = cmds
        .iter()
        .find(|c| subject_of(c) == "move me")
        .unwrap()
        .server_id()
        .to_string();

    let delete = Element::new(A::Delete).text_child(A::ServerId, doomed.clone());
    let s = p
        .sync_one(collection(
            &inbox,
            &key,
            Some(50),
            Some(opts.clone()),
            vec![delete],
        ))
        .await;
    assert_eq!(s.status, "1");
    assert_eq!(
        imap.count("Trash"),
        1,
        "DeletesAsMoves puts the message in Trash"
    );

    let (status, dst) = p.move_item(&moving, &inbox, &archive).await;
    assert_eq!(status, "3");
    let dst = dst.unwrap_or_default();
    assert!(dst.starts_with(&format!("{archive}:")), "{dst}");
    assert_eq!(imap.count("Archive2026"), 1);
    assert_eq!(imap.count("INBOX"), 0);
    // The source folder's next Sync does not mention the moved message again.
    let s2 = p.sync_changes(&inbox, &s.sync_key, 50, opts.clone()).await;
    assert!(
        s2.commands.iter().all(|c| c.server_id() != moving),
        "{:?}",
        s2.commands
    );
    // A forged move of a message that is not there: invalid source.
    assert_eq!(p.move_item(&moving, &inbox, &archive).await.0, "1");
}

#[tokio::test]
async fn repeated_requests_never_duplicate() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("retry");
    let server = Server::start(stack);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let msgs: Vec<_> = (0..5)
        .map(|i| message("x@example.org", &user, &format!("m{i}"), "b"))
        .collect();
    imap.append_many("INBOX", &msgs, "");
    let p = server.phone(stack, &user, &pw, "RETRY1").await;
    let inbox = p.folder_id(2).await;
    let opts = mail_options(1, Some(100));
    let first = p
        .sync_one(collection(&inbox, "0", None, Some(opts.clone()), vec![]))
        .await;
    // The same request twice (the first answer was "lost"): same items, same ServerIds.
    let a = p
        .sync_changes(&inbox, &first.sync_key, 3, opts.clone())
        .await;
    let b = p
        .sync_changes(&inbox, &first.sync_key, 3, opts.clone())
        .await;
    assert_eq!(a.status, "1");
    assert_eq!(b.status, "1", "a repeated key is replayed, never Status 3");
    assert_eq!(a.add_ids(), b.add_ids());
    assert_eq!(a.sync_key, b.sync_key);

    // A draft Add sent twice with the same ClientId creates one message.
    let drafts = p.folder_id(3).await;
    let d0 = p
        .sync_one(collection(&drafts, "0", None, Some(opts.clone()), vec![]))
        .await;
    let add = || {
        Element::new(A::Add)
            .text_child(A::ClientId, "draft-1")
            .child(
                Element::new(A::ApplicationData)
                    .text_child(E::To, "bob@example.org")
                    .text_child(E::Subject, "Entwurf")
                    .child(
                        Element::new(B::Body)
                            .text_child(B::Type, "1")
                            .text_child(B::Data, "Text"),
                    ),
            )
    };
    let r1 = p
        .sync_one(collection(
            &drafts,
            &d0.sync_key,
            Some(50),
            Some(opts.clone()),
            vec![add()],
        ))
        .await;
    let r2 = p
        .sync_one(collection(
            &drafts,
            &d0.sync_key,
            Some(50),
            Some(opts.clone()),
            vec![add()],
        ))
        .await;
    assert_eq!(r1.add_result().0, "1");
    assert_eq!(r1.add_result(), r2.add_result());
    assert_eq!(imap.count("Drafts"), 1);
    assert!(
        r2.commands.is_empty(),
        "the draft is not sent back to the phone that wrote it"
    );
    let flags = &imap.flags("Drafts")[0].1;
    assert!(flags.contains("\\Draft"), "{flags}");
}

#[tokio::test]
async fn kill_between_syncs_loses_and_doubles_nothing() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("crash");
    let mut server = Server::start(stack);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let msgs: Vec<_> = (0..30)
        .map(|i| message("x@example.org", &user, &format!("c{i}"), "b"))
        .collect();
    imap.append_many("INBOX", &msgs, "");
    let mut p = server.phone(stack, &user, &pw, "CRASH1").await;
    let inbox = p.folder_id(2).await;
    let opts = mail_options(1, Some(100));
    let mut key = p
        .sync_one(collection(&inbox, "0", None, Some(opts.clone()), vec![]))
        .await
        .sync_key;
    let mut seen = Vec::new();
    let s = p.sync_changes(&inbox, &key, 10, opts.clone()).await;
    seen.extend(s.add_ids());
    // The answer to this request is "lost": the phone keeps the old key.
    let _lost = p.sync_changes(&inbox, &s.sync_key, 10, opts.clone()).await;
    key = s.sync_key;
    let dir = server.dir.clone();
    server.kill();
    let server = Server::start_in(stack, &dir, "");
    p.base_url = server.base_url.clone();
    loop {
        let s = p.sync_changes(&inbox, &key, 10, opts.clone()).await;
        assert_eq!(s.status, "1", "no Status 3 after a crash");
        seen.extend(s.add_ids());
        key = s.sync_key;
        if !s.more_available {
            break;
        }
    }
    assert_each_once(&seen, 30);
}

/// Keys of a big folder are stored as differences from an earlier key (a window
/// changes 20 of 200 items): a lost answer, a MoveItems of the device and a crash in
/// the middle of the chain still give every message exactly once.
#[tokio::test]
async fn keys_stored_as_differences_survive_retries_moves_and_a_crash() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("deltas");
    let mut server = Server::start(stack);
    stack.doveadm(&["mailbox", "create", "-u", &user, "Kept"]);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let msgs: Vec<_> = (0..200)
        .map(|i| message("x@example.org", &user, &format!("d{i}"), "b"))
        .collect();
    imap.append_many("INBOX", &msgs, "");
    let mut p = server.phone(stack, &user, &pw, "DELTAS1").await;
    let inbox = p.folder_id(2).await;
    let kept = p.folder_id_by_name("Kept").await;
    let opts = mail_options(1, Some(100));
    let mut key = p
        .sync_one(collection(&inbox, "0", None, Some(opts.clone()), vec![]))
        .await
        .sync_key;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let s = p.sync_changes(&inbox, &key, 20, opts.clone()).await;
        seen.extend(s.add_ids());
        key = s.sync_key;
    }
    // This answer is lost; the repeated request gets the same items.
    let lost = p.sync_changes(&inbox, &key, 20, opts.clone()).await;
    let again = p.sync_changes(&inbox, &key, 20, opts.clone()).await;
    assert_eq!(lost.add_ids(), again.add_ids());
    assert_eq!(
        (again.add_ids().len(), again.sync_key.clone()),
        (20, lost.sync_key)
    );
    seen.extend(again.add_ids());
    key = again.sync_key;
    // The device files messages it holds elsewhere itself: one while the server keeps
    // the chain's next snapshot in memory, one before a crash.
    let moved = [seen[5].clone(), seen[6].clone()];
    assert_eq!(p.move_item(&moved[0], &inbox, &kept).await.0, "3");
    for _ in 0..2 {
        let s = page_without(&p, &inbox, &key, &opts, &moved).await;
        seen.extend(s.add_ids());
        key = s.sync_key;
    }
    assert_eq!(p.move_item(&moved[1], &inbox, &kept).await.0, "3");
    let dir = server.dir.clone();
    server.kill();
    let server = Server::start_in(stack, &dir, "");
    p.base_url = server.base_url.clone();
    loop {
        let s = page_without(&p, &inbox, &key, &opts, &moved).await;
        seen.extend(s.add_ids());
        key = s.sync_key;
        if !s.more_available {
            break;
        }
    }
    assert_each_once(&seen, 200);
}

/// The next window after `key`, which must be Status 1 and never name `moved`.
async fn page_without(
    p: &common::eas::Phone,
    inbox: &str,
    key: &str,
    opts: &Element,
    moved: &[String],
) -> common::eas::Synced {
    let s = p.sync_changes(inbox, key, 20, opts.clone()).await;
    assert_eq!(s.status, "1", "no Status 3");
    assert!(
        s.commands
            .iter()
            .all(|c| !moved.iter().any(|m| m == c.server_id())),
        "the device's own move comes back: {:?}",
        s.commands.iter().map(|c| c.server_id()).collect::<Vec<_>>()
    );
    s
}

#[tokio::test]
async fn ten_thousand_messages_arrive_exactly_once() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("tenk");
    let server = Server::start(stack);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let msgs: Vec<_> = (0..10_000)
        .map(|i| message("bulk@example.org", &user, &format!("bulk {i}"), "x"))
        .collect();
    imap.append_many("INBOX", &msgs, "");
    let p = server.phone(stack, &user, &pw, "TENK1").await;
    let inbox = p.folder_id(2).await;
    let (_, cmds) = p.sync_all(&inbox, 100, mail_options(1, Some(256))).await;
    let mut uids: Vec<u32> = cmds
        .iter()
        .map(|c| {
            assert!(matches!(c, Cmd::Add(..)), "{c:?}");
            c.server_id().split(':').nth(1).unwrap().parse().unwrap()
        })
        .collect();
    let n = uids.len();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), n, "every UID exactly once");
    let upstream: Vec<u32> = imap.flags("INBOX").into_iter().map(|(u, _)| u).collect();
    assert_eq!(uids, upstream);
}

/// A window read ahead (and converted) while the phone reads the previous one is
/// still sent as the phone's next request asks: with flags changed upstream in
/// between, and in the body options of that request.
#[tokio::test]
async fn a_window_read_ahead_follows_later_flags_and_options() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("ahead");
    let server = Server::start(stack);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let body = "0123456789".repeat(20);
    let msgs: Vec<_> = (0..30)
        .map(|i| message("ahead@example.org", &user, &format!("ahead {i}"), &body))
        .collect();
    imap.append_many("INBOX", &msgs, "");
    let p = server.phone(stack, &user, &pw, "AHEAD1").await;
    let inbox = p.folder_id(2).await;
    let long = mail_options(1, Some(100));
    let first = p
        .sync_one(collection(&inbox, "0", None, Some(long.clone()), vec![]))
        .await;
    let w1 = p
        .sync_changes(&inbox, &first.sync_key, 10, long.clone())
        .await;
    assert!(w1.more_available && w1.commands.len() == 10);
    // The second window is read ahead now; every message becomes read after that.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for uid in 1..=30 {
        imap.store("INBOX", uid, "+FLAGS (\\Seen)");
    }
    // Past the moments in which a paging Sync skips the upstream delta.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    // Room for the ten Changes (read, on the phone since the first window) and the
    // fifteen next Adds, ten of which were read ahead.
    let w2 = p.sync_changes(&inbox, &w1.sync_key, 25, long.clone()).await;
    let adds = |s: &common::eas::Synced| {
        s.commands
            .iter()
            .filter(|c| matches!(c, Cmd::Add(..)))
            .count()
    };
    assert_eq!((w2.commands.len(), adds(&w2)), (25, 15));
    for c in &w2.commands {
        let (Cmd::Add(_, data) | Cmd::Change(_, data)) = c else {
            panic!("{c:?}")
        };
        assert_eq!(text(data, E::Read), "1", "{c:?}");
    }
    // The last five were read ahead for 100 bytes of body; the phone now asks for 20.
    let short = mail_options(1, Some(20));
    let w3 = p.sync_changes(&inbox, &w2.sync_key, 25, short).await;
    assert_eq!(adds(&w3), 5);
    for c in &w3.commands {
        let Cmd::Add(_, data) = c else {
            panic!("{c:?}")
        };
        let body = data.first(B::Body).expect("Body");
        assert_eq!(body.child_text(B::Data).unwrap().len(), 20);
        assert_eq!(body.child_text(B::Truncated).as_deref(), Some("1"));
    }
    assert!(!w3.more_available, "30 messages in three windows");
}

#[tokio::test]
async fn ids_of_another_account_are_not_found() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("forge-a");
    let (bob, bob_pw) = stack.new_user("forge-b");
    // Bob gets many more folders than Alice, so his last folder id is one her map lacks.
    for i in 0..20 {
        stack.doveadm(&["mailbox", "create", "-u", &bob, &format!("Bobs{i}")]);
    }
    let server = Server::start(stack);
    let mut imap = Imap::login(stack.imap_port, &bob, &bob_pw);
    imap.append(
        "Bobs19",
        &message("x@example.org", &bob, "secret", "bob only"),
        "",
    );
    let pb = server.phone(stack, &bob, &bob_pw, "FORGEB").await;
    let bobs5 = pb.folder_id_by_name("Bobs19").await;
    let pa = server.phone(stack, &alice, &alice_pw, "FORGEA").await;
    pa.folder_id(2).await;
    // Bob's folder id does not exist in Alice's map: Status 12 for Sync...
    let s = pa
        .sync_one(collection(
            &bobs5,
            "0",
            None,
            Some(mail_options(1, None)),
            vec![],
        ))
        .await;
    assert_eq!(s.status, "12");
    // ... "not found" for ItemOperations by ServerId and by FileReference ...
    let fetch = Element::new(I::ItemOperations).child(
        Element::new(I::Fetch)
            .text_child(I::Store, "Mailbox")
            .text_child(A::CollectionId, bobs5.clone())
            .text_child(A::ServerId, format!("{bobs5}:1")),
    );
    let a = pa.post("ItemOperations", &fetch).await;
    let f = a
        .body
        .as_ref()
        .unwrap()
        .first(I::Response)
        .and_then(|r| r.first(I::Fetch))
        .unwrap();
    assert_eq!(text(f, I::Status), "6");
    let by_ref = Element::new(I::ItemOperations).child(
        Element::new(I::Fetch)
            .text_child(I::Store, "Mailbox")
            .text_child(B::FileReference, format!("{bobs5}:1:0")),
    );
    let a = pa.post("ItemOperations", &by_ref).await;
    let f = a
        .body
        .as_ref()
        .unwrap()
        .first(I::Response)
        .and_then(|r| r.first(I::Fetch))
        .unwrap();
    assert_eq!(text(f, I::Status), "15");
    // ... and an invalid source for MoveItems.
    let forged = pa.move_item(&format!("{bobs5}:1"), &bobs5, "1").await;
    assert_eq!(forged.0, "1");
    assert_eq!(imap.count("Bobs19"), 1, "Bob's message is untouched");
}

/// A message of a thread: `id` is its own Message-ID, `refs` the References header.
fn thread_message(user: &str, subject: &str, id: &str, refs: &str) -> Vec<u8> {
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!("References: {refs}\r\nIn-Reply-To: {refs}\r\n")
    };
    format!(
        "From: x@example.org\r\nTo: {user}\r\nSubject: {subject}\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: {id}\r\n{refs}\
         Content-Type: text/plain\r\n\r\nbody of {subject}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn conversation_move_takes_the_thread_and_its_future_messages() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("convmove");
    let mut server = Server::start(stack);
    stack.doveadm(&["mailbox", "create", "-u", &user, "Project", "Older"]);
    let root_id = format!("<{}@thread>", common::imap::rand_id());
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    imap.append("INBOX", &thread_message(&user, "plan", &root_id, ""), "");
    imap.append(
        "INBOX",
        &thread_message(&user, "Re: plan", "<r1@thread>", &root_id),
        "",
    );
    imap.append(
        "INBOX",
        &message("x@example.org", &user, "unrelated", "u"),
        "",
    );
    imap.append(
        "Older",
        &thread_message(&user, "Re: plan (filed)", "<r2@thread>", &root_id),
        "",
    );
    imap.append(
        "Sent",
        &thread_message(&user, "Re: plan (sent)", "<s1@thread>", &root_id),
        "\\Seen",
    );

    let mut p = server.phone(stack, &user, &pw, "CONVMOVE1").await;
    let inbox = p.folder_id(2).await;
    let project = p.folder_id_by_name("Project").await;
    let opts = mail_options(1, Some(100));
    let (key, cmds) = p.sync_all(&inbox, 50, opts.clone()).await;
    let conversation = |subject: &str| -> Vec<u8> {
        cmds.iter()
            .find_map(|c| match c {
                Cmd::Add(_, d) if text(d, E::Subject) == subject => d
                    .first(airsync::wbxml::pages::Email2::ConversationId)
                    .and_then(|e| e.bytes())
                    .map(|b| b.into_owned()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no ConversationId for {subject}"))
    };
    let conv = conversation("plan");
    assert_eq!(conv, conversation("Re: plan"), "one thread, one id");
    assert_ne!(conv, conversation("unrelated"));
    // Killed right after the Sync that showed the conversation: the move finds it all
    // the same (it reads the thread upstream, nothing recorded while syncing).
    let dir = server.dir.clone();
    server.kill();
    let server = Server::start_in(stack, &dir, "");
    p.base_url = server.base_url.clone();

    let move_op = |conv: &[u8], always: bool| {
        let mut op = Element::new(I::Move)
            .child(Element::with_opaque(I::ConversationId, conv.to_vec()))
            .text_child(I::DstFldId, project.clone());
        if always {
            op.push(Element::new(I::Options).child(Element::new(I::MoveAlways)));
        }
        Element::new(I::ItemOperations).child(op)
    };
    let status_of = |a: &common::eas::Answer| {
        let m = a
            .body
            .as_ref()
            .unwrap()
            .first(I::Response)
            .unwrap()
            .first(I::Move)
            .unwrap();
        text(m, I::Status)
    };
    // MS-ASCMD 2.2.3.118: MoveAlways is required.
    let a = p.post("ItemOperations", &move_op(&conv, false)).await;
    assert_eq!(status_of(&a), "155", "{}", a.xml());
    assert_eq!(imap.count("Project"), 0);
    // A conversation none of the account's messages belongs to is not found.
    let a = p.post("ItemOperations", &move_op(&[7u8; 16], true)).await;
    assert_eq!(status_of(&a), "6", "{}", a.xml());

    let a = p.post("ItemOperations", &move_op(&conv, true)).await;
    assert_eq!(status_of(&a), "1", "{}", a.xml());
    let m = a
        .body
        .as_ref()
        .unwrap()
        .first(I::Response)
        .unwrap()
        .first(I::Move)
        .unwrap();
    assert_eq!(
        m.first(I::ConversationId)
            .and_then(|e| e.bytes())
            .unwrap()
            .into_owned(),
        conv,
        "the answer names the conversation"
    );
    assert_eq!(
        imap.count("Project"),
        3,
        "both INBOX messages and the filed one"
    );
    assert_eq!(imap.count("INBOX"), 1, "the unrelated message stays");
    assert_eq!(imap.count("Older"), 0);
    assert_eq!(imap.count("Sent"), 1, "Sent Items are never moved");

    // The device learns of it through ordinary Sync: two Deletes in INBOX.
    let s = p.sync_changes(&inbox, &key, 50, opts.clone()).await;
    let deletes = s
        .commands
        .iter()
        .filter(|c| matches!(c, Cmd::Delete(_) | Cmd::SoftDelete(_)))
        .count();
    assert_eq!(deletes, 2, "{:?}", s.commands);

    // A later message of the conversation goes to Project, never shows in INBOX.
    stack.deliver(
        "x@example.org",
        &user,
        &thread_message(&user, "Re: plan (later)", "<r3@thread>", &root_id),
    );
    wait_for_messages(stack, &user, &pw, "INBOX", 2);
    let s2 = p.sync_changes(&inbox, &s.sync_key, 50, opts.clone()).await;
    assert!(s2.adds().is_empty(), "{:?}", s2.commands);
    assert_eq!(imap.count("INBOX"), 1);
    let (_, project_cmds) = p.sync_all(&project, 50, opts).await;
    let subjects: Vec<String> = project_cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::Add(_, d) => Some(text(d, E::Subject)),
            _ => None,
        })
        .collect();
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s == "Re: plan (later)"),
        "{subjects:?}"
    );
}

/// What a Sync answer says of one collection: CollectionId, Status, SyncKey and the
/// Adds as (ServerId, Subject).
type CollectionAnswer = (String, String, String, Vec<(String, String)>);

/// [`CollectionAnswer`] of each collection of a Sync answer.
fn collections(answer: &common::eas::Answer) -> Vec<CollectionAnswer> {
    let text = |e: &Element, t| e.child_text(t).map(|s| s.into_owned()).unwrap_or_default();
    let Some(body) = answer.body.as_ref() else {
        return Vec::new();
    };
    body.first(A::Collections)
        .into_iter()
        .flat_map(|cs| cs.all(A::Collection))
        .map(|c| {
            let adds = c
                .first(A::Commands)
                .into_iter()
                .flat_map(|cmds| cmds.all(A::Add))
                .map(|add| {
                    let data = add.first(A::ApplicationData);
                    let subject = data.map(|d| text(d, E::Subject)).unwrap_or_default();
                    (text(add, A::ServerId), subject)
                })
                .collect();
            let (cid, status, key) = (
                text(c, A::CollectionId),
                text(c, A::Status),
                text(c, A::SyncKey),
            );
            (cid, status, key, adds)
        })
        .collect()
}

/// Two collections with changes in one Sync: both new keys are stored, with the cached
/// request, before the answer goes out — the same request again gets the same items
/// (never Status 3), and an empty Sync request (MS-ASCMD 2.2.3.165: the cached one)
/// continues both from the keys just answered.
#[tokio::test]
async fn two_collections_in_one_sync_keep_both_new_keys() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("twocols");
    let server = Server::start(stack);
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let mail = |subject: &str| message("x@example.org", &user, subject, "b");
    for (mailbox, prefix) in [("INBOX", "in"), ("Sent", "out")] {
        let msgs: Vec<_> = (0..3).map(|i| mail(&format!("{prefix}{i}"))).collect();
        imap.append_many(mailbox, &msgs, "");
    }
    let p = server.phone(stack, &user, &pw, "TWOCOLS").await;
    let (inbox, sent) = (p.folder_id(2).await, p.folder_id(5).await);
    let opts = mail_options(1, Some(100));
    let keys = (
        p.first_key(&inbox, &opts).await,
        p.first_key(&sent, &opts).await,
    );
    let both = Element::new(A::Sync).child(
        Element::new(A::Collections)
            .child(collection(
                &inbox,
                &keys.0,
                Some(10),
                Some(opts.clone()),
                vec![],
            ))
            .child(collection(
                &sent,
                &keys.1,
                Some(10),
                Some(opts.clone()),
                vec![],
            )),
    );
    let first = collections(&p.post("Sync", &both).await);
    let subjects = |adds: &[(String, String)]| {
        let mut s: Vec<String> = adds.iter().map(|(_, s)| s.clone()).collect();
        s.sort();
        s
    };
    assert_eq!(first.len(), 2, "{first:?}");
    for ((cid, status, key, adds), (id, prefix, old)) in first
        .iter()
        .zip([(&inbox, "in", &keys.0), (&sent, "out", &keys.1)])
    {
        assert_eq!((cid, status.as_str()), (id, "1"));
        assert_ne!(key, old, "{cid}: a new key");
        let want: Vec<String> = (0..3).map(|i| format!("{prefix}{i}")).collect();
        assert_eq!(subjects(adds), want, "{cid}");
    }
    // The answer was "lost": the same request gets the same keys and ServerIds.
    let again = collections(&p.post("Sync", &both).await);
    assert_eq!(again, first);

    // New mail in both folders, then an empty request: the cached one, with both keys.
    imap.append("INBOX", &mail("in3"), "");
    imap.append("Sent", &mail("out3"), "");
    let empty = send(p.request(reqwest::Method::POST, &p.url("Sync"))).await;
    let next = collections(&empty);
    assert_eq!(next.len(), 2, "{}", empty.xml());
    for ((cid, status, _, adds), (id, subject)) in
        next.iter().zip([(&inbox, "in3"), (&sent, "out3")])
    {
        assert_eq!((cid, status.as_str()), (id, "1"), "{}", empty.xml());
        assert_eq!(subjects(adds), [subject], "{cid}: only the new message");
    }
}

/// The benches' phone reads Sync answers as events (`common::eas::scan_sync`); it must
/// read what the tree-building client reads: the collection's Status, SyncKey and
/// MoreAvailable, and the server's Adds alone (not the Responses to client Adds, nor
/// the top-level Status).
#[test]
fn the_scanning_phone_reads_what_the_tree_client_reads() {
    use airsync::wbxml::encode;
    use common::eas::{parse_sync, scan_sync};
    let add = |sid: &str, subject: &str| {
        Element::new(A::Add).text_child(A::ServerId, sid).child(
            Element::new(A::ApplicationData)
                .text_child(E::Subject, subject)
                .child(Element::new(B::Body).text_child(B::Type, "1")),
        )
    };
    let answer = |more: bool| {
        let mut collection = Element::new(A::Collection)
            .text_child(A::SyncKey, "7")
            .text_child(A::CollectionId, "1")
            .text_child(A::Status, "1");
        if more {
            collection.push(Element::new(A::MoreAvailable));
        }
        let collection = collection
            .child(
                Element::new(A::Commands)
                    .child(add("1:9", "nine"))
                    .child(
                        Element::new(A::Change)
                            .text_child(A::ServerId, "1:4")
                            .child(Element::new(A::ApplicationData)),
                    )
                    .child(add("1:8", "eight")),
            )
            .child(
                Element::new(A::Responses).child(
                    Element::new(A::Add)
                        .text_child(A::ClientId, "c1")
                        .text_child(A::ServerId, "1:10")
                        .text_child(A::Status, "1"),
                ),
            );
        // A top-level Status unlike the collection's, which is the one read.
        Element::new(A::Sync)
            .text_child(A::Status, "4")
            .child(Element::new(A::Collections).child(collection))
    };
    let scanned = scan_sync(&encode(&answer(true)));
    let tree = parse_sync(Some(&answer(true)));
    let tree_adds: Vec<String> = tree
        .commands
        .iter()
        .filter_map(|c| match c {
            Cmd::Add(sid, _) => Some(sid.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(scanned.added, tree_adds);
    assert_eq!(scanned.added, ["1:9", "1:8"]);
    assert_eq!(scanned.with_data, 2);
    assert_eq!(
        (scanned.status.as_str(), scanned.sync_key.as_str()),
        (tree.status.as_str(), tree.sync_key.as_str())
    );
    assert_eq!(
        (scanned.status.as_str(), scanned.sync_key.as_str()),
        ("1", "7")
    );
    assert!(scanned.more_available && tree.more_available);
    // Without MoreAvailable, neither sees more.
    assert!(!scan_sync(&encode(&answer(false))).more_available);
    assert!(!parse_sync(Some(&answer(false))).more_available);
}
