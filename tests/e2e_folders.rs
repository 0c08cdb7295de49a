//! The account's folder view end to end: hidden folders, the sub-mailbox rules of the
//! product page, and mailbox aliases to another account's shared folder.

mod common;

use common::Stack;
use common::airsync::Server;
use common::eas::{Phone, collection, folder_changes, https_client, mail_options};

async fn phone(
    server: &Server,
    stack: &Stack,
    user: &str,
    password: &str,
    device: &str,
    version: &str,
) -> Phone {
    let mut p = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        user,
        password,
        device,
    );
    p.version = version.into();
    p.provision().await;
    p
}

async fn names(p: &Phone) -> Vec<String> {
    let a = p.folder_sync("0").await;
    let (_, _, adds, _, _) = folder_changes(a.body.as_ref().unwrap());
    adds.into_iter().map(|f| f.name).collect()
}

#[tokio::test]
async fn sub_mailbox_rules() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("submbox");
    for name in ["Sent/2019", "Trash/Old", "INBOX/Lists", "Projects/Q1"] {
        stack.doveadm(&["mailbox", "create", "-u", &user, name]);
    }
    let server = Server::start(stack);
    let modern = names(&phone(&server, stack, &user, &pw, "SUBNEW", "16.1").await).await;
    assert!(
        !modern.contains(&"2019".to_string()),
        "children of Sent are never shown: {modern:?}"
    );
    assert!(
        !modern.contains(&"Old".to_string()),
        "children of Trash are never shown: {modern:?}"
    );
    assert!(
        modern.contains(&"Lists".to_string()) && modern.contains(&"Q1".to_string()),
        "{modern:?}"
    );
    // EAS 12.0 clients are not shown the children of INBOX either.
    let old = names(&phone(&server, stack, &user, &pw, "SUBOLD", "12.0").await).await;
    assert!(!old.contains(&"Lists".to_string()), "{old:?}");
    assert!(old.contains(&"Q1".to_string()), "{old:?}");
}

#[tokio::test]
async fn hidden_folders_never_reach_a_device() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("hidden");
    for name in ["Secret", "Secret/Deeper", "Visible"] {
        stack.doveadm(&["mailbox", "create", "-u", &user, name]);
    }
    let mut server = Server::start(stack);
    let p = phone(&server, stack, &user, &pw, "HIDDEN1", "16.1").await;
    let a = p.folder_sync("0").await;
    let (_, key, adds, _, _) = folder_changes(a.body.as_ref().unwrap());
    let secret = adds
        .iter()
        .find(|f| f.name == "Secret")
        .expect("visible before it is hidden")
        .server_id
        .clone();
    let deeper = adds
        .iter()
        .find(|f| f.name == "Deeper")
        .unwrap()
        .server_id
        .clone();
    let s = p
        .sync_one(collection(
            &secret,
            "0",
            None,
            Some(mail_options(1, None)),
            vec![],
        ))
        .await;
    assert_eq!(s.status, "1");

    // The administrator hides Secret (and so its children) for everyone.
    let dir = server.dir.clone();
    server.stop();
    let server = Server::start_in(stack, &dir, "[folders]\nhidden = [\"Secret\"]\n");
    let mut p = p;
    p.base_url = server.base_url.clone();
    let a = p.folder_sync(&key).await;
    let (_, _, _, _, deletes) = folder_changes(a.body.as_ref().unwrap());
    assert!(
        deletes.contains(&secret) && deletes.contains(&deeper),
        "{deletes:?}"
    );
    // Commands naming it are rejected as if it did not exist.
    let s = p
        .sync_changes(&secret, &s.sync_key, 10, mail_options(1, None))
        .await;
    assert_eq!(s.status, "12");
    assert!(!names(&p).await.contains(&"Secret".to_string()));
}

/// Runs `airsync ARGS --config <the server's config>` and requires success.
fn cli(server: &Server, args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airsync"))
        .args(args)
        .arg("--config")
        .arg(server.dir.join("airsync.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "airsync {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn an_alias_shows_another_accounts_folder_read_only() {
    use airsync::wbxml::Element;
    use airsync::wbxml::pages::{AirSync as A, Email as E};
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("alias-a");
    let (bob, bob_pw) = stack.new_user("alias-b");
    stack.doveadm(&["mailbox", "create", "-u", &bob, "Team"]);
    let mut imap = common::imap::Imap::login(stack.imap_port, &bob, &bob_pw);
    imap.append(
        "Team",
        &common::imap::message("carol@example.org", &bob, "team news", "hello team"),
        "",
    );
    // Bob shares Team with Alice, read-only (lookup + read).
    stack.doveadm(&[
        "acl",
        "set",
        "-u",
        &bob,
        "Team",
        &format!("user={alice}"),
        "lookup",
        "read",
    ]);
    let server = Server::start(stack);
    cli(
        &server,
        &[
            "accounts",
            "alias",
            "add",
            &alice,
            "Bob's team",
            &format!("shared/{bob}/Team"),
        ],
    );
    cli(&server, &["accounts", "hide-folder", &alice, "Junk"]);
    let p = phone(&server, stack, &alice, &alice_pw, "ALIAS1", "16.1").await;
    let all = names(&p).await;
    assert!(all.contains(&"Bob's team".to_string()), "{all:?}");
    assert!(
        !all.contains(&"Junk".to_string()),
        "the account hid Junk: {all:?}"
    );
    let team = p.folder_id_by_name("Bob's team").await;
    let opts = mail_options(1, None);
    let (key, cmds) = p.sync_all(&team, 50, opts.clone()).await;
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let id = cmds[0].server_id().to_string();

    // Read-only: marking it read is refused (Status 7) and the server's state comes back.
    let change = Element::new(A::Change)
        .text_child(A::ServerId, id.clone())
        .child(Element::new(A::ApplicationData).text_child(E::Read, "1"));
    let s = p
        .sync_one(collection(
            &team,
            &key,
            Some(50),
            Some(opts.clone()),
            vec![change],
        ))
        .await;
    let r = s
        .responses
        .iter()
        .find(|r| r.tag == A::Change)
        .expect("a Change response");
    assert_eq!(r.child_text(A::Status).as_deref(), Some("7"));
    let back = s
        .commands
        .iter()
        .find(|c| c.server_id() == id)
        .expect("the server's version is sent back");
    let common::eas::Cmd::Change(_, data) = back else {
        panic!("{back:?}")
    };
    assert_eq!(data.child_text(E::Read).as_deref(), Some("0"));
    assert!(
        !imap.flags("Team")[0].1.contains("\\Seen"),
        "nothing changed upstream"
    );
    // A delete is refused too, and the item comes back.
    let delete = Element::new(A::Delete).text_child(A::ServerId, id.clone());
    let s2 = p
        .sync_one(collection(
            &team,
            &s.sync_key,
            Some(50),
            Some(opts.clone()),
            vec![delete],
        ))
        .await;
    assert!(
        s2.responses
            .iter()
            .any(|r| r.tag == A::Delete && r.child_text(A::Status).as_deref() == Some("7"))
    );
    assert!(
        s2.commands
            .iter()
            .any(|c| matches!(c, common::eas::Cmd::Add(sid, _) if *sid == id)),
        "{:?}",
        s2.commands
    );
    assert_eq!(imap.count("Team"), 1);
}
