//! The account's folder view end to end: hidden folders, the sub-mailbox rules of the
//! product page, and mailbox aliases to another account's shared folder.

mod common;

use common::Stack;
use common::airsync::Server;
use common::eas::{Phone, collection, folder_changes, https_client, mail_options};

async fn phone(server: &Server, stack: &Stack, user: &str, password: &str, device: &str, version: &str) -> Phone {
    let mut p = Phone::new(https_client(&stack.ca_cert), &server.base_url, user, password, device);
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
    assert!(!modern.contains(&"2019".to_string()), "children of Sent are never shown: {modern:?}");
    assert!(!modern.contains(&"Old".to_string()), "children of Trash are never shown: {modern:?}");
    assert!(modern.contains(&"Lists".to_string()) && modern.contains(&"Q1".to_string()), "{modern:?}");
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
    let secret = adds.iter().find(|f| f.name == "Secret").expect("visible before it is hidden").server_id.clone();
    let deeper = adds.iter().find(|f| f.name == "Deeper").unwrap().server_id.clone();
    let s = p.sync_one(collection(&secret, "0", None, Some(mail_options(1, None)), vec![])).await;
    assert_eq!(s.status, "1");

    // The administrator hides Secret (and so its children) for everyone.
    let dir = server.dir.clone();
    server.stop();
    let server = Server::start_in(stack, &dir, "[folders]\nhidden = [\"Secret\"]\n");
    let mut p = p;
    p.base_url = server.base_url.clone();
    let a = p.folder_sync(&key).await;
    let (_, _, _, _, deletes) = folder_changes(a.body.as_ref().unwrap());
    assert!(deletes.contains(&secret) && deletes.contains(&deeper), "{deletes:?}");
    // Commands naming it are rejected as if it did not exist.
    let s = p.sync_one(collection(&secret, &s.sync_key, Some(10), Some(mail_options(1, None)), vec![])).await;
    assert_eq!(s.status, "12");
    assert!(!names(&p).await.contains(&"Secret".to_string()));
}
