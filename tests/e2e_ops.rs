//! Operations end to end: health, readiness and metrics on the admin listener, with
//! requests through the real stack.

mod common;

use airsync::wbxml::Element;
use airsync::wbxml::pages::FolderHierarchy as F;
use common::Stack;
use common::airsync::{ADMIN_TOKEN, Server};
use common::eas::{Phone, collection, https_client, mail_options};
use common::imap::{Imap, message};

fn state_dir() -> std::path::PathBuf {
    tempfile::Builder::new()
        .prefix("airsync-ops-")
        .tempdir()
        .unwrap()
        .keep()
}

async fn phone(server: &Server, stack: &Stack, user: &str, password: &str, device: &str) -> Phone {
    Phone::provisioned(&stack.ca_cert, &server.base_url, user, password, device).await
}

/// GET /metrics with the admin token.
async fn scrape(admin: &str) -> reqwest::Response {
    let r = reqwest::Client::new()
        .get(format!("{admin}/metrics"))
        .bearer_auth(ADMIN_TOKEN);
    r.send().await.unwrap()
}

/// The value of the series `name` (exact label set), or 0 when it is absent.
fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().expect("a number"))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let stack = Stack::get();
    let server = Server::start_in(stack, &state_dir(), "");
    let admin = server.admin_url();
    let http = reqwest::Client::new();

    let r = http.get(format!("{admin}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = http.get(format!("{admin}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ready: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ready["store"], "ok", "{ready}");
    assert_eq!(ready["imap"], "ok", "{ready}");

    // Without the token, metrics are refused.
    let r = http.get(format!("{admin}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let (user, pw) = stack.new_user("ops");
    Imap::login(stack.imap_port, &user, &pw).append(
        "INBOX",
        &message("a@example.org", &user, "one", "hello"),
        "",
    );
    let p = phone(&server, stack, &user, &pw, "OPS1").await;
    let inbox = p.folder_id(2).await;
    let first = p
        .sync_one(collection(
            &inbox,
            "0",
            None,
            Some(mail_options(1, None)),
            vec![],
        ))
        .await;
    assert_eq!(first.status, "1");
    let second = p
        .sync_changes(&inbox, &first.sync_key, 10, mail_options(1, None))
        .await;
    assert_eq!(second.commands.len(), 1, "the one message");
    // A wrong password counts as an authentication failure.
    let bad = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        &user,
        "wrong",
        "OPS2",
    );
    assert_eq!(bad.folder_sync("0").await.status, 401);

    // A made-up command name is counted, but not as a label of its own.
    let made_up = p.post("NoSuchCommand", &Element::new(F::FolderSync)).await;
    assert_eq!(made_up.status, 501);

    let r = scrape(&admin).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    assert_eq!(
        series(
            &text,
            "airsync_requests_total{command=\"FolderSync\",status=\"200\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            "airsync_requests_total{command=\"Sync\",status=\"200\"}"
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            "airsync_requests_total{command=\"FolderSync\",status=\"401\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            "airsync_request_duration_seconds_count{command=\"Sync\"}"
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            "airsync_requests_total{command=\"unknown\",status=\"501\"}"
        ),
        1.0,
        "{text}"
    );
    assert!(!text.contains("NoSuchCommand"), "{text}");
    assert_eq!(
        series(&text, "airsync_sync_items_sent_total"),
        1.0,
        "{text}"
    );
    assert_eq!(series(&text, "airsync_auth_failures_total"), 1.0, "{text}");
    assert!(
        text.contains("# TYPE airsync_waiting_requests gauge"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE airsync_push_watchers gauge"),
        "{text}"
    );
}

/// An IMAP upstream that does not answer makes the server unready (503, naming IMAP),
/// while it stays healthy. The shared Dovecot keeps running: this server is pointed
/// at a closed port instead.
#[tokio::test]
async fn unready_without_imap() {
    let stack = Stack::get();
    let dir = state_dir();
    let mut first = Server::start_in(stack, &dir, "");
    first.stop();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("airsync.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(&stack.imap_url(), &format!("imap://127.0.0.1:{closed}"));
    std::fs::write(&config, text).unwrap();
    let server = Server::start_config(&dir);
    let admin = server.admin_url();
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{admin}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = http.get(format!("{admin}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ready"], false, "{body}");
    assert_eq!(body["store"], "ok", "{body}");
    assert!(body["imap"].as_str().unwrap().contains("connect"), "{body}");
    // A login cannot be checked: 503 to the device, an IMAP upstream error counted.
    let (user, pw) = stack.new_user("down");
    let p = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        &user,
        &pw,
        "DOWN1",
    );
    assert_eq!(p.folder_sync("0").await.status, 503);
    let text = scrape(&admin).await.text().await.unwrap();
    let errors = "airsync_upstream_errors_total{backend=\"imap\",kind=\"transient\"}";
    assert_eq!(series(&text, errors), 1.0, "{text}");
}

/// A device firing 50 FolderSyncs at once gets 503 (with Retry-After) once its burst
/// is spent, while another user's device, at the same time, is served normally.
#[tokio::test]
async fn a_flooding_device_is_throttled_alone() {
    let stack = Stack::get();
    let limits = "[limits]\nrequests_per_minute_per_device = 6\nrequest_burst_per_device = 12\n";
    let server = Server::start_in(stack, &state_dir(), limits);
    let (user, pw) = stack.new_user("flood");
    let (other, other_pw) = stack.new_user("calm");
    // Two Provision requests come out of each device's burst of 12.
    let flood = std::sync::Arc::new(phone(&server, stack, &user, &pw, "FLOOD1").await);
    let calm = phone(&server, stack, &other, &other_pw, "CALM1").await;

    let burst = async {
        let mut all = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let flood = flood.clone();
            all.spawn(async move { flood.folder_sync("0").await });
        }
        all.join_all().await
    };
    let calm_inbox = calm.folder_id(2).await;
    // The other user's device keeps syncing meanwhile: FolderSync and Sync alike.
    let steady = async {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(calm.folder_sync("0").await.status);
            let sync = calm
                .sync_one(collection(
                    &calm_inbox,
                    "0",
                    None,
                    Some(mail_options(1, None)),
                    vec![],
                ))
                .await;
            assert_eq!(sync.status, "1");
        }
        statuses
    };
    let (answers, steady) = tokio::join!(burst, steady);
    assert!(
        steady.iter().all(|s| *s == 200),
        "the other device: {steady:?}"
    );
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let throttled: Vec<_> = answers.iter().filter(|a| a.status == 503).collect();
    // 10 left of the burst, at most one more token refilled (one per 10 s).
    assert!((10..=11).contains(&ok), "{ok} served");
    assert_eq!(ok + throttled.len(), 50, "every answer is 200 or 503");
    for a in &throttled {
        let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry), "Retry-After {retry}");
        assert_eq!(a.headers["x-ms-asthrottle"], "CommandFrequency");
    }
    // Counted in the metrics.
    let text = scrape(&server.admin_url()).await.text().await.unwrap();
    assert_eq!(
        series(&text, "airsync_throttled_requests_total"),
        throttled.len() as f64,
        "{text}"
    );
}

