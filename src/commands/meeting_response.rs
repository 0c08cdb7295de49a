//! MeetingResponse (MS-ASCMD 2.2.1.11): accept, tentatively accept or decline a
//! meeting request, found as a mail (RequestId = the mail's ServerId) or as an event
//! of a calendar (RequestId = the event's ServerId).
//!
//! * The event is written to the user's default calendar (the first VEVENT calendar,
//!   the one FolderSync reports as type 8) with the user's PARTSTAT; a declined event
//!   leaves the calendar.
//! * airsync itself sends the iTIP REPLY (RFC 5546, as iMIP, RFC 6047) to the
//!   organizer whenever the user's ATTENDEE line carries RSVP=TRUE, whatever the
//!   device does (CommuniGate Pro's "Replying to Event Requests"). It is sent once
//!   per request version and answer.
//! * The request mail goes to Deleted Items, as Exchange does.
//!
//! Also here: Sync's hook for an incoming REPLY in the organizer's INBOX
//! ([`apply_incoming_reply`], the work is in [`crate::scheduling`]; the push watcher
//! applies the same REPLY as soon as it arrives).

use airsync_model::{BackendError, DavKind, DavStore};
use chrono::Utc;

use crate::eas::meeting_response::{self, Outcome, Request, status};
use crate::error::Error;
use crate::mapping::calendar::meeting;
use crate::mapping::email;
use crate::mapping::email::compose::Prepared;
use crate::mapping::folders::{self, PimClass, Resolved};
use crate::wbxml::Element;

use super::compose::{login_address, own_addresses, submit_once};
use super::sync::mail::uid_of;
use super::sync::pim::{PimFolder, object_by_server_id};
use super::{Reply, RequestContext};

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let requests = meeting_response::parse(&document)?;
    let mut outcomes = Vec::with_capacity(requests.len());
    for r in &requests {
        let outcome = match respond(ctx, r).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(target: "airsync", login = ctx.login(), error = %e, "MeetingResponse failed");
                let status = match e {
                    Error::Backend(BackendError::NotFound(_)) => status::INVALID_REQUEST,
                    Error::Backend(_) => status::MAILBOX_ERROR,
                    _ => status::SERVER_ERROR,
                };
                Outcome {
                    request_id: r.request_id.clone(),
                    status,
                    calendar_id: None,
                }
            }
        };
        outcomes.push(outcome);
    }
    Ok(Reply::Wbxml(meeting_response::response(&outcomes)))
}

/// Where the request was found.
enum Found {
    Mail { mailbox: String, uid: u32 },
    Event { folder_id: i64, href: String },
}

fn calendars<'c>(ctx: &RequestContext<'c>) -> Result<&'c dyn DavStore, Error> {
    ctx.app.calendars.as_deref().ok_or_else(|| {
        Error::Backend(BackendError::NotFound(
            "no CalDAV upstream configured".into(),
        ))
    })
}

