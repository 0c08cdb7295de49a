//! The `airsync` command: `serve`, `check-config`, and admin verbs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use airsync::settings::Settings;

#[derive(Parser)]
#[command(
    name = "airsync",
    version,
    about = "Exchange ActiveSync for IMAP, CalDAV/CardDAV and SMTP servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Run the ActiveSync server.
    Serve {
        /// The configuration file (TOML); AIRSYNC__SECTION__KEY variables override it.
        #[arg(long, short, env = "AIRSYNC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check a configuration and print the effective settings (passwords are not printed).
    CheckConfig {
        #[arg(long, short, env = "AIRSYNC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Exit 0 if URL answers 200 (a container HEALTHCHECK without curl), else 1.
    Health {
        /// Plain-HTTP address, e.g. http://127.0.0.1:8081/healthz (the admin listener).
        #[arg(long, default_value = "http://127.0.0.1:8081/healthz")]
        url: String,
    },
    /// Devices: list, show, wipe, cancel-wipe, pin, policy, block, allow, resync, trace, remove.
    Devices(airsync::admin::cli::DevicesArgs),
    /// Accounts: access, device rules, policy, hidden folders, aliases, audit trail.
    Accounts(airsync::admin::cli::AccountsArgs),
    /// Domains: access, device rules, policy for all accounts of a domain.
    Domains(airsync::admin::cli::DomainsArgs),
}

fn load(config: Option<&PathBuf>) -> Result<Settings, ExitCode> {
    Settings::load(config.map(|p| p.as_path())).map_err(|e| {
        eprintln!("airsync: {e}");
        ExitCode::from(2)
    })
}

/// mimalloc rather than glibc's malloc: a Sync converts every message into a tree of
/// small allocations (about 80 per message) and the IMAP and HTTP layers add more;
/// converting 10,000 short messages took 41 ms with glibc and 32 ms with mimalloc, and
/// airsync's CPU during an initial sync of them fell by about a twentieth (README,
/// "Measured").
///
/// Built with `no_thp`: mimalloc 3 otherwise asks for transparent huge pages on its
/// arenas, and every fresh arena page then costs the kernel a 2 MiB zeroing fault (8 %
/// of airsync's CPU in an initial sync, in `perf`) and counts whole in the RSS.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Verb::Serve { config } => {
            let settings = match load(config.as_ref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            airsync::logging::init(&settings.log);
            let shutdown = async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                tracing::info!(target: "airsync", "shutting down");
            };
            let on_bound = |addr| tracing::info!(target: "airsync", %addr, "listening");
            match airsync::serve(settings, shutdown, on_bound).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("airsync: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Verb::CheckConfig { config } => match load(config.as_ref()) {
            Ok(s) => {
                println!("configuration OK");
                println!(
                    "  listen      {} ({})",
                    s.server.listen,
                    if s.server.tls_cert.is_some() {
                        "HTTPS"
                    } else {
                        "plain HTTP"
                    }
                );
                println!("  store       {}", redact_url(&s.store.url));
                println!("  imap        {}", s.imap.url);
                println!("  log level   {}", s.log.level);
                println!("  admin       {}", s.admin.listen);
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Verb::Health { url } => match airsync::admin::ops::probe(&url).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("airsync: {url}: {e}");
                ExitCode::FAILURE
            }
        },
        Verb::Devices(args) => airsync::admin::cli::devices(args).await,
        Verb::Accounts(args) => airsync::admin::cli::accounts(args).await,
        Verb::Domains(args) => airsync::admin::cli::domains(args).await,
    }
}

/// Hides a password in a `scheme://user:password@host` URL.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
