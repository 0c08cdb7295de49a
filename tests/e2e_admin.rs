//! End to end over HTTPS against the real stack (Dovecot on loopback): service
//! access, device rules at server, domain and account level, admin block/allow,
//! remote wipe (full and account-only) with cancel and acknowledgement, PIN-lock
//! forcing a new Provision, the protocol trace, and the admin API's authentication.

mod common;
#[path = "admin/helpers.rs"]
mod helpers;

use airsync::wbxml::pages::Provision as P;
use common::Stack;
use common::airsync::{ADMIN_TOKEN, Server};
use common::eas::{Phone, collection, mail_options};
use common::imap::{Imap, message};
use helpers::{AdminApi, cli, cli_ok, phone, provision_request, server_with, status, wipe_ack};
use serde_json::json;

#[tokio::test]
async fn service_access_and_device_rules_at_every_level() {
    let stack = Stack::get();
    let (alice, alice_pw) = stack.new_user("rules");
    let (bob, bob_pw) = stack.new_user("rules");
    let server = server_with(
        stack,
        "[access]\ndevice_rules = \"!blocked*, !Evil/*, *\"\n",
    );
    let api = AdminApi::new(&server);

    // Server rules: an ordinary device works, the prohibited ones do not.
    let mut ok = phone(&server, stack, &alice, &alice_pw, "okdevice1", "16.1");
    ok.provision().await;
    assert_eq!(status(&ok.folder_sync("0").await), "1");
    let mut bad = phone(&server, stack, &alice, &alice_pw, "blockedX1", "16.1");
    let a = bad.folder_sync("0").await;
    assert_eq!((a.status, status(&a)), (200, "129".into()), "{}", a.xml());
    bad.version = "12.1".into();
    assert_eq!(bad.folder_sync("0").await.status, 403);
    let d = api.device(&alice, "blockedX1").await;
    assert_eq!(d["blocked"], true, "{d}");
    assert!(d["access"].as_str().unwrap().contains("!blocked*"), "{d}");
    let mut evil = phone(&server, stack, &alice, &alice_pw, "harmless", "16.1");
    evil.device_type = "Evil".into();
    assert_eq!(
        status(&evil.folder_sync("0").await),
        "129",
        "TYPE/ID element"
    );

    // Domain rules (CLI) override the server's.
    cli_ok(
        &server,
        &["domains", "rules", &stack.mail_domain, "okdevice*"],
    );
    assert_eq!(status(&ok.folder_sync("0").await), "1");
    let mut other = phone(&server, stack, &alice, &alice_pw, "other1", "16.1");
    assert_eq!(status(&other.folder_sync("0").await), "129");

    // Account rules (API) override the domain's.
    api.ok(
        &format!("/api/accounts/{alice}/rules"),
        json!({ "value": "other1" }),
    )
    .await;
    other.provision().await;
    assert_eq!(status(&other.folder_sync("0").await), "1");
    assert_eq!(status(&ok.folder_sync("0").await), "129");
    assert_eq!(api.device(&alice, "okdevice1").await["blocked"], true);
    // Bob has no account rules: the domain's apply to him.
    let mut bobs = phone(&server, stack, &bob, &bob_pw, "other1", "16.1");
    assert_eq!(status(&bobs.folder_sync("0").await), "129");

    // Admin allow / block of one device beat the rules.
    api.ok(&format!("/api/devices/{alice}/okdevice1/allow"), json!({}))
        .await;
    assert_eq!(status(&ok.folder_sync("0").await), "1");
    assert_eq!(api.device(&alice, "okdevice1").await["blocked"], false);
    cli_ok(&server, &["devices", "block", &alice, "other1"]);
    assert_eq!(status(&other.folder_sync("0").await), "129");
    cli_ok(&server, &["devices", "unblock", &alice, "other1"]);
    assert_eq!(status(&other.folder_sync("0").await), "1");

    // Service access: a denied domain gets 403 before any login — even with a wrong
    // password, which an allowed account answers with 401.
    cli_ok(&server, &["domains", "access", &stack.mail_domain, "deny"]);
    assert_eq!(bobs.folder_sync("0").await.status, 403);
    bobs.password = "wrong".into();
    assert_eq!(bobs.folder_sync("0").await.status, 403);
    let r = bobs.request(
        reqwest::Method::OPTIONS,
        &format!("{}/Microsoft-Server-ActiveSync", server.base_url),
    );
    assert_eq!(r.send().await.unwrap().status(), 403);
    // The account's own setting wins over the domain's.
    api.ok(
        &format!("/api/accounts/{bob}/access"),
        json!({ "value": "allow" }),
    )
    .await;
    assert_eq!(bobs.folder_sync("0").await.status, 401);
    bobs.password = bob_pw.clone();
    assert_eq!(
        status(&bobs.folder_sync("0").await),
        "129",
        "still the domain's device rules"
    );
    api.ok(
        &format!("/api/accounts/{bob}/rules"),
        json!({ "value": "*" }),
    )
    .await;
    bobs.provision().await;
    assert_eq!(status(&bobs.folder_sync("0").await), "1");
    assert_eq!(
        ok.folder_sync("0").await.status,
        403,
        "alice inherits the domain's deny"
    );
    assert!(
        !server
            .log()
            .contains(&format!("login rejected by upstream login={alice}"))
    );

    // The audit trail names the administrators.
    let (code, audit) = api.get(&format!("/api/audit?account={alice}")).await;
    assert_eq!(code, 200);
    let admins: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["admin"].as_str().unwrap())
        .collect();
    assert!(
        admins.contains(&"api:e2e") && admins.contains(&"cli:e2e-admin"),
        "{audit}"
    );
}

