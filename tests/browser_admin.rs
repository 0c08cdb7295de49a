//! The admin web page in a real browser (headless Chromium through chromedriver,
//! packages in tests/stack/packages-browser.txt): log in with the token, find the
//! device that just synced, click Wipe Out and then Cancel, and check the registry
//! after each click.

mod common;
#[path = "admin/helpers.rs"]
mod helpers;
#[path = "admin/webdriver.rs"]
mod webdriver;

use std::time::{Duration, Instant};

use common::Stack;
use common::airsync::{ADMIN_TOKEN, Server};
use helpers::{AdminApi, phone, status};
use webdriver::Browser;

/// Waits until the device's registry entry has `wipe_state`.
async fn wait_for_wipe_state(api: &AdminApi, login: &str, device: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = api.device(login, device).await;
        if d["wipe_state"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "wipe_state stays {} (want {want})",
            d["wipe_state"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn wipe_out_and_cancel_from_the_page() {
    let stack = Stack::get();
    let (login, pw) = stack.new_user("browser");
    let server = Server::start(stack);
    let api = AdminApi::new(&server);
    let mut p = phone(&server, stack, &login, &pw, "BROWSER01", "16.1");
    p.provision().await;
    assert_eq!(status(&p.folder_sync("0").await), "1");

    let browser = Browser::start().await;
    let base = server.admin_url();
    // Without the token the page is only a login form.
    browser.goto(&format!("{base}/?account={login}")).await;
    browser.find("#token").await;
    assert!(!browser.source().await.contains("BROWSER01"));
    browser.type_into("#token", ADMIN_TOKEN).await;
    browser.click("#login").await;
    browser.find("#show").await;

    browser.goto(&format!("{base}/?account={login}")).await;
    browser.find("#device-BROWSER01").await;
    let page = browser.source().await;
    assert!(
        page.contains("TestPhone") && page.contains("default {}"),
        "{page}"
    );

    browser.click("#wipe-BROWSER01").await;
    browser.accept_dialog().await;
    wait_for_wipe_state(&api, &login, "BROWSER01", "pending").await;
    // After the reload the table shows the pending marker.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !browser
        .source()
        .await
        .contains("class=\"pending\">pending<")
    {
        assert!(
            Instant::now() < deadline,
            "no pending marker:\n{}",
            browser.source().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(&p.folder_sync("0").await), "140");

    browser.click("#cancel-BROWSER01").await;
    wait_for_wipe_state(&api, &login, "BROWSER01", "none").await;
    assert_eq!(
        status(&p.folder_sync("0").await),
        "1",
        "normal sync again after Cancel"
    );
    let (_, audit) = api.get(&format!("/api/audit?account={login}")).await;
    let web: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["admin"] == "web")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(web, ["cancel-wipe", "wipe"], "{audit}");
}
