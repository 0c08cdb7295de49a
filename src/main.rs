//! The `airsync` command: `serve`, `check-config`, and admin verbs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use airsync::settings::Settings;

#[derive(Parser)]
#[command(name = "airsync", version, about = "Exchange ActiveSync for IMAP, CalDAV/CardDAV and SMTP servers")]
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
    /// List the devices that have used the server.
    Devices {
        #[arg(long, short, env = "AIRSYNC_CONFIG")]
        config: Option<PathBuf>,
        /// Only the devices of this account (upstream login).
        #[arg(long)]
        account: Option<String>,
    },
}

fn load(config: Option<&PathBuf>) -> Result<Settings, ExitCode> {
    Settings::load(config.map(|p| p.as_path())).map_err(|e| {
        eprintln!("airsync: {e}");
        ExitCode::from(2)
    })
}

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
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
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
                println!("  listen      {} ({})", s.server.listen, if s.server.tls_cert.is_some() { "HTTPS" } else { "plain HTTP" });
                println!("  store       {}", redact_url(&s.store.url));
                println!("  imap        {}", s.imap.url);
                println!("  log level   {}", s.log.level);
                println!("  admin       {}", s.admin.listen);
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Verb::Devices { config, account } => {
            let settings = match load(config.as_ref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let store = match airsync::state::Store::connect(&settings.store.url).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("airsync: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match store.devices(account.as_deref()).await {
                Ok(devices) => {
                    println!("{:<28} {:<16} {:<34} {:<8} {:<10} LAST ACCESS", "ACCOUNT", "TYPE", "ID", "EAS", "POLICY");
                    for d in devices {
                        let policy = if d.policy_key != 0 { "provisioned" } else { "-" };
                        println!(
                            "{:<28} {:<16} {:<34} {:<8} {:<10} {}",
                            d.login, d.device_type, d.device_id, d.protocol_version, policy,
                            chrono::DateTime::from_timestamp(d.last_seen, 0).map(|t| t.to_rfc3339()).unwrap_or_default()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("airsync: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