#[tokio::test]
async fn wipe_cancel_acknowledge_and_wiped_forever() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("wipe");
    let server = Server::start(stack);
    let api = AdminApi::new(&server);
    let mut p = phone(&server, stack, &login, &pw, "WIPE0001", "16.1");
    p.provision().await;
    assert_eq!(status(&p.folder_sync("0").await), "1");
    let path = format!("/api/devices/{login}/WIPE0001");

    // Wipe Out, then Cancel before the device connects: nothing happens to it.
    assert_eq!(
        api.ok(&format!("{path}/wipe"), json!({})).await["wipe_state"],
        "pending"
    );
    assert_eq!(
        api.ok(&format!("{path}/cancel-wipe"), json!({})).await["wipe_state"],
        "none"
    );
    assert_eq!(status(&p.folder_sync("0").await), "1");

    // Wipe Out (CLI): every command is told to provision, 140 or HTTP 449 by version.
    cli_ok(&server, &["devices", "wipe", &login, "WIPE0001"]);
    assert_eq!(
        api.device(&login, "WIPE0001").await["wipe_state"],
        "pending"
    );
    assert_eq!(status(&p.folder_sync("0").await), "140");
    p.version = "12.1".into();
    assert_eq!(p.folder_sync("0").await.status, 449);
    p.version = "16.1".into();

    // Blocking the lost device does not stop the wipe from reaching it.
    api.ok(&format!("{path}/block"), json!({})).await;
    assert_eq!(status(&p.folder_sync("0").await), "140");

    // Provision carries RemoteWipe (and no policy); the acknowledgement is recorded.
    let a = p.post("Provision", &provision_request()).await;
    let body = a.body.as_ref().expect("Provision answer");
    assert!(
        body.first(P::RemoteWipe).is_some() && body.first(P::Policies).is_none(),
        "{}",
        a.xml()
    );
    assert!(body.first(P::AccountOnlyRemoteWipe).is_none());
    let a = p.post("Provision", &wipe_ack(false, "1")).await;
    assert_eq!(status(&a), "1", "{}", a.xml());
    assert!(
        a.body.as_ref().unwrap().first(P::RemoteWipe).is_none(),
        "{}",
        a.xml()
    );
    let d = api.device(&login, "WIPE0001").await;
    assert_eq!(d["wipe_state"], "wiped", "{d}");
    assert!(d["wipe_acknowledged"].as_i64().unwrap() > 0);

    // Too late to cancel; the device gets nothing but the wipe from now on.
    let (code, v) = api.post(&format!("{path}/cancel-wipe"), json!({})).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(status(&p.folder_sync("0").await), "140");
    let a = p.post("Provision", &provision_request()).await;
    assert!(a.body.unwrap().first(P::RemoteWipe).is_some());
    let audit = cli_ok(&server, &["accounts", "audit", &login]);
    for action in ["wipe", "cancel-wipe", "wipe-acknowledged"] {
        assert!(audit.contains(action), "{audit}");
    }
}

