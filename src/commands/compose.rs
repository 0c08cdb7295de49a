//! SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17–19): the device's message
//! is checked (From control), completed (reply quoting, forwarded attachments),
//! submitted once per ClientId, kept in Sent when asked, and the original is marked
//! answered or forwarded.
//!
//! The Source of a SmartReply / SmartForward may also be a calendar item (FolderId a
//! Calendar CollectionId, ItemId the event's ServerId, InstanceId one occurrence of a
//! series). Its When / Where / description are quoted below the new text; a
//! SmartForward also carries the event — or only that occurrence, with its
//! RECURRENCE-ID — as a `text/calendar; method=REQUEST` part, so that the recipients
//! get a meeting request (MS-ASCMD 3.1.5.7), as Exchange sends. A SmartReply goes to
//! whom the device addressed, as a plain reply: a REQUEST sent back to the organizer
//! would invite them to their own meeting. Ids outside the account's own folder map, and
//! an InstanceId that is no occurrence of the series, are Status 150 (ItemNotFound).
//!
//! Idempotence: the ClientId (or, without one, the message's own Message-ID) is
//! claimed in the store *before* the SMTP submission, marked sent when the MTA accepted
//! the message and released when it refused it. A retry of a sent message gets Status
//! 118 (MessagePreviouslySent) and sends nothing. A retry while the claim is still
//! `sending` gets 111 (retry later): the first submission may be running. A claim
//! still `sending` after twice `[smtp] timeout_secs` (the whole submission is bounded
//! by that timeout) was left by a process that died mid-submission, and the retry
//! sends the message (tests/e2e_faults.rs kills airsync before the end of DATA). The
//! one remaining window is a crash between the MTA's acceptance and the `sent` mark
//! (the MTA's final reply and one store write, milliseconds): that message is sent a
//! second time. Before, such claims answered 118 forever, which lost every message
//! whose process died anywhere in the SMTP dialogue (connect, AUTH, DATA).

use airsync_model::{BackendError, FlagChange, Uid};

use crate::eas::Command;
use crate::eas::compose_mail::{self, ComposeRequest, Source};
use crate::error::Error;
use crate::mapping::calendar::{self, meeting};
use crate::mapping::email::compose::{self, ComposeError, Original, Prepared};
use crate::mapping::folders::{self, PimClass, Resolved};
use crate::state::SendClaim;
use crate::wbxml::Element;

use super::sync::mail::uid_of;
use super::sync::pim::{PimFolder, object_by_server_id};
use super::{Reply, RequestContext};

/// Statuses (MS-ASCMD 2.2.2).
pub mod status {
    pub const INVALID_MIME: u16 = 107;
    pub const RETRY_LATER: u16 = 111;
    pub const PREVIOUSLY_SENT: u16 = 118;
    pub const NO_RECIPIENT: u16 = 119;
    pub const SUBMISSION_FAILED: u16 = 120;
    pub const ACCESS_DENIED: u16 = 130;
    pub const ITEM_NOT_FOUND: u16 = 150;
}

pub async fn run(
    ctx: &RequestContext<'_>,
    command: Command,
    document: Option<Element>,
    raw: Vec<u8>,
) -> Result<Reply, Error> {
    let req = match document {
        Some(doc) => compose_mail::parse(command, &doc)?,
        None => compose_mail::from_request_line(command, ctx.line, raw)?,
    };
    send(ctx, command, req).await?;
    // MS-ASCMD 2.2.1.17: success is an empty response.
    Ok(Reply::Empty)
}

/// The account's own addresses: the login (when it is an address), the `[send]
/// aliases` configured for it, and the owners of shared mailboxes it has as folder
/// aliases (send-as for a shared mailbox).
pub async fn own_addresses(ctx: &RequestContext<'_>) -> Result<Vec<String>, Error> {
    let login = ctx.login();
    let mut out = vec![login_address(ctx)];
    if let Some(extra) = ctx
        .app
        .settings
        .send
        .aliases
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(login))
        .map(|(_, v)| v)
    {
        out.extend(extra.iter().cloned());
    }
    for (_, target) in ctx.app.store.folder_aliases(login).await? {
        if let Some(owner) = target.split('/').find(|s| s.contains('@')) {
            out.push(owner.to_string());
        }
    }
    Ok(out)
}

