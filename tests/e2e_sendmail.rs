//! Sending mail end to end: SendMail (16.1 WBXML and 12.1 message/rfc822), SmartReply
//! and SmartForward through airsync and the stack's Postfix submission into Dovecot;
//! the Sent copy, retries by ClientId, and From control.

mod common;

use std::time::Duration;

use airsync::wbxml::Element;
use airsync::wbxml::pages::{AirSyncBase as B, ComposeMail as C, Email as E, ItemOperations as I};
use base64::Engine;
use common::Stack;
use common::airsync::Server;
use common::eas::{Cmd, Phone, body_text, https_client, mail_options};
use common::imap::{Imap, rand_id};

async fn phone(server: &Server, stack: &Stack, user: &str, password: &str, version: &str) -> Phone {
    let mut p = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        user,
        password,
        &format!("SEND{}", rand_id()),
    );
    p.version = version.into();
    p.provision().await;
    p
}

fn text(data: &Element, tag: airsync::wbxml::Tag) -> String {
    data.child_text(tag)
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

const BIN_A: &[u8] = b"\x00\x01\x02\xff\xfe binary one \x80\r\n\x00";
const BIN_B: &[u8] = b"%PDF-1.4\n second attachment \xc3\x28 \x00\xff%%EOF";

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn with_attachments(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n\
         --x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTwo files attached.\r\n\
         --x\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Disposition: attachment; filename=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --x\r\nContent-Type: application/pdf; name=b.pdf\r\nContent-Disposition: attachment; filename=b.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--x--\r\n",
        b64(BIN_A),
        b64(BIN_B)
    )
    .into_bytes()
}

fn send_mail(client_id: &str, mime: &[u8]) -> Element {
    Element::new(C::SendMail)
        .text_child(C::ClientId, client_id)
        .child(Element::new(C::SaveInSentItems))
        .child(Element::with_opaque(C::Mime, mime.to_vec()))
}

/// Bob's INBOX as a device sees it, with plain bodies.
async fn inbox_adds(p: &Phone) -> (String, Vec<(String, Element)>) {
    let inbox = p.folder_id(2).await;
    let (_, cmds) = p.sync_all(&inbox, 50, mail_options(1, None)).await;
    let adds = cmds
        .into_iter()
        .filter_map(|c| {
            if let Cmd::Add(id, d) = c {
                Some((id, d))
            } else {
                None
            }
        })
        .collect();
    (inbox, adds)
}

#[tokio::test]
async fn sendmail_delivers_attachments_keeps_a_sent_copy_and_sends_once_per_client_id() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("send-alice");
    let (bob, bob_pw) = stack.new_user("send-bob");
    let server = Server::start(stack);
    let pa = phone(&server, stack, &alice, &alice_pw, "16.1").await;
    let subject = format!("files {}", rand_id());
    let doc = send_mail("client-1", &with_attachments(&alice, &bob, &subject));
    let a = pa.post("SendMail", &doc).await;
    assert_eq!(
        (a.status, a.body.is_none()),
        (200, true),
        "success is an empty answer: {}",
        a.xml()
    );
    // The same ClientId again (the device lost the answer): nothing is sent twice.
    let again = pa.post("SendMail", &doc).await;
    assert!(
        again.xml().contains("<Status>118</Status>"),
        "{}",
        again.xml()
    );

    stack.wait_for_messages(
        &bob,
        "INBOX",
        &["HEADER", "Subject", &subject],
        1,
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        stack.search(&bob, "INBOX", &["ALL"]).len(),
        1,
        "delivered exactly once"
    );
    let sent = stack.search(&alice, "Sent", &["HEADER", "Subject", &subject]);
    assert_eq!(sent.len(), 1, "one Sent copy");
    let mut imap = Imap::login(stack.imap_port, &alice, &alice_pw);
    assert!(imap.flags("Sent")[0].1.contains("\\Seen"));

    let pb = phone(&server, stack, &bob, &bob_pw, "16.1").await;
    let (_, adds) = inbox_adds(&pb).await;
    assert_eq!(adds.len(), 1);
    let (_, data) = &adds[0];
    assert_eq!(text(data, E::Subject), subject);
    let atts: Vec<&Element> = data
        .first(B::Attachments)
        .expect("attachments")
        .all(B::Attachment)
        .collect();
    assert_eq!(atts.len(), 2);
    for (att, expected) in atts.iter().zip([BIN_A, BIN_B]) {
        let fetch = Element::new(I::ItemOperations).child(
            Element::new(I::Fetch)
                .text_child(I::Store, "Mailbox")
                .text_child(B::FileReference, text(att, B::FileReference)),
        );
        let a = pb.post("ItemOperations", &fetch).await;
        let f = a
            .body
            .as_ref()
            .unwrap()
            .first(I::Response)
            .and_then(|r| r.first(I::Fetch))
            .unwrap();
        assert_eq!(text(f, I::Status), "1", "{}", a.xml());
        let got = base64::engine::general_purpose::STANDARD
            .decode(text(f.first(I::Properties).unwrap(), I::Data))
            .unwrap();
        assert_eq!(
            got,
            expected,
            "attachment {} byte-exact",
            text(att, B::DisplayName)
        );
    }
}