/// A device paging through a long Sync reuses its previous request's layers, device
/// and folder view for at most two seconds, and only on its very next Sync: a wipe
/// requested meanwhile stops the next request of any other command at once, and the
/// chain's own next Sync after two seconds.
#[tokio::test]
async fn wipe_reaches_a_device_paging_through_a_sync() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("pagewipe");
    let mut imap = Imap::login(stack.imap_port, &login, &pw);
    let msgs: Vec<_> = (0..6)
        .map(|i| message("a@example.org", &login, &format!("page {i}"), "text"))
        .collect();
    imap.append_many("INBOX", &msgs, "");
    let server = Server::start(stack);
    let api = AdminApi::new(&server);
    let path = format!("/api/devices/{login}/PAGE0001");
    let mut p = phone(&server, stack, &login, &pw, "PAGE0001", "16.1");
    p.provision().await;
    let inbox = p.folder_id(2).await;
    let options = mail_options(1, Some(100));
    let mut key = p.first_key(&inbox, &options).await;
    let page = async |p: &Phone, key: &str| {
        p.sync_one(collection(
            &inbox,
            key,
            Some(1),
            Some(options.clone()),
            vec![],
        ))
        .await
    };

    // The chain's next Sync reuses what the one before it read (the server says so).
    for _ in 0..2 {
        let s = page(&p, &key).await;
        assert!(s.more_available && s.status == "1", "{s:?}");
        key = s.sync_key;
    }
    assert!(
        server.log().contains("Sync continues a paging chain"),
        "the chain's context was not reused"
    );

    // A wipe while paging: the device's next request of another command sees it at
    // once, and so does the Sync after it (the FolderSync ended the reuse).
    api.ok(&format!("{path}/wipe"), json!({})).await;
    assert_eq!(status(&p.folder_sync("0").await), "140");
    assert_eq!(page(&p, &key).await.top_status.as_deref(), Some("140"));
    api.ok(&format!("{path}/cancel-wipe"), json!({})).await;

    // A wipe between two windows of the chain reaches its next Sync two seconds later.
    let s = page(&p, &key).await;
    assert!(s.more_available && s.status == "1", "{s:?}");
    api.ok(&format!("{path}/wipe"), json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert_eq!(
        page(&p, &s.sync_key).await.top_status.as_deref(),
        Some("140")
    );
    p.version = "12.1".into();
    assert_eq!(p.folder_sync("0").await.status, 449);
}

