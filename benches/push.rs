//! Benchmark of issue 5 (run with `scripts/bench.sh push`, not in CI).
//!
//! 1. Latency: one device Pings INBOX; a message goes to the MTA; time from the MTA
//!    accepting it (end of the SMTP transaction) to the Ping's Status 2 — 200 times.
//! 2. Scale: PUSH_USERS users (default 2000) × PUSH_DEVICES devices (default 5) each Ping
//!    INBOX against the real Dovecot; while they wait: airsync's RSS, its CPU over 10 s
//!    of idling, its upstream IMAP connections; then one delivery per user and the time
//!    until every Ping has answered.
//!
//! CalDAV and CardDAV are configured as in production: each user's watcher also polls
//! Radicale (every `dav_poll_secs`, 30 s by default) and looks at new INBOX mail for
//! meeting replies; the Pings name INBOX only (the latency of DAV push is the poll
//! interval by design).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/process.rs"]
mod process;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airsync::wbxml::Element;
use airsync::wbxml::pages::{FolderHierarchy as F, Ping as P};
use common::Stack;
use common::airsync::{ADMIN_TOKEN, Server};
use common::eas::{Phone, https_client};
use process::rss_kib;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start(stack: &Stack) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("airsync-bench-push-")
        .tempdir()
        .unwrap()
        .keep();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"{cert}\"\ntls_key = \"{key}\"\n\
         [log]\nlevel = \"info\"\n[store]\nurl = \"sqlite://{db}\"\n\
         [imap]\nurl = \"imap://127.0.0.1:{imap}\"\npool_idle_secs = 5\n\
         [caldav]\nurl = \"http://127.0.0.1:{dav}/\"\n[carddav]\nurl = \"http://127.0.0.1:{dav}/\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN_TOKEN}\"\ntrace_dir = \"{traces}\"\n\
         [auth]\ndefault_domain = \"{domain}\"\ncache_ttl_secs = 3600\n\
         [provision]\nrequired = false\n[push]\nmin_heartbeat_secs = 1\n",
        cert = stack.server_cert.display(),
        key = stack.server_key.display(),
        db = dir.join("airsync.db").display(),
        imap = stack.imap_port,
        dav = stack.dav_port,
        domain = stack.mail_domain,
        traces = dir.join("traces").display(),
    );
    std::fs::write(dir.join("airsync.toml"), config).unwrap();
    Server::start_config(&dir)
}

fn ping_doc(heartbeat: u32, inbox: &str) -> Element {
    Element::new(P::Ping)
        .text_child(P::HeartbeatInterval, heartbeat.to_string())
        .child(
            Element::new(P::Folders).child(
                Element::new(P::Folder)
                    .text_child(P::Id, inbox)
                    .text_child(P::Class, "Email"),
            ),
        )
}

fn status_of(body: Option<&Element>) -> String {
    body.and_then(|b| b.child_text(P::Status))
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

/// The device's INBOX id from a FolderSync; retried like a phone would when the
/// upstream is busy (thousands of first logins at once make Dovecot slow).
async fn inbox_of(p: &Phone) -> String {
    for attempt in 0.. {
        let a = p
            .post(
                "FolderSync",
                &Element::new(F::FolderSync).text_child(F::SyncKey, "0"),
            )
            .await;
        let Some(body) = a.body.as_ref().filter(|_| a.status == 200) else {
            assert!(attempt < 60, "FolderSync kept failing: HTTP {}", a.status);
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        };
        let (_, _, adds, _, _) = common::eas::folder_changes(body);
        return adds
            .iter()
            .find(|f| f.kind == 2)
            .expect("INBOX")
            .server_id
            .clone();
    }
    unreachable!()
}

fn message(to: &str, n: usize) -> Vec<u8> {
    format!("From: bench@example.org\r\nTo: {to}\r\nSubject: push {n}\r\nMessage-ID: <push-{n}-{to}>\r\n\r\nhello\r\n")
        .into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command: state is index 0, utime 11, stime 12.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// Established TCP connections of `pid` to `port` (sockets in /proc/PID/fd matched
/// against /proc/net/tcp{,6}).
fn connections_to(pid: u32, port: u16) -> usize {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "01" {
                continue;
            }
            let remote_port = f[2]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if remote_port == Some(port) {
                inodes.insert(f[9].to_string());
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            l.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_string)
        })
        .filter(|i| inodes.contains(i))
        .count()
}

