//! Integration tests against a real Dovecot.
//!
//! `AIRSYNC_TEST_STACK` names the directory of a running test stack (see `tests/stack`):
//! its `stack.env` gives `IMAP_PORT`, `IMAPS_PORT`, `CA_CERT` and `DIR`; each test adds its
//! own user with `tests/stack/add-user.sh DIR user pass` (or the script named by
//! `AIRSYNC_TEST_ADD_USER`), so tests run in parallel without seeing each other's mail.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use airsync_imap::{ImapConfig, ImapStore};
use airsync_model::{BackendError, CredentialCheck, Credentials, MailStore, SpecialUse};

mod common;

use common::stack;

/// APPEND with a non-synchronising literal (LITERAL+, RFC 7888).
fn append_cmd(mailbox: &str, msg: &str) -> Vec<u8> {
    format!("APPEND {mailbox} {{{}+}}\r\n{msg}", msg.len()).into_bytes()
}

const MESSAGE: &str = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n";

#[tokio::test]
async fn verify_accepts_the_right_password_and_rejects_a_wrong_one() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("verify");
    store.verify(&alice).await.expect("right password");
    let wrong = Credentials::new(alice.login.clone(), "wrong");
    assert_eq!(store.verify(&wrong).await, Err(BackendError::Auth));
    let nobody = Credentials::new("nobody-at-all@example.org", "x");
    assert_eq!(store.verify(&nobody).await, Err(BackendError::Auth));
}

#[tokio::test]
async fn list_shows_special_use_folders_with_stable_ids() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("list");
    let list = store.list_mailboxes(&alice).await.unwrap();
    let find = |name: &str| {
        list.iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} missing in {list:#?}"))
    };
    assert_eq!(list[0].name, "INBOX", "INBOX comes first");
    for (name, role) in [
        ("INBOX", SpecialUse::Inbox),
        ("Drafts", SpecialUse::Drafts),
        ("Sent", SpecialUse::Sent),
        ("Trash", SpecialUse::Trash),
        ("Junk", SpecialUse::Junk),
    ] {
        let m = find(name);
        assert_eq!(m.special_use, Some(role), "{name}");
        assert!(m.selectable && !m.shared, "{name}");
        assert_eq!(m.delimiter, Some('/'));
        assert!(
            m.id.as_deref().is_some_and(|id| !id.is_empty()),
            "{name} has no id"
        );
    }
    assert!(find("Drafts").subscribed, "auto = subscribe");
    let ids: HashSet<_> = list.iter().filter_map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), list.len(), "ids are distinct");
    // Stable: a second listing (pooled connection) gives the same ids.
    let again = store.list_mailboxes(&alice).await.unwrap();
    assert_eq!(again, list);
}

#[tokio::test]
async fn non_ascii_folder_round_trips_and_keeps_its_id_across_rename() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("utf7");
    let name = "Entwürfe-Ärger";
    store.create_mailbox(&alice, name).await.unwrap();
    assert!(matches!(
        store.create_mailbox(&alice, name).await,
        Err(BackendError::Conflict(_))
    ));
    let list = store.list_mailboxes(&alice).await.unwrap();
    let created = list
        .iter()
        .find(|m| m.name == name)
        .expect("listed under its UTF-8 name");
    assert!(created.selectable && created.special_use.is_none());
    let id = created.id.clone().expect("id");

    let renamed = "Ärger/Übersicht 日本";
    store.rename_mailbox(&alice, name, renamed).await.unwrap();
    let list = store.list_mailboxes(&alice).await.unwrap();
    assert!(!list.iter().any(|m| m.name == name));
    let moved = list.iter().find(|m| m.name == renamed).expect("renamed");
    assert_eq!(
        moved.id.as_deref(),
        Some(id.as_str()),
        "the id survives the rename"
    );
    assert!(list.iter().any(|m| m.name == "Ärger"), "parent listed too");
    assert!(matches!(
        store.rename_mailbox(&alice, name, "x").await,
        Err(BackendError::NotFound(_))
    ));

    store.delete_mailbox(&alice, renamed).await.unwrap();
    let list = store.list_mailboxes(&alice).await.unwrap();
    assert!(!list.iter().any(|m| m.name == renamed));
    assert!(matches!(
        store.delete_mailbox(&alice, renamed).await,
        Err(BackendError::NotFound(_))
    ));
}

