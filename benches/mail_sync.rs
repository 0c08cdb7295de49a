//! Benchmark of issue 3 (run with `scripts/bench.sh`, not in CI): the initial Sync of a
//! 10,000-message INBOX through airsync (WindowSize 100, plain-text body truncated to
//! 512 bytes) against a plain IMAP client fetching the same headers and text over one
//! connection; airsync's peak RSS and CPU time; and the latency of a Sync that finds no
//! change. MAIL_SYNC_ROUNDS (5) initial syncs by new phones, medians reported. Where
//! the time goes on a machine the stack shares: the CPU time of Dovecot's `imap`
//! processes (all of them on the machine) during each side, and of this bench's own
//! client during the Sync. The INBOX is opened read-write once after seeding, as by any
//! client in use (`support/mail.rs`, `seed`; `MAIL_SEED_UNOPENED=1` leaves it as
//! appended).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mail.rs"]
mod mail;
#[path = "support/process.rs"]
mod process;

use std::time::{Duration, Instant};

use airsync::wbxml::Element;
use common::Stack;
use common::airsync::Server;
use common::eas::{Phone, collection};
use mail::{MESSAGES, initial_sync, new_phone, options, plain_fetch, seed};
use process::{cpu_seconds, dovecot_cpu_seconds, median, rss_peak_kib, spent};

#[tokio::main]
async fn main() {
    let stack = Stack::get();
    let (user, pw) = seed(stack, "bench");

    // Rounds, each a plain IMAP fetch then a new phone's initial Sync, so that both
    // meet the same caches; the medians are reported (single runs on a shared
    // two-core machine vary by ±15%).
    let rounds: usize = std::env::var("MAIL_SYNC_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let server = Server::start(stack);
    let pid = server.pid();
    let options = options();
    let (mut imap_times, mut sync_times, mut ratios, mut cpu_times) =
        (vec![], vec![], vec![], vec![]);
    let (mut dovecot_baseline, mut dovecot_sync, mut client_times) = (vec![], vec![], vec![]);
    let mut last = None;
    for round in 0..rounds {
        let dovecot = dovecot_cpu_seconds();
        let (imap_time, baseline) = plain_fetch(stack, &user, &pw);
        dovecot_baseline.push(spent(dovecot, dovecot_cpu_seconds()));
        drop(baseline);

        let account = (user.as_str(), pw.as_str());
        let device = format!("BENCH{round}");
        let (phone, inbox) = new_phone(stack, &server.base_url, account, &device).await;
        let (cpu, client, dovecot) = (
            cpu_seconds(pid),
            cpu_seconds(std::process::id()),
            dovecot_cpu_seconds(),
        );
        let (sync_time, key) = initial_sync(&phone, &inbox).await;
        cpu_times.push(spent(cpu, cpu_seconds(pid)));
        client_times.push(spent(client, cpu_seconds(std::process::id())));
        dovecot_sync.push(spent(dovecot, dovecot_cpu_seconds()));
        ratios.push(Duration::from_secs_f64(
            sync_time.as_secs_f64() / imap_time.as_secs_f64(),
        ));
        imap_times.push(imap_time);
        sync_times.push(sync_time);
        last = Some((phone, inbox, key));
    }
    let rss = rss_peak_kib(pid);
    let (phone, inbox, key) = last.expect("at least one round");
    let imap_time = median(imap_times);
    let sync_time = median(sync_times);
    let (min_ratio, max_ratio) = (
        ratios.iter().min().unwrap().as_secs_f64(),
        ratios.iter().max().unwrap().as_secs_f64(),
    );
    let ratio = median(ratios).as_secs_f64();
    let cpu_time = median(cpu_times);

    // Right after the initial sync, and again once Dovecot's Maildir has settled: its
    // fetches added sizes to the file names, and Dovecot re-reads a Maildir directory
    // changed within the last two seconds on every open.
    let no_change = median_no_change(&phone, &inbox, &key, &options).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = median_no_change(&phone, &inbox, &key, &options).await;

    println!("mail_sync: {MESSAGES} messages, WindowSize 100, plain text truncated to 512 bytes");
    println!("  medians of {rounds} rounds:");
    println!(
        "  plain IMAP client, one connection: {:.2} s",
        imap_time.as_secs_f64()
    );
    println!(
        "  airsync initial Sync:              {:.2} s ({ratio:.2}x; rounds {min_ratio:.2}x to {max_ratio:.2}x)",
        sync_time.as_secs_f64(),
    );
    println!(
        "  airsync CPU time during it:        {:.2} s",
        cpu_time.as_secs_f64()
    );
    println!(
        "  Dovecot CPU: {:.2} s for the plain client, {:.2} s during the Sync; this bench's phone: {:.2} s",
        median(dovecot_baseline).as_secs_f64(),
        median(dovecot_sync).as_secs_f64(),
        median(client_times).as_secs_f64(),
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
