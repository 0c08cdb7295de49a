//! Smoke test of the upstream test stack (tests/stack): every service the other
//! integration tests rely on is up and behaves as they assume.

mod common;

use common::{Stack, wait_until};
use std::time::Duration;

const NEEDED_CAPABILITIES: &[&str] = &[
    "CONDSTORE",
    "QRESYNC",
    "IDLE",
    "NOTIFY",
    "MOVE",
    "SPECIAL-USE",
    "UIDPLUS",
    "ACL",
];

#[test]
fn mail_delivered_through_the_mta_lands_in_the_inbox() {
    let stack = Stack::get();
    let (login, _password) = stack.new_user("smoke-deliver");
    let message_id = format!("<smoke-{}@test.invalid>", std::process::id());
    let raw = format!(
        "From: Sender <sender@elsewhere.test>\r\nTo: {login}\r\nSubject: smoke\r\n\
         Message-ID: {message_id}\r\nDate: Mon, 02 Jan 2026 10:00:00 +0000\r\n\r\n\
         Hello.\r\n.leading dot survives\r\n"
    );
    stack.deliver("sender@elsewhere.test", &login, raw.as_bytes());
    let uids = stack.wait_for_messages(
        &login,
        "INBOX",
        &["HEADER", "Message-ID", &message_id],
        1,
        Duration::from_secs(10),
    );
    assert_eq!(uids.len(), 1, "exactly one copy delivered");
    let body = stack.doveadm(&[
        "fetch",
        "-u",
        &login,
        "body",
        "mailbox",
        "INBOX",
        "uid",
        &uids[0].to_string(),
    ]);
    assert!(
        body.contains(".leading dot survives"),
        "dot-stuffing undone: {body:?}"
    );
}

#[test]
fn mail_to_other_domains_stays_in_the_sink() {
    let stack = Stack::get();
    let (login, password) = stack.new_user("smoke-submit");
    let message_id = format!("<smoke-ext-{}@test.invalid>", std::process::id());
    let raw = format!(
        "From: {login}\r\nTo: someone@elsewhere.test\r\nSubject: out\r\nMessage-ID: {message_id}\r\n\r\nx\r\n"
    );
    stack.submit(
        &login,
        &password,
        &login,
        &["someone@elsewhere.test"],
        raw.as_bytes(),
    );
    let (sink, _) = stack.sink();
    stack.wait_for_messages(
        &sink,
        "INBOX",
        &["HEADER", "Message-ID", &message_id],
        1,
        Duration::from_secs(10),
    );
}

#[test]
fn sieve_runs_at_delivery_and_vacation_replies_stay_on_the_machine() {
    let stack = Stack::get();
    let (login, _) = stack.new_user("smoke-sieve");
    stack.set_sieve(
        &login,
        "require [\"fileinto\", \"vacation\"];\n\
         if header :contains \"subject\" \"[junk]\" { fileinto \"Junk\"; stop; }\n\
         vacation :days 1 :subject \"smoke away\" \"Away.\";\n",
    );
    let tag = format!("{}-{}", std::process::id(), login.len());
    let junk_id = format!("<junk-{tag}@far.test>");
    stack.deliver(
        "carol@far.test",
        &login,
        format!("From: carol@far.test\r\nTo: {login}\r\nSubject: [junk] offer\r\nMessage-ID: {junk_id}\r\n\r\nx\r\n").as_bytes(),
    );
    stack.wait_for_messages(
        &login,
        "Junk",
        &["HEADER", "Message-ID", &junk_id],
        1,
        Duration::from_secs(10),
    );
    // A vacation reply goes to the sender through the stack's Postfix; the sender is
    // outside the test domain, so it lands in the sink.
    let sender = format!("dave-{tag}@far.test");
    stack.deliver(
        &sender,
        &login,
        format!("From: {sender}\r\nTo: {login}\r\nSubject: hello\r\nMessage-ID: <v-{tag}@far.test>\r\n\r\nx\r\n").as_bytes(),
    );
    let (sink, _) = stack.sink();
    stack.wait_for_messages(
        &sink,
        "INBOX",
        &["TO", &sender, "SUBJECT", "smoke away"],
        1,
        Duration::from_secs(10),
    );
}

#[test]
fn imap_offers_what_airsync_needs_and_the_special_folders_exist() {
    let stack = Stack::get();
    let (login, password) = stack.new_user("smoke-caps");
    let mut imap = stack.imap_login(&login, &password);
    let caps = imap.capabilities();
    for need in NEEDED_CAPABILITIES {
        assert!(
            caps.iter().any(|c| c.eq_ignore_ascii_case(need)),
            "IMAP lacks {need}: {caps:?}"
        );
    }
    let list = imap.ok("LIST \"\" \"*\"").join("\n");
    for (name, flag) in [
        ("Drafts", "\\Drafts"),
        ("Sent", "\\Sent"),
        ("Trash", "\\Trash"),
        ("Junk", "\\Junk"),
        ("Archive", "\\Archive"),
    ] {
        assert!(
            list.lines()
                .any(|l| l.ends_with(&format!("\"/\" {name}")) && l.contains(flag)),
            "no {name} with {flag} in:\n{list}"
        );
    }
    assert!(
        !list.contains("Outbox"),
        "the stack must not offer Outbox (airsync does):\n{list}"
    );
}