#[tokio::test]
async fn status_counts_messages_and_modseq() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("status");
    let before = store.status(&alice, "INBOX").await.unwrap();
    assert_eq!(before.messages, 0);
    assert_eq!(before.uidnext, 1);
    assert!(before.uidvalidity > 0);
    let modseq = before.highestmodseq.expect("Dovecot offers CONDSTORE");

    stack.imap(
        &alice,
        &[&append_cmd("INBOX", MESSAGE), &append_cmd("INBOX", MESSAGE)],
    );
    let after = store.status(&alice, "INBOX").await.unwrap();
    assert_eq!(after.messages, 2);
    assert_eq!(after.uidnext, 3);
    assert_eq!(after.uidvalidity, before.uidvalidity);
    assert!(after.highestmodseq.unwrap() > modseq);

    store.create_mailbox(&alice, "Größe").await.unwrap();
    let s = store.status(&alice, "Größe").await.unwrap();
    assert_eq!((s.messages, s.uidnext), (0, 1));
    assert!(matches!(
        store.status(&alice, "No such folder").await,
        Err(BackendError::NotFound(_))
    ));
}

#[tokio::test]
async fn pooled_connections_are_reused_and_refusals_keep_them() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("pool");
    store.verify(&alice).await.unwrap();
    store.list_mailboxes(&alice).await.unwrap();
    store.status(&alice, "INBOX").await.unwrap();
    // A NO leaves the session usable: it goes back to the pool.
    let _ = store.delete_mailbox(&alice, "missing").await;
    store.verify(&alice).await.unwrap();
    assert_eq!(store.login_count(), 1, "one LOGIN for five operations");
    assert_eq!(store.idle_connections(), 1);

    // Another user gets a connection of its own.
    let bob = stack.user("pool-bob");
    store.verify(&bob).await.unwrap();
    assert_eq!(store.login_count(), 2);
    assert_eq!(store.idle_connections(), 2);
}

#[tokio::test]
async fn wrong_password_neither_reuses_nor_poisons_the_pool() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("poison");
    store.verify(&alice).await.unwrap();
    assert_eq!(store.login_count(), 1);
    let wrong = Credentials::new(alice.login.clone(), "not-the-password");
    assert_eq!(store.verify(&wrong).await, Err(BackendError::Auth));
    assert_eq!(store.list_mailboxes(&wrong).await, Err(BackendError::Auth));
    store.verify(&alice).await.unwrap();
    assert_eq!(
        store.login_count(),
        1,
        "the right password still reuses its session"
    );
    assert_eq!(store.idle_connections(), 1);
}

#[tokio::test]
async fn concurrent_use_stays_within_max_per_user() {
    let stack = stack();
    let mut config = stack.config();
    config.max_per_user = 2;
    let store = ImapStore::new(config).unwrap();
    let alice = stack.user("bounded");
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, alice) = (store.clone(), alice.clone());
            tokio::spawn(async move { store.list_mailboxes(&alice).await.map(|l| l.len()) })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().unwrap() >= 5);
    }
    assert!(store.login_count() <= 2, "logins: {}", store.login_count());
    assert!(store.idle_connections() <= 2);
}

/// A brand-new user's first sessions: a LOGIN alone (the password check) must not open
/// the gate for concurrent first listings, or Dovecot 2.3 deadlocks them on the
/// auto-created mailboxes (a 60 s lock wait, then a failure). CI once hit exactly this
/// order: Provision (verify), then four devices' first FolderSync at once.
#[tokio::test]
async fn first_listings_after_a_bare_login_do_not_deadlock() {
    let stack = stack();
    let store = stack.store();
    for round in 0..20 {
        let alice = stack.user(&format!("fresh{round}"));
        store.verify(&alice).await.expect("login");
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (store, alice) = (store.clone(), alice.clone());
                tokio::spawn(async move { store.list_mailboxes(&alice).await.map(|l| l.len()) })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().expect("listing") >= 5);
        }
    }
}
#[tokio::test]
async fn idle_connections_are_closed_after_pool_idle() {
    let stack = stack();
    let mut config = stack.config();
    config.pool_idle = Duration::from_millis(300);
    let store = ImapStore::new(config).unwrap();
    let alice = stack.user("idle");
    store.verify(&alice).await.unwrap();
    assert_eq!(store.idle_connections(), 1);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(store.idle_connections(), 0, "reaped");
    store.verify(&alice).await.unwrap();
    assert_eq!(store.login_count(), 2);
}