/// The address a missing From is filled with: the login, with the default domain
/// when the login is a bare name.
pub fn login_address(ctx: &RequestContext<'_>) -> String {
    let login = ctx.login();
    let domain = &ctx.app.settings.auth.default_domain;
    if login.contains('@') || domain.is_empty() {
        login.to_string()
    } else {
        format!("{login}@{domain}")
    }
}

/// A message of the account's, found by a device-supplied Source.
pub struct SourceMessage {
    pub mailbox: String,
    pub uid: Uid,
    pub raw: Vec<u8>,
}

/// What a SmartReply / SmartForward Source names.
enum SourceItem {
    Message(SourceMessage),
    /// A calendar item (MS-ASCMD 2.2.3.173 Source with a Calendar FolderId): the event,
    /// or only the occurrence InstanceId names.
    Event(Vec<u8>, StoredEvent),
}

/// Where a forwarded calendar item lives, to invite the new recipients in the
/// organizer's own copy too.
struct StoredEvent {
    collection: String,
    object: airsync_model::DavObject,
    instance: Option<chrono::NaiveDateTime>,
}

/// Resolves a device-supplied Source. The ids are untrusted: they are looked up only in
/// the account's own folder map; anything else is not found.
async fn find_source(
    ctx: &RequestContext<'_>,
    source: &Source,
) -> Result<Option<SourceItem>, Error> {
    let (folder, item) = match (&source.folder_id, &source.item_id, &source.long_id) {
        (Some(f), Some(i), _) => (f.clone(), i.clone()),
        // LongIds (from Search) name the message as "{CollectionId}:{UID}".
        (_, _, Some(long)) => match long.split_once(':') {
            Some((f, _)) => (f.to_string(), long.clone()),
            None => return Ok(None),
        },
        (None, Some(i), _) => match i.split_once(':') {
            Some((f, _)) => (f.to_string(), i.clone()),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let view = ctx.folder_view().await?;
    match view.resolve(&folder) {
        Some(Resolved::Mail { mailbox, .. }) => {
            let Some(uid) = uid_of(&folder, &item) else {
                return Ok(None);
            };
            let mut messages = ctx
                .app
                .mail
                .fetch_messages(&ctx.principal.credentials, &mailbox, &[uid])
                .await?;
            Ok(messages.pop().map(|m| {
                SourceItem::Message(SourceMessage {
                    mailbox,
                    uid,
                    raw: m.raw,
                })
            }))
        }
        Some(Resolved::Pim {
            folder_id,
            class: PimClass::Calendar,
            href,
        }) => {
            let pim = PimFolder {
                folder_id,
                class: PimClass::Calendar,
                href: &href,
            };
            let Some(object) = object_by_server_id(ctx, &pim, &folder, &item).await? else {
                return Ok(None);
            };
            let stored = |instance| StoredEvent {
                collection: href.clone(),
                object: object.clone(),
                instance,
            };
            let Some(instance) = &source.instance_id else {
                return Ok(Some(SourceItem::Event(object.data.clone(), stored(None))));
            };
            // MS-ASCMD 2.2.3.92.2: InstanceId is the occurrence's start (dateTime).
            let Some(at) = crate::mapping::pim::parse_eas_datetime(instance) else {
                return Ok(None);
            };
            let opts = crate::mapping::calendar::CalendarOptions::new(ctx.version);
            Ok(calendar::occurrence(&object.data, at, &opts)
                .ok()
                .flatten()
                .map(|ics| SourceItem::Event(ics, stored(Some(at)))))
        }
        _ => Ok(None),
    }
}

/// The 16.x SmartForward of a calendar item that has Forwardees and a Body instead of
/// a MIME message (MS-ASCMD 2.2.3.169): the message is written here, addressed to the
/// forwardees, and kept in Sent (the request may not carry SaveInSentItems then; a
/// forwarded meeting in Sent is what Outlook shows). Then it goes the way of any forward.
/// `original` is the forwarded message, or the event as quoted: its Subject is used.
fn without_mime(req: &mut ComposeRequest, original: &[u8]) {
    let forwardees: Vec<(Option<String>, String)> = req
        .forwardees
        .iter()
        .map(|f| (f.name.clone(), f.email.clone()))
        .collect();
    let (text, html) = match &req.body {
        Some(b) => (b.data.as_str(), b.kind == 2),
        None => ("", false),
    };
    req.mime = compose::forward_message(&forwardees, original, text, html);
    req.save_in_sent = true;
}

/// Why a message cannot be sent, as a SendMail Status (MS-ASCMD 2.2.2).
fn refused(ctx: &RequestContext<'_>, e: ComposeError) -> Error {
    tracing::info!(target: "airsync", login = ctx.login(), error = %e, "message refused");
    Error::Send(match e {
        ComposeError::Unreadable => status::INVALID_MIME,
        ComposeError::NoRecipients => status::NO_RECIPIENT,
        ComposeError::FromNotAllowed(_) => status::ACCESS_DENIED,
    })
}

async fn send(
    ctx: &RequestContext<'_>,
    command: Command,
    mut req: ComposeRequest,
) -> Result<(), Error> {
    let original = match &req.source {
        Some(source) => Some(
            find_source(ctx, source)
                .await?
                .ok_or(Error::Send(status::ITEM_NOT_FOUND))?,
        ),
        None => None,
    };
    // A calendar item is quoted as Outlook shows it; forwarded, it also carries the
    // meeting request.
    let quoted = match &original {
        Some(SourceItem::Event(ics, _)) if !req.replace_mime => {
            let opts = crate::mapping::calendar::CalendarOptions::new(ctx.version);
            Some(meeting::quotable(ics, &opts).map_err(|_| Error::Send(status::ITEM_NOT_FOUND))?)
        }
        _ => None,
    };
    if req.mime.is_empty() {
        let subject_of = match (&quoted, &original) {
            (Some(q), _) => q.as_slice(),
            (None, Some(SourceItem::Message(m))) => m.raw.as_slice(),
            _ => &[],
        };
        without_mime(&mut req, subject_of);
    }
    let allowed = own_addresses(ctx).await?;
    let now = chrono::Utc::now();
    let request = match &original {
        Some(SourceItem::Event(ics, _)) if quoted.is_some() && command == Command::SmartForward => {
            Some(
                meeting::forward_request(
                    ics,
                    &allowed,
                    &compose::recipients(&req.mime),
                    now.naive_utc(),
                )
                .map_err(|_| Error::Send(status::ITEM_NOT_FOUND))?,
            )
        }
        _ => None,
    };
    let kind = match (&original, command, req.replace_mime) {
        (_, _, true) | (None, _, _) => Original::None,
        (Some(SourceItem::Message(o)), Command::SmartReply, _) => Original::Reply(&o.raw),
        (Some(SourceItem::Message(o)), _, _) => Original::Forward(&o.raw),
        (Some(SourceItem::Event(..)), _, _) => match (&quoted, &request) {
            (Some(q), Some(r)) => Original::ForwardMeeting {
                original: q,
                request: r,
            },
            (Some(q), None) => Original::Reply(q),
            _ => Original::None,
        },
    };
    let prepared = compose::prepare(&req.mime, kind, &allowed, &login_address(ctx), now)
        .map_err(|e| refused(ctx, e))?;
    let key = req
        .client_id
        .as_ref()
        .map(|c| format!("cid:{c}"))
        .or_else(|| crate::mapping::email::message_id(&req.mime).map(|m| format!("mid:{m}")));
    submit_once(ctx, key.as_deref(), &prepared).await?;
    if req.save_in_sent {
        save_sent(ctx, &prepared.sent_copy).await;
    }
    if let Some(SourceItem::Event(_, stored)) = &original
        && command == Command::SmartForward
    {
        invite_in_own_copy(ctx, stored, &allowed, &prepared.recipients).await;
    }
    if let Some(SourceItem::Message(o)) = &original
        && command != Command::SendMail
    {
        let flag = if command == Command::SmartReply {
            "\\Answered"
        } else {
            "$Forwarded"
        };
        let change = FlagChange {
            add: vec![flag.to_string()],
            remove: vec![],
        };
        if let Err(e) = ctx
            .app
            .mail
            .set_flags(&ctx.principal.credentials, &o.mailbox, &[o.uid], &change)
            .await
        {
            tracing::warn!(target: "airsync", login = ctx.login(), error = %e, "could not flag the original");
        }
    }
    Ok(())
}

/// After an organizer forwarded their meeting: the new recipients become attendees of
/// the organizer's own event (If-Match; the message is already sent, so a failure is
/// logged, not reported), so their replies are applied like everyone's.
async fn invite_in_own_copy(
    ctx: &RequestContext<'_>,
    stored: &StoredEvent,
    users: &[String],
    recipients: &[String],
) {
    let opts = crate::mapping::calendar::CalendarOptions::new(ctx.version);
    let Ok(Some(data)) = meeting::stored_with_invitees(
        &stored.object.data,
        stored.instance,
        users,
        recipients,
        &opts,
    ) else {
        return;
    };
    let Some(dav) = &ctx.app.calendars else {
        return;
    };
    let name = stored.object.href.rsplit('/').next().unwrap_or_default();
    let result = dav
        .put(
            &ctx.principal.credentials,
            &stored.collection,
            name,
            &data,
            "text/calendar; charset=utf-8",
            Some(&stored.object.etag),
        )
        .await;
    if let Err(e) = result {
        tracing::warn!(target: "airsync", login = ctx.login(), error = %e, "could not add the forwardees to the event");
    }
}

/// Submits through SMTP, at most once per `key` (see the module docs).
pub async fn submit_once(
    ctx: &RequestContext<'_>,
    key: Option<&str>,
    p: &Prepared,
) -> Result<(), Error> {
    let submitter = ctx.app.submit.as_ref().ok_or_else(|| {
        tracing::warn!(target: "airsync", "no [smtp] upstream configured: cannot send");
        Error::Send(status::SUBMISSION_FAILED)
    })?;
    let store = &ctx.app.store;
    let timeout = ctx
        .app
        .settings
        .smtp
        .as_ref()
        .map_or(60, |s| s.timeout_secs);
    if let Some(key) = key {
        // A claim older than twice the submission timeout was left by a process that
        // died mid-submission: the MTA never completed it, so it is sent again.
        let abandoned_before = crate::state::now() - 2 * timeout as i64;
        match store.claim_send(ctx.login(), key, abandoned_before).await? {
            SendClaim::Claimed => {}
            SendClaim::Sent => {
                tracing::info!(target: "airsync", login = ctx.login(), key, "already sent: not sending again");
                return Err(Error::Send(status::PREVIOUSLY_SENT));
            }
            // Being sent by another request (or by a process that just died): whether
            // the MTA took it is not known yet, so neither 118 nor a second copy.
            SendClaim::InProgress => {
                tracing::info!(target: "airsync", login = ctx.login(), key, "being sent: retry later");
                return Err(Error::Send(status::RETRY_LATER));
            }
        }
    }
    // The whole submission is bounded, so an unfinished claim is known to be abandoned
    // after `abandoned_before`.
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(timeout),
        submitter.submit(
            &ctx.principal.credentials,
            &p.envelope_from,
            &p.recipients,
            &p.wire,
        ),
    )
    .await
    .unwrap_or_else(|_| Err(BackendError::Transient("SMTP submission timed out".into())));
    match result {
        Ok(()) => {
            if let Some(key) = key {
                store.mark_sent(ctx.login(), key).await?;
            }
            tracing::info!(target: "airsync", login = ctx.login(), recipients = p.recipients.len(), "message submitted");
            Ok(())
        }
        Err(e) => {
            if let Some(key) = key {
                store.release_send(ctx.login(), key).await?;
            }
            Err(Error::Send(match e {
                BackendError::Transient(_) => status::RETRY_LATER,
                _ => status::SUBMISSION_FAILED,
            }))
        }
    }
}

/// Appends the Sent copy (\Seen). The message is already on its way: a failure here
/// is logged, not reported as a failed send (the device would send it again).
async fn save_sent(ctx: &RequestContext<'_>, raw: &[u8]) {
    let creds = &ctx.principal.credentials;
    let result = async {
        let mailboxes = ctx.app.mail.list_mailboxes(creds).await?;
        let Some(sent) = folders::sent_mailbox(&mailboxes) else {
            return Err(BackendError::NotFound("no Sent mailbox".into()));
        };
        ctx.app
            .mail
            .append(
                creds,
                &sent,
                &["\\Seen".to_string()],
                Some(crate::state::now()),
                raw,
            )
            .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(target: "airsync", login = ctx.login(), error = %e, "the Sent copy could not be saved");
    }
}