#[tokio::test]
async fn smart_reply_quotes_and_smart_forward_carries_the_attachments() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("smart-alice");
    let (bob, bob_pw) = stack.new_user("smart-bob");
    let server = Server::start(stack);
    let subject = format!("plans {}", rand_id());
    stack.deliver(&alice, &bob, &with_attachments(&alice, &bob, &subject));
    stack.wait_for_messages(&bob, "INBOX", &["ALL"], 1, Duration::from_secs(20));
    let pb = phone(&server, stack, &bob, &bob_pw, "16.1").await;
    let (inbox, adds) = inbox_adds(&pb).await;
    let item = adds[0].0.clone();
    let source = || {
        Element::new(C::Source)
            .text_child(C::FolderId, inbox.clone())
            .text_child(C::ItemId, item.clone())
    };

    let reply = format!(
        "From: {bob}\r\nTo: {alice}\r\nSubject: RE: {subject}\r\nContent-Type: text/plain\r\n\r\nCount me in.\r\n"
    );
    let doc = Element::new(C::SmartReply)
        .text_child(C::ClientId, "r-1")
        .child(Element::new(C::SaveInSentItems))
        .child(source())
        .child(Element::with_opaque(C::Mime, reply.into_bytes()));
    let a = pb.post("SmartReply", &doc).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());

    let forward = format!(
        "From: {bob}\r\nTo: {alice}\r\nSubject: FW: {subject}\r\nContent-Type: text/plain\r\n\r\nFor your files.\r\n"
    );
    let doc = Element::new(C::SmartForward)
        .text_child(C::ClientId, "f-1")
        .child(source())
        .child(Element::with_opaque(C::Mime, forward.into_bytes()));
    let a = pb.post("SmartForward", &doc).await;
    assert_eq!((a.status, a.body.is_none()), (200, true), "{}", a.xml());

    stack.wait_for_messages(&alice, "INBOX", &["ALL"], 2, Duration::from_secs(20));
    let pa = phone(&server, stack, &alice, &alice_pw, "16.1").await;
    let (_, got) = inbox_adds(&pa).await;
    let find = |prefix: &str| {
        got.iter()
            .find(|(_, d)| text(d, E::Subject).starts_with(prefix))
            .map(|(_, d)| d.clone())
            .unwrap()
    };
    let r = find("RE:");
    let body = body_text(&r);
    assert!(body.starts_with("Count me in."), "{body}");
    assert!(
        body.contains("-----Original Message-----") && body.contains("> Two files attached."),
        "{body}"
    );
    assert!(
        r.first(B::Attachments).is_none(),
        "a reply does not carry the attachments"
    );
    let f = find("FW:");
    let body = body_text(&f);
    assert!(
        body.starts_with("For your files.") && body.contains("Two files attached."),
        "{body}"
    );
    let names: Vec<String> = f
        .first(B::Attachments)
        .expect("forwarded attachments")
        .all(B::Attachment)
        .map(|a| text(a, B::DisplayName))
        .collect();
    assert_eq!(names, vec!["a.bin", "b.pdf"]);

    // The original is marked on the server: every device shows LastVerbExecuted.
    let mut imap = Imap::login(stack.imap_port, &bob, &bob_pw);
    let flags = &imap.flags("INBOX")[0].1;
    assert!(
        flags.contains("\\Answered") && flags.contains("$Forwarded"),
        "{flags}"
    );
    assert_eq!(
        stack
            .search(&bob, "Sent", &["HEADER", "Subject", "RE:"])
            .len(),
        1,
        "the reply was saved, the forward was not asked to be"
    );
}

