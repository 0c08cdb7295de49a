//! Incoming iTIP (RFC 5546) carried by mail (iMIP, RFC 6047) applied to the user's own
//! calendars: a REPLY from an attendee updates that attendee's PARTSTAT on the
//! organizer's event.
//!
//! Two paths call [`apply_incoming_reply`] for the same message, and both may: the
//! push watcher, as soon as the message lands in INBOX while one of the user's devices
//! waits (`push::replies`), and Sync, when the message is first offered to a device
//! (`commands::sync::mail`). The REPLY's DTSTAMP, remembered on the attendee line
//! ([`meeting::REPLY_STAMP_PARAM`]), makes the second application a no-op and keeps a
//! late, older REPLY from overwriting a newer answer. The event is written with
//! If-Match; when the other path wrote it in between, the write is retried on the
//! fresh copy, where the REPLY is then found already applied.

use airsync_model::{BackendError, Credentials, DavKind, DavStore};

use crate::mapping::calendar::{self, meeting};
use crate::mapping::email;

/// What became of an incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Not an iTIP REPLY, no matching event, or nothing new in it.
    Nothing,
    /// The organizer's event was updated.
    Updated,
}

/// How often a write lost to a concurrent one is tried again.
const ATTEMPTS: usize = 3;

/// Applies `raw` when it is an iTIP REPLY to one of `creds`' events (see the module
/// docs). The event with the reply's UID is looked up around the reply's DTSTART in
/// the account's calendars, and only the sender's own ATTENDEE line is taken from the
/// reply (nobody can answer for someone else).
pub async fn apply_incoming_reply(
    dav: &dyn DavStore,
    creds: &Credentials,
    raw: &[u8],
) -> Result<Applied, BackendError> {
    let Some((method, ics)) = email::calendar_part(raw) else {
        return Ok(Applied::Nothing);
    };
    if method != "REPLY" {
        return Ok(Applied::Nothing);
    }
    let Some(sender) = email::from_address(raw) else {
        return Ok(Applied::Nothing);
    };
    let Some(uid) = calendar::event_uid(&ics) else {
        return Ok(Applied::Nothing);
    };
    let start = meeting::reply_start(&ics);
    for col in dav.collections(creds, DavKind::Calendar).await? {
        if !col
            .components
            .iter()
            .any(|k| k.eq_ignore_ascii_case("VEVENT"))
        {
            continue;
        }
        let candidates = match start {
            Some(t) => {
                dav.time_range(creds, &col.href, "VEVENT", t - 86_400, Some(t + 86_400))
                    .await?
            }
            None => dav.list(creds, &col.href).await?.members,
        };
        let hrefs: Vec<String> = candidates.into_iter().map(|(h, _)| h).collect();
        if hrefs.is_empty() {
            continue;
        }
        let found = dav
            .fetch(creds, &col.href, &hrefs)
            .await?
            .into_iter()
            .find(|o| calendar::event_uid(&o.data).as_deref() == Some(uid.as_str()));
        let Some(mut object) = found else { continue };
        let name = object
            .href
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        for attempt in 1..=ATTEMPTS {
            let Some(updated) = meeting::apply_reply(&object.data, &ics, &sender) else {
                return Ok(Applied::Nothing);
            };
            let written = dav
                .put(
                    creds,
                    &col.href,
                    &name,
                    &updated,
                    "text/calendar; charset=utf-8",
                    Some(&object.etag),
                )
                .await;
            match written {
                Ok(_) => {
                    tracing::info!(target: "airsync", login = %creds.login, %uid, %sender, "meeting reply applied");
                    return Ok(Applied::Updated);
                }
                // Written by the other path (or the user) meanwhile: look again.
                Err(BackendError::Conflict(_)) if attempt < ATTEMPTS => {
                    let href = object.href.clone();
                    match dav
                        .fetch(creds, &col.href, std::slice::from_ref(&href))
                        .await?
                        .into_iter()
                        .next()
                    {
                        Some(fresh) => object = fresh,
                        None => return Ok(Applied::Nothing),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(Applied::Nothing);
    }
    Ok(Applied::Nothing)
}