/// Four devices of one account, each well within its own budget, together exceed the
/// account's (`request_burst_per_user = 12`): the surplus gets 503 with Retry-After,
/// and another account, at the same time, is served normally.
#[tokio::test]
async fn an_account_is_throttled_across_its_devices() {
    let stack = Stack::get();
    let limits = "[limits]\nrequests_per_minute_per_device = 600\nrequest_burst_per_device = 100\n\
                  requests_per_minute_per_user = 6\nrequest_burst_per_user = 12\n";
    let server = Server::start_in(stack, &state_dir(), limits);
    let (user, pw) = stack.new_user("manydev");
    let (other, other_pw) = stack.new_user("onedev");
    // Provisioning takes two of the account's 12 requests per device: 4 are left.
    let mut devices = Vec::new();
    for i in 0..4 {
        devices.push(std::sync::Arc::new(
            phone(&server, stack, &user, &pw, &format!("MANY{i}")).await,
        ));
    }
    let calm = phone(&server, stack, &other, &other_pw, "ONE1").await;
    let burst = async {
        let mut all = tokio::task::JoinSet::new();
        for d in &devices {
            for _ in 0..4 {
                let d = d.clone();
                all.spawn(async move { d.folder_sync("0").await });
            }
        }
        all.join_all().await
    };
    let steady = async {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(calm.folder_sync("0").await.status);
        }
        statuses
    };
    let (answers, steady) = tokio::join!(burst, steady);
    assert!(
        steady.iter().all(|s| *s == 200),
        "the other account: {steady:?}"
    );
    let ok = answers.iter().filter(|a| a.status == 200).count();
    // 4 left of the account's burst, at most one more refilled (one per 10 s).
    assert!(
        (4..=5).contains(&ok),
        "{ok} served: {:?}\n{}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>(),
        server.log()
    );
    for a in answers.iter().filter(|a| a.status != 200) {
        assert_eq!(a.status, 503);
        assert!(a.headers.contains_key("retry-after"));
        assert_eq!(a.headers["x-ms-asthrottle"], "CommandFrequency");
    }
}

