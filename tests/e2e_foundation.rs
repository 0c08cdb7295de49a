//! End to end over HTTPS against the real stack (Dovecot, on loopback): OPTIONS,
//! authentication, Provision in both phases, FolderSync with stable ids, the
//! provisioning gate by version, the base64 request line, gzip, Autodiscover, and a
//! restart of the server between two FolderSyncs.

mod common;

use common::Stack;
use common::airsync::Server;
use common::eas::{Phone, base64_query, folder_changes, https_client, send};

fn phone(server: &Server, stack: &Stack, user: &str, password: &str, device: &str) -> Phone {
    Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        user,
        password,
        device,
    )
}

#[tokio::test]
async fn options_provision_and_foldersync() {
    let stack = Stack::get();
    let (login, password) = stack.new_user("found");
    let server = Server::start(stack);
    let mut p = phone(&server, stack, &login, &password, "E2EFOUND01");

    // Unauthenticated OPTIONS: 401 with a Basic challenge.
    let r = p
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/Microsoft-Server-ActiveSync", server.base_url),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    // Authenticated OPTIONS (path case differs, as some clients send it).
    let r = p
        .request(
            reqwest::Method::OPTIONS,
            &format!("{}/microsoft-server-activesync", server.base_url),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["ms-asprotocolversions"], "12.0,12.1,14.0,14.1,16.0,16.1");
    let commands = h["ms-asprotocolcommands"].to_str().unwrap();
    assert!(
        commands.contains("Provision") && commands.contains("FolderSync"),
        "{commands}"
    );
    assert!(
        h.contains_key("ms-server-activesync")
            && h.contains_key("public")
            && h.contains_key("allow")
    );

    // Before provisioning: Status 142 inside the response for 16.1 ...
    let a = p.folder_sync("0").await;
    assert_eq!(a.status, 200);
    assert!(a.xml().contains("<Status>142</Status>"), "{}", a.xml());
    // ... and HTTP 449 for 12.1.
    p.version = "12.1".into();
    assert_eq!(p.folder_sync("0").await.status, 449);
    p.version = "16.1".into();

    // Provision; a repeated acknowledgement gets the same final key.
    let key = p.provision().await;
    let body = p
        .post(
            "Provision",
            &airsync::wbxml::Element::new(airsync::wbxml::pages::Provision::Provision).child(
                airsync::wbxml::Element::new(airsync::wbxml::pages::Provision::Policies).child(
                    airsync::wbxml::Element::new(airsync::wbxml::pages::Provision::Policy)
                        .text_child(
                            airsync::wbxml::pages::Provision::PolicyType,
                            "MS-EAS-Provisioning-WBXML",
                        ),
                ),
            ),
        )
        .await;
    assert_eq!(body.status, 200);
    // That was a new phase 1: the old key no longer counts until phase 2 is done again.
    let temporary: u32 = body
        .body
        .unwrap()
        .first(airsync::wbxml::pages::Provision::Policies)
        .unwrap()
        .first(airsync::wbxml::pages::Provision::Policy)
        .unwrap()
        .child_text(airsync::wbxml::pages::Provision::PolicyKey)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        p.folder_sync("0")
            .await
            .xml()
            .contains("<Status>144</Status>")
    );
    let key2 = p.acknowledge(temporary).await;
    assert_eq!(
        p.acknowledge(temporary).await,
        key2,
        "a repeated acknowledgement is idempotent"
    );
    assert_ne!(key, key2);
    p.policy_key = Some(key2);
    // A key that is not the device's.
    p.policy_key = Some(key2 ^ 0x55);
    assert!(
        p.folder_sync("0")
            .await
            .xml()
            .contains("<Status>144</Status>")
    );
    p.policy_key = Some(key2);

    // The initial hierarchy.
    let a = p.folder_sync("0").await;
    assert_eq!(a.status, 200);
    let (status, key1, adds, _, _) = folder_changes(a.body.as_ref().unwrap());
    assert_eq!(status, "1");
    let kind = |name: &str| adds.iter().find(|f| f.name == name).map(|f| f.kind);
    assert_eq!(kind("Inbox"), Some(2), "{adds:?}");
    assert_eq!(kind("Drafts"), Some(3));
    assert_eq!(kind("Trash"), Some(4));
    assert_eq!(kind("Sent"), Some(5));
    assert_eq!(kind("Outbox"), Some(6));
    assert_eq!(kind("Junk"), Some(12));
    let mut ids: Vec<_> = adds.iter().map(|f| f.server_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), adds.len(), "folder ids are unique");

    // No changes: Count 0 and the key stays.
    let a = p.folder_sync(&key1).await;
    let (status, same, adds2, updates, deletes) = folder_changes(a.body.as_ref().unwrap());
    assert_eq!((status.as_str(), same.as_str()), ("1", key1.as_str()));
    assert!(adds2.is_empty() && updates.is_empty() && deletes.is_empty());

    // A folder created in Dovecot appears, with one id from then on.
    stack.doveadm(&["mailbox", "create", "-u", &login, "Projects"]);
    stack.doveadm(&["mailbox", "create", "-u", &login, "Projects/Q4"]);
    let a = p.folder_sync(&key1).await;
    let (_, key2s, new, _, _) = folder_changes(a.body.as_ref().unwrap());
    assert_ne!(key2s, key1);
    let projects = new
        .iter()
        .find(|f| f.name == "Projects")
        .expect("Projects added")
        .clone();
    let q4 = new
        .iter()
        .find(|f| f.name == "Q4")
        .expect("Q4 added")
        .clone();
    assert_eq!(q4.parent_id, projects.server_id);
    // Repeating the previous key (a lost answer) gives the same changes, not Status 9.
    let again = p.folder_sync(&key1).await;
    let (st, k, new_again, _, _) = folder_changes(again.body.as_ref().unwrap());
    assert_eq!((st.as_str(), k.as_str()), ("1", key2s.as_str()));
    assert_eq!(new_again, new);
    // A reset keeps every id.
    let reset = p.folder_sync("0").await;
    let (_, _, all, _, _) = folder_changes(reset.body.as_ref().unwrap());
    assert_eq!(
        all.iter().find(|f| f.name == "Projects").unwrap().server_id,
        projects.server_id
    );
    assert_eq!(
        all.iter().find(|f| f.name == "Inbox").unwrap().server_id,
        adds.iter().find(|f| f.name == "Inbox").unwrap().server_id
    );
    // An unknown key: Status 9.
    assert!(
        p.folder_sync("987654")
            .await
            .xml()
            .contains("<Status>9</Status>")
    );

    // A second device of the same account sees the same ids.
    let mut other = phone(&server, stack, &login, &password, "E2EFOUND02");
    other.provision().await;
    let (_, _, other_adds, _, _) =
        folder_changes(other.folder_sync("0").await.body.as_ref().unwrap());
    assert_eq!(
        other_adds
            .iter()
            .find(|f| f.name == "Projects")
            .unwrap()
            .server_id,
        projects.server_id
    );

    // Wrong password: 401.
    let mut wrong = phone(&server, stack, &login, "not-the-password", "E2EFOUND01");
    wrong.policy_key = p.policy_key;
    assert_eq!(wrong.folder_sync("0").await.status, 401);

    // The log names the request but never the password.
    let log = server.log();
    assert!(log.contains("command=FolderSync"), "{log}");
    assert!(!log.contains(&password));
}

