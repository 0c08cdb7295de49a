//! airsync: an Exchange ActiveSync server that bridges phones to the IMAP, CalDAV,
//! CardDAV and SMTP servers people already run. See design.md for the architecture;
//! the path of a request is `http` → `wbxml` → `eas` → `commands`, which use
//! `mapping`, `state`, `policy` and the backends.

pub mod admin;
pub mod app;
pub mod auth;
pub mod certs;
pub mod commands;
pub mod directory;
pub mod eas;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod logging;
pub mod mapping;
pub mod metrics;
pub mod policy;
pub mod push;
pub mod scheduling;
pub mod settings;
pub mod sieve;
pub mod state;
pub mod wbxml;

pub use app::{App, serve};
