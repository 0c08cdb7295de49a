//! Benchmark of issue 3 (run with `scripts/bench.sh`, not in CI): the initial Sync of a
//! 10,000-message INBOX through airsync (WindowSize 100, plain-text body truncated to
//! 512 bytes) against a plain IMAP client fetching the same headers and text over one
//! connection; airsync's peak RSS; and the latency of a Sync that finds no change.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use airsync::wbxml::Element;
use common::Stack;
use common::airsync::Server;
use common::eas::{Phone, collection, https_client, mail_options};
use common::imap::{Imap, message};

const MESSAGES: usize = 10_000;

fn rss_peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let stack = Stack::get();
    let (user, pw) = stack.new_user("bench");
    let mut imap = Imap::login(stack.imap_port, &user, &pw);
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    let msgs: Vec<_> = (0..MESSAGES)
        .map(|i| message("bench@example.org", &user, &format!("bench {i}"), &body))
        .collect();
    let t = Instant::now();
    imap.append_many("INBOX", &msgs, "");
    eprintln!("seeded {MESSAGES} messages in {:?}", t.elapsed());

    // Baseline: one IMAP connection fetching what the phone gets (headers + 512 bytes of text).
    let mut baseline = Imap::login(stack.imap_port, &user, &pw);
    let t = Instant::now();
    baseline.command("EXAMINE INBOX");
    let lines = baseline.command("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.512>)");
    let imap_time = t.elapsed();
    assert!(lines.len() >= MESSAGES);

    let server = Server::start(stack);
    let pid = server.pid();
    let mut phone = Phone::new(
        https_client(&stack.ca_cert),
        &server.base_url,
        &user,
        &pw,
        "BENCH1",
    );
    phone.provision().await;
    let inbox = phone.folder_id(2).await;
    let options = mail_options(1, Some(512));
    let t = Instant::now();
    let (key, commands) = phone.sync_all(&inbox, 100, options.clone()).await;
    let sync_time = t.elapsed();
    assert_eq!(commands.len(), MESSAGES);
    let rss = rss_peak_kib(pid);

    // Right after the initial sync, and again once Dovecot's Maildir has settled: its
    // fetches added sizes to the file names, and Dovecot re-reads a Maildir directory
    // changed within the last two seconds on every open.
    let no_change = median_no_change(&phone, &inbox, &key, &options).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = median_no_change(&phone, &inbox, &key, &options).await;

    println!("mail_sync: {MESSAGES} messages, WindowSize 100, plain text truncated to 512 bytes");
    println!(
        "  plain IMAP client, one connection: {:.2} s",
        imap_time.as_secs_f64()
    );
    println!(
        "  airsync initial Sync:              {:.2} s ({:.2}x)",
        sync_time.as_secs_f64(),
        sync_time.as_secs_f64() / imap_time.as_secs_f64()
    );
    println!(
        "  airsync peak RSS:                  {:.1} MiB",
        rss as f64 / 1024.0
    );
    println!(
        "  no-change Sync, median of 50:      {:.1} ms right after, {:.1} ms 3 s later",
        no_change.as_secs_f64() * 1000.0,
        settled.as_secs_f64() * 1000.0
    );
}

/// The median time of 50 Syncs that find nothing new.
async fn median_no_change(phone: &Phone, inbox: &str, key: &str, options: &Element) -> Duration {
    let mut idle = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let s = phone
            .sync_one(collection(
                inbox,
                key,
                Some(100),
                Some(options.clone()),
                vec![],
            ))
            .await;
        idle.push(t.elapsed());
        assert!(s.commands.is_empty());
    }
    median(idle)
}
