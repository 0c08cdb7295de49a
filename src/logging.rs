//! Log set-up: `tracing` records with target `airsync` (the product's AIRSYNC log tag)
//! at the level of `[log] level`; other crates only warn. Text or JSON lines on stderr.

use tracing_subscriber::EnvFilter;

use crate::settings::Log;

/// Installs the global subscriber; a second call is a no-op.
pub fn init(log: &Log) {
    let filter = EnvFilter::new(format!("warn,airsync={0},airsync_imap={0}", log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