#[tokio::test]
async fn account_only_wipe_needs_16_1() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("acctwipe");
    let server = Server::start(stack);
    let api = AdminApi::new(&server);
    let mut old = phone(&server, stack, &login, &pw, "OLD141", "14.1");
    old.provision().await;
    let (code, v) = api
        .post(
            &format!("/api/devices/{login}/OLD141/wipe"),
            json!({ "account_only": true }),
        )
        .await;
    assert_eq!(code, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("16.1"), "{v}");
    let (ok, _, err) = cli(
        &server,
        &["devices", "wipe", "--account-only", &login, "OLD141"],
    );
    assert!(!ok && err.contains("16.1"), "{err}");
    assert_eq!(api.device(&login, "OLD141").await["wipe_state"], "none");

    let mut new = phone(&server, stack, &login, &pw, "NEW161", "16.1");
    new.provision().await;
    let d = api
        .ok(
            &format!("/api/devices/{login}/NEW161/wipe"),
            json!({ "account_only": true }),
        )
        .await;
    assert_eq!(d["wipe_state"], "account-pending");
    assert_eq!(status(&new.folder_sync("0").await), "140");
    assert_eq!(
        status(&old.folder_sync("0").await),
        "1",
        "the other device is untouched"
    );
    let a = new.post("Provision", &provision_request()).await;
    let body = a.body.as_ref().unwrap();
    assert!(
        body.first(P::AccountOnlyRemoteWipe).is_some() && body.first(P::RemoteWipe).is_none(),
        "{}",
        a.xml()
    );
    // A failed wipe gets Status 2 and the directive again.
    let a = new.post("Provision", &wipe_ack(true, "2")).await;
    assert_eq!(status(&a), "2");
    assert!(a.body.unwrap().first(P::AccountOnlyRemoteWipe).is_some());
    assert_eq!(
        api.device(&login, "NEW161").await["wipe_state"],
        "account-pending"
    );
    assert_eq!(
        status(&new.post("Provision", &wipe_ack(true, "1")).await),
        "1"
    );
    assert_eq!(
        api.device(&login, "NEW161").await["wipe_state"],
        "account-wiped"
    );
}

fn password_enabled(a: &common::eas::Answer) -> String {
    a.body
        .as_ref()
        .and_then(|b| b.first(P::Policies))
        .and_then(|p| p.first(P::Policy))
        .and_then(|p| p.first(P::Data))
        .and_then(|d| d.first(P::EASProvisionDoc))
        .and_then(|d| d.child_text(P::DevicePasswordEnabled))
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn pin_lock_makes_the_device_provision_again() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("pin");
    let server = Server::start(stack);
    let api = AdminApi::new(&server);
    let mut p = phone(&server, stack, &login, &pw, "PIN0001", "16.1");
    assert_eq!(
        password_enabled(&p.post("Provision", &provision_request()).await),
        "0"
    );
    p.provision().await;
    assert_eq!(status(&p.folder_sync("0").await), "1");

    let d = api
        .ok(
            &format!("/api/devices/{login}/PIN0001/pin"),
            json!({ "on": true }),
        )
        .await;
    assert_eq!(
        (d["pin_lock"].clone(), d["provisioned"].clone()),
        (json!(true), json!(false)),
        "{d}"
    );
    assert_eq!(status(&p.folder_sync("0").await), "143", "policy refresh");
    p.version = "12.1".into();
    assert_eq!(p.folder_sync("0").await.status, 449);
    p.version = "16.1".into();

    let phase1 = p.post("Provision", &provision_request()).await;
    assert_eq!(password_enabled(&phase1), "1", "{}", phase1.xml());
    let old_key = p.policy_key;
    p.provision().await;
    assert_ne!(p.policy_key, old_key, "a new key for the new policy");
    assert_eq!(status(&p.folder_sync("0").await), "1");
    let d = api.device(&login, "PIN0001").await;
    assert!(
        d["policy_label"].as_str().unwrap().contains("UsePIN=YES"),
        "{d}"
    );
    assert_eq!(d["provisioned"], true);
    // The old key is no longer accepted.
    let current = p.policy_key;
    p.policy_key = old_key;
    assert_eq!(status(&p.folder_sync("0").await), "144");
    p.policy_key = current;

    // Disable PIN-lock (CLI): provision again, DevicePasswordEnabled=0.
    cli_ok(&server, &["devices", "pin", &login, "PIN0001", "off"]);
    assert_eq!(status(&p.folder_sync("0").await), "143");
    assert_eq!(
        password_enabled(&p.post("Provision", &provision_request()).await),
        "0"
    );
}

