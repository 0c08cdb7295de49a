//! IMAP backend for airsync: [`ImapStore`] implements [`airsync_model::MailStore`] on
//! async-imap over tokio, with a per-user pool of authenticated connections.
//!
//! Modules: [`url`] parses the setting, [`conn`] is the TCP/TLS stream, [`raw`] runs the
//! commands async-imap cannot parse, [`utf7`] converts mailbox names, [`pool`] keeps
//! connections per user, [`server`] holds capabilities and namespaces, [`mailboxes`] runs
//! the mailbox commands, [`messages`] the message commands, [`store`] ties them together.

mod conn;
mod error;
mod mailboxes;
mod messages;
mod pool;
mod raw;
mod server;
mod store;
pub mod url;
pub mod utf7;
mod watch;

pub use conn::{ImapConn, tls_connector};
pub use server::{Capabilities, Namespace, Namespaces, ServerInfo};
pub use store::{ImapConfig, ImapStore};
pub use watch::{WatchConn, WatchEvent};