#[tokio::test]
async fn imaps_and_starttls_with_the_test_ca() {
    let stack = stack();
    let alice = stack.user("tls");
    for url in [
        format!("imaps://127.0.0.1:{}", stack.imaps_port),
        format!("imaps://localhost:{}", stack.imaps_port),
        format!("imap://127.0.0.1:{}?tls=starttls", stack.imap_port),
    ] {
        let mut config = stack.config();
        config.url = url.clone();
        config.ca_file = Some(stack.ca_cert.clone());
        let store = ImapStore::new(config).unwrap();
        store
            .verify(&alice)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let list = store.list_mailboxes(&alice).await.unwrap();
        assert!(
            list.iter().any(|m| m.special_use == Some(SpecialUse::Sent)),
            "{url}"
        );
        assert_eq!(store.login_count(), 1, "{url}");
    }
    // Without the CA the certificate is not trusted.
    let mut config = stack.config();
    config.url = format!("imaps://127.0.0.1:{}", stack.imaps_port);
    let store = ImapStore::new(config).unwrap();
    assert!(store.verify(&alice).await.is_err());
}

#[tokio::test]
async fn capabilities_are_cached_per_server() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("caps");
    let caps = store.capabilities(&alice).await.unwrap();
    let names: Vec<_> = caps.iter().collect();
    println!("post-login capabilities: {}", names.join(" "));
    for needed in [
        "IMAP4REV1",
        "CONDSTORE",
        "QRESYNC",
        "SPECIAL-USE",
        "LIST-STATUS",
        "NAMESPACE",
    ] {
        assert!(caps.has(needed), "{needed} missing: {names:?}");
    }
    let info = store.server_info(&alice).await.unwrap();
    println!("namespaces: {:?}", info.namespaces);
}

#[tokio::test]
async fn a_dead_server_is_transient_and_quick() {
    // Nothing listens: refused at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = ImapConfig::new(format!("imap://127.0.0.1:{port}"));
    config.connect_timeout = Duration::from_millis(500);
    let creds = Credentials::new("alice@example.org", "secret");
    let store = ImapStore::new(config.clone()).unwrap();
    assert!(matches!(
        store.verify(&creds).await,
        Err(BackendError::Transient(_))
    ));

    // Accepts TCP but never greets: the connect timeout ends it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.url = format!("imap://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let store = ImapStore::new(config).unwrap();
    let start = Instant::now();
    let err = store.verify(&creds).await.unwrap_err();
    assert!(matches!(err, BackendError::Transient(_)), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    drop(silent);
}

#[tokio::test]
async fn other_users_mailboxes_are_marked_shared() {
    let stack = stack();
    let store = stack.store();
    let alice = stack.user("sharee");
    let bob = stack.user("sharer");
    // Granted before alice's first session: Dovecot reads a session's shared
    // namespaces once (a pooled session sees a later grant only when it is replaced).
    let grant = format!("SETACL INBOX \"{}\" lr", alice.login);
    stack.imap(&bob, &[grant.as_bytes()]);
    let info = store.server_info(&alice).await.unwrap();
    assert!(
        !(info.namespaces.other_users.is_empty() && info.namespaces.shared.is_empty()),
        "the stack's Dovecot has no shared namespace"
    );
    let list = store.list_mailboxes(&alice).await.unwrap();
    let shared: Vec<_> = list.iter().filter(|m| m.shared).collect();
    assert!(
        shared
            .iter()
            .any(|m| m.name.contains(&bob.login) && m.selectable),
        "bob's INBOX not listed as shared: {list:#?}"
    );
    assert!(
        list.iter()
            .filter(|m| !m.shared)
            .all(|m| !m.name.contains(&bob.login))
    );
    let own_inbox = list
        .iter()
        .find(|m| m.special_use == Some(SpecialUse::Inbox))
        .unwrap();
    assert!(!own_inbox.shared);
}
