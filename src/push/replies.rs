//! Meeting replies applied while the user is connected: the watcher of a user looks at
//! every message that lands in INBOX and hands the iTIP REPLYs among them to
//! [`crate::scheduling`], so that the organizer's event learns an attendee's answer
//! within moments of the mail's arrival, without a device syncing INBOX (Sync applies
//! the same REPLY again when it offers the message; that second time changes nothing).
//!
//! Which messages: those above the UIDNEXT seen at the previous look. At the first look
//! after the watcher started, the messages received in the last [`CATCH_UP`] (at most
//! [`MAX_SCAN`] of them), so that a reply that arrived while the device was connecting
//! is not left to Sync. Messages larger than [`MAX_SIZE`] are not fetched (an iMIP
//! REPLY is a few kilobytes); Sync still applies them.

use std::sync::Arc;
use std::time::Duration;

use airsync_model::{BackendError, DavStore, MailStore, Uid};

use super::{Inner, MailState, UserWatch, lock};
use crate::scheduling::{Applied, apply_incoming_reply};

/// How far back the first look of a watcher goes.
pub const CATCH_UP: Duration = Duration::from_secs(15 * 60);
/// At most this many messages are looked at in one go (the newest).
pub const MAX_SCAN: u32 = 200;
/// Larger messages are left to Sync.
pub const MAX_SIZE: u64 = 1024 * 1024;
const FETCH_CHUNK: usize = 20;

/// Where the last look at INBOX stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    uidvalidity: u32,
    uidnext: Uid,
}

/// Runs for the watcher's lifetime: on every change of INBOX, applies the REPLYs that
/// arrived since the previous look. Never returns while the view exists.
pub(super) async fn run(inner: &Inner, user: &UserWatch) {
    let Some(dav) = inner.calendars.clone() else {
        return std::future::pending().await;
    };
    let mut view = user.view.subscribe();
    let mut last_cursor: Option<String> = None;
    let mut seen: Option<Seen> = None;
    loop {
        let cursor = view
            .borrow_and_update()
            .mail
            .get("INBOX")
            .and_then(MailState::cursor);
        if cursor.is_some() && cursor != last_cursor {
            match look(inner, user, &dav, seen).await {
                Ok(next) => {
                    seen = Some(next);
                    last_cursor = cursor;
                }
                Err(e) => {
                    // Tried again at INBOX's next change.
                    tracing::info!(target: "airsync", login = %lock(&user.creds).login, error = %e, "push: incoming meeting replies not looked at");
                }
            }
        }
        if view.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

async fn look(
    inner: &Inner,
    user: &UserWatch,
    dav: &Arc<dyn DavStore>,
    seen: Option<Seen>,
) -> Result<Seen, BackendError> {
    let creds = lock(&user.creds).clone();
    let status = inner.imap.status(&creds, "INBOX").await?;
    let now = Seen {
        uidvalidity: status.uidvalidity,
        uidnext: status.uidnext,
    };
    let (from, received_after) = match seen {
        Some(s) if s.uidvalidity == now.uidvalidity => (s.uidnext, None),
        // First look (or INBOX was recreated): only what arrived lately.
        _ => (1, Some(crate::state::now() - CATCH_UP.as_secs() as i64)),
    };
    tracing::debug!(target: "airsync", login = %creds.login, from, uidnext = now.uidnext, "push: looking for meeting replies in INBOX");
    if now.uidnext <= from {
        return Ok(now);
    }
    let first = from.max(now.uidnext.saturating_sub(MAX_SCAN));
    let uids: Vec<Uid> = (first..now.uidnext).collect();
    let wanted: Vec<Uid> = inner
        .imap
        .fetch_meta(&creds, "INBOX", &uids)
        .await?
        .into_iter()
        .filter(|m| {
            m.size.is_some_and(|s| s <= MAX_SIZE)
                && received_after.is_none_or(|t| m.internal_date >= t)
        })
        .map(|m| m.uid)
        .collect();
    for chunk in wanted.chunks(FETCH_CHUNK) {
        for m in inner.imap.fetch_messages(&creds, "INBOX", chunk).await? {
            match apply_incoming_reply(dav.as_ref(), &creds, &m.raw).await {
                Ok(Applied::Updated) => {
                    tracing::debug!(target: "airsync", login = %creds.login, uid = m.meta.uid, "push: meeting reply applied on arrival");
                }
                Ok(Applied::Nothing) => {}
                Err(e) => {
                    tracing::warn!(target: "airsync", login = %creds.login, uid = m.meta.uid, error = %e, "push: a meeting reply could not be applied");
                }
            }
        }
    }
    Ok(now)
}