#[tokio::test]
async fn policies_by_name_and_resync() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("policy");
    let server = server_with(
        stack,
        "[policies.strict]\ndevice_password_enabled = true\nmin_device_password_length = 8\nallow_camera = false\n",
    );
    let api = AdminApi::new(&server);
    let mut p = phone(&server, stack, &login, &pw, "POL0001", "16.1");
    p.provision().await;
    assert_eq!(status(&p.folder_sync("0").await), "1");
    let (code, v) = api
        .post(
            &format!("/api/accounts/{login}/policy"),
            json!({ "value": "nope" }),
        )
        .await;
    assert_eq!(code, 400, "{v}");
    api.ok(
        &format!("/api/accounts/{login}/policy"),
        json!({ "value": "strict" }),
    )
    .await;
    assert_eq!(status(&p.folder_sync("0").await), "143");
    let a = p.post("Provision", &provision_request()).await;
    let xml = a.xml();
    assert!(
        xml.contains("<MinDevicePasswordLength>8</MinDevicePasswordLength>")
            && xml.contains("<AllowCamera>0</AllowCamera>"),
        "{xml}"
    );
    p.provision().await;
    assert_eq!(api.device(&login, "POL0001").await["policy"], "strict");

    // resync: the device's FolderSync key is forgotten.
    let a = p.folder_sync("0").await;
    let key = a
        .body
        .unwrap()
        .child_text(airsync::wbxml::pages::FolderHierarchy::SyncKey)
        .unwrap()
        .into_owned();
    assert_eq!(status(&p.folder_sync(&key).await), "1");
    cli_ok(&server, &["devices", "resync", &login, "POL0001"]);
    assert_eq!(
        status(&p.folder_sync(&key).await),
        "9",
        "the key is gone after resync"
    );
}

#[tokio::test]
async fn trace_is_switched_at_runtime_and_holds_no_credentials() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("trace");
    let server = Server::start(stack);
    let api = AdminApi::new(&server);
    let mut p = phone(&server, stack, &login, &pw, "TRACE001", "16.1");
    p.provision().await;
    api.ok(
        &format!("/api/devices/{login}/TRACE001/trace"),
        json!({ "on": true }),
    )
    .await;
    assert_eq!(status(&p.folder_sync("0").await), "1");
    let file = server.dir.join("traces").join(&login).join("TRACE001.log");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(
        text.contains(">>> FolderSync") && text.contains("<FolderSync") && text.contains("<<< 200"),
        "{text}"
    );
    assert!(
        !text.contains(&pw) && !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
    cli_ok(&server, &["devices", "trace", &login, "TRACE001", "off"]);
    p.folder_sync("0").await;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "nothing traced once off"
    );
}

#[tokio::test]
async fn admin_api_and_page_need_the_token() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("adminauth");
    let server = Server::start(stack);
    let mut p = phone(&server, stack, &login, &pw, "AUTH0001", "16.1");
    p.provision().await;
    let base = server.admin_url();
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "loopback by default: {base}"
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let devices = format!("{base}/api/devices");
    assert_eq!(http.get(&devices).send().await.unwrap().status(), 401);
    assert_eq!(
        http.get(&devices)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let wipe = format!("{base}/api/devices/{login}/AUTH0001/wipe");
    assert_eq!(
        http.post(&wipe)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = http
        .get(&devices)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("AUTH0001"));

    // The page: a login form until the token is given; the session cookie then works
    // for the page and for reads, and for writes only with X-Requested-With.
    let r = http
        .get(format!("{base}/?account={login}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("name=\"token\"") && !page.contains("AUTH0001"),
        "{page}"
    );
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let r = http
        .get(format!("{base}/?account={login}"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("AUTH0001") && page.contains("Wipe Out") && page.contains("Enable PIN-lock"),
        "{page}"
    );
    let r = http
        .post(&wipe)
        .header("Cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "cookie writes need X-Requested-With");
    let r = http
        .post(&wipe)
        .header("Cookie", &cookie)
        .header("X-Requested-With", "airsync")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