#[tokio::test]
async fn base64_request_line_gzip_and_bad_requests() {
    let stack = Stack::get();
    let (login, password) = stack.new_user("b64");
    let server = Server::start(stack);
    // Enough folders that the FolderSync answer is worth compressing.
    for i in 0..20 {
        stack.doveadm(&[
            "mailbox",
            "create",
            "-u",
            &login,
            &format!("Folder with a long name {i}"),
        ]);
    }
    let mut p = phone(&server, stack, &login, &password, "B64DEV");
    // Windows Mail sends a 16-byte binary DeviceId; it is rendered as hex everywhere.
    let raw_id: [u8; 16] = [
        0x34, 0xe0, 0x72, 0x8a, 0xb5, 0x68, 0xca, 0x10, 0x5c, 0x40, 0x73, 0x45, 0x07, 0x8c, 0x2c,
        0x9b,
    ];
    p.device_id = "34E0728AB568CA105C407345078C2C9B".into();
    p.device_type = "WindowsMail".into();
    let key = p.provision().await;

    let body = airsync::wbxml::encode(
        &airsync::wbxml::Element::new(airsync::wbxml::pages::FolderHierarchy::FolderSync)
            .text_child(airsync::wbxml::pages::FolderHierarchy::SyncKey, "0"),
    );
    // Version and policy key come in the line itself; gzip both ways.
    let q = base64_query(161, 9, &raw_id, Some(key), "WindowsMail");
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&body).unwrap();
        e.finish().unwrap()
    };
    let r = p
        .client
        .post(format!(
            "{}/Microsoft-Server-ActiveSync?{q}",
            server.base_url
        ))
        .basic_auth(&login, Some(&password))
        .header("Content-Type", "application/vnd.ms-sync")
        .header("Content-Encoding", "gzip")
        .header("Accept-Encoding", "gzip")
        .body(gz);
    let a = send(r).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.headers
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
    let (status, _, adds, _, _) = folder_changes(a.body.as_ref().unwrap());
    assert_eq!(status, "1");
    assert!(adds.iter().any(|f| f.kind == 2));

    // Unsupported version: 400 with a reason.
    p.version = "2.5".into();
    let r = p
        .request(reqwest::Method::POST, &p.url("FolderSync"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("2.5"));
    p.version = "16.1".into();
    // Garbage WBXML: an EAS status, not a crash.
    let r = p
        .request(reqwest::Method::POST, &p.url("FolderSync"))
        .header("Content-Type", "application/vnd.ms-sync.wbxml")
        .body(vec![0x03, 0x01, 0x6a, 0x00, 0x45, 0x99]);
    let a = send(r).await;
    assert_eq!(a.status, 200);
    assert!(a.xml().contains("<Status>102</Status>"), "{}", a.xml());
    // No DeviceId: 400.
    let r = p.request(
        reqwest::Method::POST,
        &format!(
            "{}/Microsoft-Server-ActiveSync?Cmd=FolderSync&DeviceType=x",
            server.base_url
        ),
    );
    assert_eq!(r.send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn autodiscover_answers_mobilesync() {
    let stack = Stack::get();
    let (login, password) = stack.new_user("auto");
    let server = Server::start(stack);
    let client = https_client(&stack.ca_cert);
    let request = format!(
        "<?xml version=\"1.0\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006\">\
         <Request><EMailAddress>{login}</EMailAddress><AcceptableResponseSchema>\
         http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>"
    );
    let url = format!("{}/AutoDiscover/AutoDiscover.xml", server.base_url);
    let r = client
        .post(&url)
        .body(request.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(&url)
        .basic_auth(&login, Some(&password))
        .body(request)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("<Type>MobileSync</Type>"), "{text}");
    assert!(
        text.contains("/Microsoft-Server-ActiveSync</Url>"),
        "{text}"
    );
}

#[tokio::test]
async fn restart_keeps_folder_ids_and_keys() {
    let stack = Stack::get();
    let (login, password) = stack.new_user("restart");
    let mut server = Server::start(stack);
    let mut p = phone(&server, stack, &login, &password, "RESTART01");
    p.provision().await;
    stack.doveadm(&["mailbox", "create", "-u", &login, "Kept"]);
    let (_, key, before, _, _) = folder_changes(p.folder_sync("0").await.body.as_ref().unwrap());
    let dir = server.dir.clone();
    server.stop();

    let server = Server::start_in(stack, &dir, "");
    p.base_url = server.base_url.clone();
    // The policy key and the FolderSync key both survive the restart.
    let a = p.folder_sync(&key).await;
    let (status, same, adds, _, _) = folder_changes(a.body.as_ref().unwrap());
    assert_eq!(
        (status.as_str(), same.as_str()),
        ("1", key.as_str()),
        "{}",
        a.xml()
    );
    assert!(adds.is_empty());
    let (_, _, after, _, _) = folder_changes(p.folder_sync("0").await.body.as_ref().unwrap());
    let mut b: Vec<_> = before
        .iter()
        .map(|f| (f.name.clone(), f.server_id.clone()))
        .collect();
    let mut a: Vec<_> = after
        .iter()
        .map(|f| (f.name.clone(), f.server_id.clone()))
        .collect();
    b.sort();
    a.sort();
    assert_eq!(a, b);
}