#[tokio::test]
async fn a_forged_from_is_refused_and_nothing_reaches_the_mta() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("forge-alice");
    let (bob, _) = stack.new_user("forge-bob");
    let server = Server::start(stack);
    let pa = phone(&server, stack, &alice, &alice_pw, "16.1").await;
    let marker = rand_id();
    let mime = format!(
        "From: The Boss <{bob}>\r\nTo: {bob}, outside@elsewhere.test\r\nSubject: forged {marker}\r\nMessage-ID: <forged-{marker}@test>\r\n\r\nPay now.\r\n"
    );
    let a = pa
        .post("SendMail", &send_mail("forged", mime.as_bytes()))
        .await;
    assert!(a.xml().contains("<Status>130</Status>"), "{}", a.xml());
    // A message without any recipient is refused too.
    let a = pa
        .post(
            "SendMail",
            &send_mail(
                "empty",
                format!("From: {alice}\r\nSubject: x\r\n\r\nx").as_bytes(),
            ),
        )
        .await;
    assert!(a.xml().contains("<Status>119</Status>"), "{}", a.xml());

    std::thread::sleep(Duration::from_secs(2));
    let (sink, _) = stack.sink();
    for (user, mailbox) in [
        (&bob, "INBOX"),
        (&alice, "INBOX"),
        (&alice, "Sent"),
        (&sink, "INBOX"),
    ] {
        assert!(
            stack
                .search(user, mailbox, &["HEADER", "Subject", &marker])
                .is_empty(),
            "{user}/{mailbox} got the forged message"
        );
    }
    let postfix = std::fs::read_to_string(stack.dir.join("postfix.log")).unwrap_or_default();
    assert!(
        !postfix.contains(&format!("forged-{marker}")),
        "Postfix saw the forged message"
    );
}

#[tokio::test]
async fn sendmail_12_1_posts_message_rfc822_with_save_in_sent() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("v12-alice");
    let (bob, _) = stack.new_user("v12-bob");
    let server = Server::start(stack);
    let pa = phone(&server, stack, &alice, &alice_pw, "12.1").await;
    let subject = format!("old client {}", rand_id());
    let mime = format!("To: {bob}\r\nSubject: {subject}\r\n\r\nFrom a 12.1 device.\r\n");
    let r = pa
        .request(
            reqwest::Method::POST,
            &format!("{}&SaveInSent=T", pa.url("SendMail")),
        )
        .header("Content-Type", "message/rfc822")
        .body(mime);
    let a = common::eas::send(r).await;
    assert_eq!(a.status, 200);
    let uids = stack.wait_for_messages(
        &bob,
        "INBOX",
        &["HEADER", "Subject", &subject],
        1,
        Duration::from_secs(20),
    );
    assert_eq!(uids.len(), 1);
    // The missing From was filled with the login address.
    assert_eq!(
        stack
            .search(&bob, "INBOX", &["HEADER", "From", &alice])
            .len(),
        1
    );
    assert_eq!(
        stack
            .search(&alice, "Sent", &["HEADER", "Subject", &subject])
            .len(),
        1
    );
}