#[test]
fn a_shared_folder_is_visible_read_only_to_the_other_user() {
    let stack = Stack::get();
    let (owner, owner_pw) = stack.new_user("smoke-owner");
    let (reader, reader_pw) = stack.new_user("smoke-reader");
    let mut imap = stack.imap_login(&owner, &owner_pw);
    imap.ok("CREATE Team");
    imap.ok(&format!("SETACL Team {} lr", common::quote(&reader)));
    let mut other = stack.imap_login(&reader, &reader_pw);
    let shared = format!("shared/{owner}/Team");
    let list = other.ok("LIST \"\" \"shared/*\"").join("\n");
    assert!(
        list.contains(&shared),
        "{reader} does not see {shared}:\n{list}"
    );
    let rights = other
        .ok(&format!("MYRIGHTS {}", common::quote(&shared)))
        .join("\n");
    assert!(
        rights.contains(" lr") || rights.contains(" \"lr\""),
        "rights: {rights}"
    );
    let select = other
        .command(&format!("SELECT {}", common::quote(&shared)))
        .join("\n");
    assert!(
        select.contains("[READ-ONLY]"),
        "SELECT of a read-only share:\n{select}"
    );
}

#[test]
fn a_wrong_password_fails_fast_and_does_not_slow_other_logins() {
    let stack = Stack::get();
    let (login, password) = stack.new_user("smoke-penalty");
    let mut imap = common::Imap::connect(stack.imap_port);
    let start = std::time::Instant::now();
    let lines = imap.command(&format!("LOGIN {} \"wrong\"", common::quote(&login)));
    assert!(lines.last().unwrap().contains(" NO"), "{lines:?}");
    // Dovecot 2.3 answers failures on a 0.5 s timer even with auth_failure_delay = 0.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "wrong password took {:?}",
        start.elapsed()
    );
    let start = std::time::Instant::now();
    stack.imap_login(&login, &password);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "login after a failure took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn radicale_serves_the_users_collections() {
    let stack = Stack::get();
    let (login, password) = tokio::task::spawn_blocking(|| Stack::get().new_user("smoke-dav"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let propfind = reqwest::Method::from_bytes(b"PROPFIND").unwrap();
    let url = format!("{}{login}/", stack.dav_url());
    let resp = client
        .request(propfind.clone(), &url)
        .basic_auth(&login, Some(&password))
        .header("Depth", "1")
        .header("Content-Type", "application/xml")
        .body(r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/><displayname/></prop></propfind>"#)
        .send()
        .await
        .expect("PROPFIND");
    assert_eq!(resp.status().as_u16(), 207, "PROPFIND {url}");
    let body = resp.text().await.unwrap();
    // Radicale percent-encodes the '@' of the principal in hrefs.
    let principal = login.replace('@', "%40");
    for coll in ["calendar/", "tasks/", "contacts/"] {
        assert!(
            body.contains(&format!("/{principal}/{coll}")),
            "no {coll} in:\n{body}"
        );
    }
    // Another user's principal is not readable (owner_only).
    let (other, _) = stack.bob();
    let resp = client
        .request(propfind, format!("{}{other}/", stack.dav_url()))
        .basic_auth(&login, Some(&password))
        .header("Depth", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "owner_only rights");
}

#[tokio::test]
async fn imaps_certificate_verifies_against_the_test_ca() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio_rustls::rustls::{
        self, pki_types::CertificateDer, pki_types::ServerName, pki_types::pem::PemObject,
    };

    let stack = Stack::get();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&stack.ca_pem()) {
        roots.add(cert.expect("CA PEM")).expect("add test CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    for name in ["localhost", "127.0.0.1"] {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.imaps_port))
            .await
            .unwrap();
        let server_name = ServerName::try_from(name.to_string()).unwrap();
        let tls = connector
            .connect(server_name, tcp)
            .await
            .unwrap_or_else(|e| panic!("TLS to IMAPS as {name}: {e}"));
        let mut greeting = String::new();
        BufReader::new(tls).read_line(&mut greeting).await.unwrap();
        assert!(greeting.starts_with("* OK"), "{greeting:?}");
    }
}

#[test]
fn managesieve_answers() {
    let stack = Stack::get();
    let greeting = wait_until(Duration::from_secs(5), "ManageSieve greeting", || {
        use std::io::{BufRead, BufReader};
        let s = std::net::TcpStream::connect(("127.0.0.1", stack.sieve_port)).ok()?;
        let mut lines = Vec::new();
        for line in BufReader::new(s).lines() {
            let line = line.ok()?;
            let done = line.starts_with("OK");
            lines.push(line);
            if done {
                break;
            }
        }
        Some(lines.join("\n"))
    });
    assert!(greeting.contains("\"SIEVE\""), "{greeting}");
}