async fn respond(ctx: &RequestContext<'_>, r: &Request) -> Result<Outcome, Error> {
    let invalid = || Outcome {
        request_id: r.request_id.clone(),
        status: status::INVALID_REQUEST,
        calendar_id: None,
    };
    let Some(partstat) = meeting::partstat_of_response(r.user_response) else {
        return Ok(invalid());
    };
    let creds = &ctx.principal.credentials;
    let view = ctx.folder_view().await?;
    let cid = r
        .collection_id
        .clone()
        .or_else(|| r.request_id.split_once(':').map(|(f, _)| f.to_string()))
        .unwrap_or_default();
    // The ids are untrusted: resolved only inside this account's map.
    let (found, ics) = match view.resolve(&cid) {
        Some(Resolved::Mail { mailbox, .. }) => {
            let Some(uid) = uid_of(&cid, &r.request_id) else {
                return Ok(invalid());
            };
            let messages = ctx.app.mail.fetch_messages(creds, &mailbox, &[uid]).await?;
            let Some(m) = messages.first() else {
                return Ok(invalid());
            };
            let Some((method, ics)) = email::calendar_part(&m.raw) else {
                return Ok(invalid());
            };
            if method != "REQUEST" {
                return Ok(invalid());
            }
            (Found::Mail { mailbox, uid }, ics)
        }
        Some(Resolved::Pim {
            folder_id,
            class: PimClass::Calendar,
            href,
        }) => {
            let folder = PimFolder {
                folder_id,
                class: PimClass::Calendar,
                href: &href,
            };
            let Some(o) = object_by_server_id(ctx, &folder, &cid, &r.request_id).await? else {
                return Ok(invalid());
            };
            (
                Found::Event {
                    folder_id,
                    href: o.href,
                },
                o.data,
            )
        }
        _ => return Ok(invalid()),
    };
    let users = own_addresses(ctx).await?;
    let Some(info) = meeting::request_info(&ics, &users) else {
        return Ok(invalid());
    };
    let proposed = r.proposed.as_ref().and_then(|(s, e)| {
        Some((
            crate::mapping::pim::parse_eas_datetime(s)?,
            crate::mapping::pim::parse_eas_datetime(e)?,
        ))
    });

    // 1. The user's calendar.
    let calendar_id = write_event(ctx, &view, &found, &ics, &info, &users, partstat).await?;

    // 2. The REPLY, when the organizer asked for one.
    if info.rsvp
        && info
            .organizer
            .as_deref()
            .is_some_and(|o| !users.iter().any(|u| u.eq_ignore_ascii_case(o)))
    {
        send_reply(ctx, &ics, &info, &users, partstat, proposed).await?;
    }

    // 3. The request mail goes to Deleted Items.
    if let Found::Mail { mailbox, uid } = &found {
        let mailboxes = ctx.app.mail.list_mailboxes(creds).await?;
        if let Some(trash) = folders::trash_mailbox(&mailboxes).filter(|t| t != mailbox)
            && let Err(e) = ctx
                .app
                .mail
                .move_messages(creds, mailbox, &[*uid], &trash)
                .await
        {
            tracing::warn!(target: "airsync", login = ctx.login(), error = %e, "the request mail could not be moved");
        }
    }
    Ok(Outcome {
        request_id: r.request_id.clone(),
        status: status::SUCCESS,
        calendar_id,
    })
}

/// The resource name of an event airsync files for a request: derived from the UID,
/// so that answering the same request again updates the same object.
fn resource_name(uid: &str) -> String {
    let hash = uid.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("airsync-meeting-{hash:016x}.ics")
}

/// The default calendar: (folder id, collection href).
async fn default_calendar(
    ctx: &RequestContext<'_>,
    view: &folders::FolderView,
) -> Result<(i64, String), Error> {
    let cols = calendars(ctx)?
        .collections(&ctx.principal.credentials, DavKind::Calendar)
        .await?;
    let first = cols
        .iter()
        .find(|c| {
            c.components
                .iter()
                .any(|k| k.eq_ignore_ascii_case("VEVENT"))
        })
        .ok_or_else(|| Error::Backend(BackendError::NotFound("no calendar".into())))?;
    let folder_id = view
        .rows
        .iter()
        .find_map(|row| match view.resolve(&row.folder_id.to_string()) {
            Some(Resolved::Pim {
                folder_id,
                class: PimClass::Calendar,
                href,
            }) if href == first.href => Some(folder_id),
            _ => None,
        })
        .ok_or_else(|| {
            Error::Backend(BackendError::NotFound(
                "the calendar is not in the folder map yet".into(),
            ))
        })?;
    Ok((folder_id, first.href.clone()))
}