async fn latency(stack: &'static Stack, server: &Server) {
    let rounds = env_or("PUSH_ROUNDS", 200);
    let (user, pw) = stack.new_user("bench-lat");
    let p = Arc::new(Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        &user,
        &pw,
        "LAT1",
    ));
    let inbox = inbox_of(&p).await;
    let mut took = Vec::with_capacity(rounds);
    for n in 0..rounds {
        let q = p.clone();
        let doc = ping_doc(600, &inbox);
        let waiting = tokio::spawn(async move {
            let a = q.post("Ping", &doc).await;
            (Instant::now(), status_of(a.body.as_ref()))
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let raw = message(&user, n);
        let to = user.clone();
        let accepted = tokio::task::spawn_blocking(move || {
            Stack::get().deliver("bench@example.org", &to, &raw);
            Instant::now()
        })
        .await
        .unwrap();
        let (answered, status) = waiting.await.unwrap();
        assert_eq!(status, "2", "round {n}");
        took.push(answered.saturating_duration_since(accepted));
    }
    took.sort();
    println!(
        "latency MTA accepted -> Ping Status 2 over {rounds} deliveries: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&took, 0.5).as_secs_f64() * 1000.0,
        percentile(&took, 0.99).as_secs_f64() * 1000.0,
        took.last().unwrap().as_secs_f64() * 1000.0
    );
}

async fn scale(stack: &'static Stack, server: &Server) {
    let users = env_or("PUSH_USERS", 2000);
    let devices = env_or("PUSH_DEVICES", 5);
    let pid = server.pid();
    let t = Instant::now();
    // add-user.sh is safe in parallel: eight at a time.
    let accounts: Vec<(String, String)> = tokio::task::spawn_blocking(move || {
        let per = users.div_ceil(8);
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let n = per.min(users.saturating_sub(i * per));
                std::thread::spawn(move || {
                    (0..n)
                        .map(|_| Stack::get().new_user("bench-scale"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    })
    .await
    .unwrap();
    println!("scale: {users} users created in {:.0?}", t.elapsed());
    // One HTTP client per 500 phones (each client pools its own connections).
    let clients: Vec<reqwest::Client> = (0..(users * devices).div_ceil(500))
        .map(|_| https_client(&stack.ca_cert))
        .collect();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let t = Instant::now();
    let mut waiting = Vec::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
    let mut n = 0;
    // Device-major order: a user's devices do not all start at once.
    for d in 0..devices {
        for (user, pw) in &accounts {
            let phone = Phone::new(
                clients[n / 500].clone(),
                &server.base_url,
                user,
                pw,
                &format!("SCALE{d}"),
            );
            n += 1;
            let gate = gate.clone();
            let done = done_tx.clone();
            waiting.push(tokio::spawn(async move {
                let inbox = {
                    let _permit = gate.acquire().await.unwrap();
                    inbox_of(&phone).await
                };
                let a = phone.post("Ping", &ping_doc(3000, &inbox)).await;
                let _ = done.send((Instant::now(), status_of(a.body.as_ref())));
            }));
        }
    }
    let total = users * devices;
    // Wait until every Ping is registered (FolderSync done, then a little settling).
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let established = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0);
        if gate.available_permits() == 32 && established >= total {
            break;
        }
        if t.elapsed() > Duration::from_secs(1800) {
            println!("scale: gave up waiting for all Pings to start");
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!("scale: {total} Pings waiting after {:.0?}", t.elapsed());
    // Pooled connections of the FolderSyncs and Ping checks close after pool_idle_secs.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let rss = rss_kib(pid);
    let upstream = connections_to(pid, stack.imap_port);
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let (c0, w0) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu = (cpu_ticks(pid) - c0) as f64 / ticks_per_sec / w0.elapsed().as_secs_f64() * 100.0;
    println!(
        "scale: while {total} Pings wait: airsync RSS {:.0} MiB ({:.1} KiB per waiting Ping), CPU {cpu:.2} % of a core, \
         upstream IMAP connections {upstream} for {users} users",
        rss as f64 / 1024.0,
        rss as f64 / total as f64
    );
    // One delivery per user, in SMTP transactions of up to 500 recipients.
    let t = Instant::now();
    let logins: Vec<String> = accounts.iter().map(|(u, _)| u.clone()).collect();
    tokio::task::spawn_blocking(move || {
        for chunk in logins.chunks(500) {
            let to: Vec<&str> = chunk.iter().map(String::as_str).collect();
            Stack::get().deliver_to("bench@example.org", &to, &message("many", 0));
        }
    })
    .await
    .unwrap();
    let accepted = t.elapsed();
    drop(done_tx);
    let mut changed = 0;
    let mut last = Instant::now();
    while let Some((at, status)) = done_rx.recv().await {
        if status == "2" {
            changed += 1;
        }
        last = at;
    }
    println!(
        "scale: deliveries accepted in {:.1} s; all {total} Pings answered {:.1} s after the first delivery ({changed} with Status 2)",
        accepted.as_secs_f64(),
        last.duration_since(t).as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let stack = Stack::get();
    let server = start(stack);
    if std::env::var("PUSH_SKIP_LATENCY").is_err() {
        latency(stack, &server).await;
    }
    if std::env::var("PUSH_SKIP_SCALE").is_err() {
        scale(stack, &server).await;
    }
}
