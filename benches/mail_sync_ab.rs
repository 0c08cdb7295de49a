//! Compares builds of airsync on `mail_sync`'s initial Sync (run by hand, not in CI):
//! `AB_BINS="/path/a /path/b"` are started side by side on one seeded INBOX and take
//! turns, round after round, each round's order reversed from the last, each Sync
//! beside a fresh plain-IMAP baseline. On a shared two-core machine the plain fetch
//! alone varies by a third over an afternoon: builds measured minutes apart cannot be
//! told apart, builds measured alternately can. AB_ROUNDS (16) rounds; the account's
//! and device's request budgets are lifted, as so many syncs would exhaust them.
//!
//! ```text
//! cargo bench --bench mail_sync_ab --no-run   # then, with the stack of scripts/bench.sh:
//! AB_BINS="/tmp/airsync-old /tmp/airsync-new" AIRSYNC_TEST_STACK=DIR target/…/mail_sync_ab
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mail.rs"]
mod mail;
#[path = "support/process.rs"]
mod process;

use std::path::PathBuf;
use std::time::Duration;

use common::Stack;
use common::airsync::Server;
use mail::{initial_sync, new_phone, plain_fetch, seed};
use process::{cpu_seconds, median};

/// One round of one build: (plain fetch, airsync's Sync, airsync's CPU), in seconds.
type Round = (f64, f64, f64);

#[tokio::main]
async fn main() {
    let stack = Stack::get();
    let bins: Vec<PathBuf> = std::env::var("AB_BINS")
        .expect("AB_BINS: the airsync builds to compare, separated by spaces")
        .split_whitespace()
        .map(PathBuf::from)
        .collect();
    let rounds: usize = std::env::var("AB_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let (user, pw) = seed(stack, "ab");
    let unlimited =
        "[limits]\nrequests_per_minute_per_user = 0\nrequests_per_minute_per_device = 0\n";
    let servers: Vec<Server> = bins
        .iter()
        .map(|bin| {
            let dir = tempfile::Builder::new()
                .prefix("airsync-ab-")
                .tempdir()
                .unwrap()
                .keep();
            Server::configure(stack, &dir, unlimited);
            Server::start_binary(&dir, bin)
        })
        .collect();
    let mut results: Vec<Vec<Round>> = vec![Vec::new(); bins.len()];
    for round in 0..rounds {
        let order: Vec<usize> = match round % 2 {
            0 => (0..bins.len()).collect(),
            _ => (0..bins.len()).rev().collect(),
        };
        for v in order {
            let (plain, _) = plain_fetch(stack, &user, &pw);
            let server = &servers[v];
            let account = (user.as_str(), pw.as_str());
            let device = format!("AB{round}");
            let (phone, inbox) = new_phone(stack, &server.base_url, account, &device).await;
            let cpu = cpu_seconds(server.pid());
            let (sync, _) = initial_sync(&phone, &inbox).await;
            let spent = cpu_seconds(server.pid()) - cpu;
            eprintln!(
                "round {round} {}: plain {:.3} s, Sync {:.3} s, CPU {spent:.3} s",
                bins[v].display(),
                plain.as_secs_f64(),
                sync.as_secs_f64()
            );
            results[v].push((plain.as_secs_f64(), sync.as_secs_f64(), spent));
            // Let Dovecot's Maildir settle between turns, as between the builds' rounds.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    println!("mail_sync_ab: {rounds} alternating rounds; medians (ratio: also mean, min)");
    for (bin, rounds) in bins.iter().zip(&results) {
        let ratios: Vec<f64> = rounds.iter().map(|r| r.1 / r.0).collect();
        let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
        let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "  {}: ratio {:.2}x (mean {mean:.2}x, min {min:.2}x), Sync {:.3} s, airsync CPU {:.2} s",
            bin.display(),
            median(ratios.clone()),
            median(rounds.iter().map(|r| r.1).collect()),
            median(rounds.iter().map(|r| r.2).collect()),
        );
    }
}