#[allow(clippy::too_many_arguments)]
async fn write_event(
    ctx: &RequestContext<'_>,
    view: &folders::FolderView,
    found: &Found,
    ics: &[u8],
    info: &meeting::Request,
    users: &[String],
    partstat: &str,
) -> Result<Option<String>, Error> {
    let creds = &ctx.principal.credentials;
    let dav = calendars(ctx)?;
    let (folder_id, collection, name) = match found {
        Found::Event { folder_id, href } => {
            let (c, n) = href.rsplit_once('/').unwrap_or(("", href));
            (*folder_id, format!("{c}/"), n.to_string())
        }
        Found::Mail { .. } => {
            let (f, c) = default_calendar(ctx, view).await?;
            (f, c, resource_name(&info.uid))
        }
    };
    let href = format!("{collection}{name}");
    let current = dav
        .fetch(creds, &collection, std::slice::from_ref(&href))
        .await?
        .into_iter()
        .next();
    if partstat == "DECLINED" {
        if let Some(o) = current {
            match dav.delete(creds, &o.href, None).await {
                Ok(()) | Err(BackendError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(None);
    }
    let object = meeting::attendee_copy(ics, users, partstat)
        .map_err(|_| Error::Backend(BackendError::Permanent("unreadable request".into())))?;
    let (href, _) = dav
        .put(
            creds,
            &collection,
            &name,
            &object,
            "text/calendar; charset=utf-8",
            current.as_ref().map(|o| o.etag.as_str()),
        )
        .await?;
    let id = ctx
        .app
        .store
        .dav_item_ids(ctx.login(), folder_id, std::slice::from_ref(&href))
        .await?[&href];
    Ok(Some(format!("{folder_id}:{id}")))
}

async fn send_reply(
    ctx: &RequestContext<'_>,
    ics: &[u8],
    info: &meeting::Request,
    users: &[String],
    partstat: &str,
    proposed: Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)>,
) -> Result<(), Error> {
    // The address the organizer invited (one of the account's), else the login's.
    let me = crate::mapping::ical::parse(ics)
        .and_then(|cal| {
            cal.children
                .iter()
                .flat_map(|c| c.props_named("ATTENDEE"))
                .find_map(|a| {
                    let v = a.value.trim();
                    let addr = v
                        .strip_prefix("mailto:")
                        .or_else(|| v.strip_prefix("MAILTO:"))
                        .unwrap_or(v);
                    users.iter().find(|u| u.eq_ignore_ascii_case(addr)).cloned()
                })
        })
        .unwrap_or_else(|| login_address(ctx));
    let now = Utc::now();
    let (organizer, reply) = meeting::reply(ics, &me, partstat, proposed, now.naive_utc())
        .map_err(|_| {
            Error::Backend(BackendError::Permanent(
                "the request names no organizer".into(),
            ))
        })?;
    let verb = match partstat {
        "ACCEPTED" => "Accepted",
        "TENTATIVE" => "Tentative",
        _ => "Declined",
    };
    let subject = format!("{verb}: {}", info.summary);
    let text = format!(
        "{me} has {} the invitation \"{}\".",
        verb.to_ascii_lowercase(),
        info.summary
    );
    let wire = meeting::imip_message(&me, &organizer, &subject, &text, &reply, "REPLY", now);
    let prepared = Prepared {
        envelope_from: me,
        recipients: vec![organizer],
        sent_copy: wire.clone(),
        wire,
    };
    let sequence = crate::mapping::ical::parse(ics)
        .and_then(|c| {
            c.children
                .iter()
                .find(|e| e.name == "VEVENT")
                .and_then(|e| e.text("SEQUENCE"))
        })
        .unwrap_or_default();
    let key = format!("reply:{}:{sequence}:{partstat}", info.uid);
    match submit_once(ctx, Some(&key), &prepared).await {
        // The same answer to the same request version went out before.
        Ok(()) | Err(Error::Send(118)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// An incoming iTIP REPLY in the organizer's INBOX applied to the organizer's event
/// (see [`crate::scheduling`]). Errors are logged, never fatal: the message itself is
/// delivered to the device all the same.
pub async fn apply_incoming_reply(ctx: &RequestContext<'_>, raw: &[u8]) {
    let Some(dav) = ctx.app.calendars.as_deref() else {
        return;
    };
    if let Err(e) =
        crate::scheduling::apply_incoming_reply(dav, &ctx.principal.credentials, raw).await
    {
        tracing::warn!(target: "airsync", login = ctx.login(), error = %e, "a meeting reply could not be applied");
    }
}