/// `airsync health --url` (the container HEALTHCHECK) succeeds on the admin /healthz
/// and fails on a refused /metrics (no token) and on a closed port.
#[tokio::test]
async fn health_subcommand() {
    let stack = Stack::get();
    let server = Server::start_in(stack, &state_dir(), "");
    let health = |url: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_airsync"))
            .args(["health", "--url", &url])
            .output()
            .unwrap()
    };
    let admin = server.admin_url();
    assert!(health(format!("{admin}/healthz")).status.success());
    let unauthorised = health(format!("{admin}/metrics"));
    assert!(!unauthorised.status.success());
    assert!(String::from_utf8_lossy(&unauthorised.stderr).contains("401"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(!health(format!("http://{closed}/healthz")).status.success());
}

/// While a Ping waits, the gauges show one waiting request and one push watcher.
#[tokio::test]
async fn waiting_ping_shows_in_the_gauges() {
    use airsync::wbxml::pages::Ping as P;
    let stack = Stack::get();
    let server = Server::start_in(stack, &state_dir(), "");
    let admin = server.admin_url();
    let (user, pw) = stack.new_user("gauge");
    let p = std::sync::Arc::new(phone(&server, stack, &user, &pw, "GAUGE1").await);
    let inbox = p.folder_id(2).await;
    let folder = Element::new(P::Folder)
        .text_child(P::Id, inbox)
        .text_child(P::Class, "Email");
    let ping = Element::new(P::Ping)
        .text_child(P::HeartbeatInterval, "120")
        .child(Element::new(P::Folders).child(folder));
    let waiting = {
        let p = p.clone();
        tokio::spawn(async move { p.post("Ping", &ping).await })
    };
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(&admin).await.text().await.unwrap();
        if series(&text, "airsync_waiting_requests") == 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(series(&text, "airsync_waiting_requests"), 1.0, "{text}");
    assert_eq!(series(&text, "airsync_push_watchers"), 1.0, "{text}");
    waiting.abort();
}

/// `[log] format = "json"`: every line airsync writes is one JSON object with level,
/// target and fields; the request line names the command and the status; the
/// password appears nowhere.
#[tokio::test]
async fn json_logs() {
    let stack = Stack::get();
    let dir = state_dir();
    let mut first = Server::start_in(stack, &dir, "");
    first.stop();
    let config = dir.join("airsync.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[log]\n", "[log]\nformat = \"json\"\n");
    std::fs::write(&config, text).unwrap();
    std::fs::remove_file(dir.join("airsync.log")).unwrap();
    let server = Server::start_config(&dir);
    let (user, pw) = stack.new_user("jsonlog");
    let p = phone(&server, stack, &user, &pw, "JSON1").await;
    assert_eq!(p.folder_sync("0").await.status, 200);
    let log = server.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 3, "{log}");
    for l in &lines {
        assert!(l["level"].is_string() && l["target"].is_string(), "{l}");
    }
    let request = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request" && l["fields"]["command"] == "FolderSync")
        .unwrap_or_else(|| panic!("no request line for FolderSync:\n{log}"));
    assert_eq!(request["target"], "airsync");
    assert_eq!(request["fields"]["status"], 200, "{request}");
    assert!(!log.contains(&pw), "the password is logged");
}
