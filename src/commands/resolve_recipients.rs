//! ResolveRecipients (MS-ASCMD 2.2.1.15): each To is looked up in the organisation
//! directory (Type 1) and in the user's own CardDAV contacts (Type 2); with Options it
//! also answers certificates (from the directory, e.g. LDAP `userCertificate;binary`),
//! pictures and free/busy.
//!
//! Free/busy comes from CalDAV. For the requesting user's own address it is read from
//! all of the user's calendars. For anybody else airsync asks the recipient's default
//! calendar `/<address>/calendar/` with the requesting user's credentials; an upstream
//! that refuses (Radicale's `owner_only` rights do) gives Availability Status 162 (free/
//! busy could not be retrieved), not a guess. Recurring events count by their first
//! instance only.

use airsync_model::{Credentials, DavKind, DirectoryEntry};

use crate::directory;
use crate::eas::search::parse_date;
use crate::error::Error;
use crate::mapping::calendar::{Zone, read_when};
use crate::mapping::ical;
use crate::wbxml::Element;
use crate::wbxml::pages::ResolveRecipients as R;

use super::{Reply, RequestContext};

/// Free/busy slots are 30 minutes (MS-ASCMD 2.2.3.104).
const SLOT: i64 = 1800;
/// At most this many slots (six weeks) in one MergedFreeBusy.
const MAX_SLOTS: i64 = 42 * 48;
/// MS-ASCMD: at most 100 recipients per request; 20 with Availability.
const MAX_TO: usize = 100;

struct Options {
    certificates: u8,
    max_certificates: usize,
    max_ambiguous: usize,
    availability: Option<(i64, i64)>,
    picture: Option<(Option<u32>, u32)>,
}

fn parse_options(root: &Element) -> Options {
    let o = root.first(R::Options);
    let num = |t| {
        o.and_then(|o| o.child_text(t))
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let availability = o.and_then(|o| o.first(R::Availability)).and_then(|a| {
        Some((
            parse_date(&a.child_text(R::StartTime)?)?,
            parse_date(&a.child_text(R::EndTime)?)?,
        ))
    });
    let picture = o.and_then(|o| o.first(R::Picture)).map(|p| {
        let n = |t| p.child_text(t).and_then(|s| s.trim().parse::<u32>().ok());
        (n(R::MaxSize), n(R::MaxPictures).unwrap_or(u32::MAX))
    });
    Options {
        certificates: num(R::CertificateRetrieval).unwrap_or(1) as u8,
        max_certificates: num(R::MaxCertificates).unwrap_or(u64::MAX).min(1000) as usize,
        max_ambiguous: num(R::MaxAmbiguousRecipients).unwrap_or(20).min(100) as usize,
        availability,
        picture,
    }
}

/// The account's own contacts matching `to`.
async fn own_contacts(ctx: &RequestContext<'_>, to: &str) -> Vec<DirectoryEntry> {
    let Some(dav) = &ctx.app.contacts else {
        return Vec::new();
    };
    let creds = &ctx.principal.credentials;
    let Ok(books) = dav.collections(creds, DavKind::Contacts).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for b in books {
        if let Ok(entries) = directory::read_address_book(dav.as_ref(), creds, &b.href, 5000).await
        {
            out.extend(
                entries
                    .into_iter()
                    .filter(|e| e.has_address(to) || e.matches(to)),
            );
        }
    }
    out
}

/// `'0'` free … `'4'` no data, one per slot of `[start, end)`, merged from the events of
/// `objects`.
pub fn merged_free_busy(objects: &[Vec<u8>], start: i64, end: i64) -> String {
    let n = ((end - start + SLOT - 1) / SLOT).clamp(0, MAX_SLOTS) as usize;
    let mut slots = vec![b'0'; n];
    let utc = Zone::Iana(chrono_tz::UTC);
    for data in objects {
        let Some(cal) = ical::parse(data) else {
            continue;
        };
        for ev in cal.children_named("VEVENT") {
            if ev
                .text("TRANSP")
                .is_some_and(|t| t.eq_ignore_ascii_case("TRANSPARENT"))
                || ev
                    .text("STATUS")
                    .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"))
            {
                continue;
            }
            let Some(from) = ev.prop("DTSTART").and_then(|p| read_when(&cal, p, &utc)) else {
                continue;
            };
            let from_s = from.utc.and_utc().timestamp();
            let to_s = ev
                .prop("DTEND")
                .and_then(|p| read_when(&cal, p, &utc))
                .map(|w| w.utc.and_utc().timestamp())
                .unwrap_or(from_s + if from.all_day { 86_400 } else { SLOT });
            let kind = match ev
                .text("X-MICROSOFT-CDO-BUSYSTATUS")
                .map(|s| s.to_ascii_uppercase())
                .as_deref()
            {
                Some("OOF") => b'3',
                Some("TENTATIVE") => b'1',
                Some("FREE") => continue,
                _ if ev
                    .text("STATUS")
                    .is_some_and(|s| s.eq_ignore_ascii_case("TENTATIVE")) =>
                {
                    b'1'
                }
                _ => b'2',
            };
            for (i, slot) in slots.iter_mut().enumerate() {
                let (a, b) = (start + i as i64 * SLOT, start + (i as i64 + 1) * SLOT);
                if from_s < b && to_s > a && kind > *slot {
                    *slot = kind;
                }
            }
        }
    }
    String::from_utf8(slots).unwrap_or_default()
}

/// Free/busy of `address` for `[start, end)`, or `None` when the upstream will not say.
async fn free_busy(
    ctx: &RequestContext<'_>,
    address: &str,
    own: bool,
    start: i64,
    end: i64,
) -> Option<String> {
    let dav = ctx.app.calendars.as_ref()?;
    let creds: &Credentials = &ctx.principal.credentials;
    let hrefs: Vec<String> = if own {
        dav.collections(creds, DavKind::Calendar)
            .await
            .ok()?
            .into_iter()
            .map(|c| c.href)
            .collect()
    } else {
        vec![format!("/{address}/calendar/")]
    };
    let mut objects = Vec::new();
    for href in hrefs {
        let found = dav
            .time_range(creds, &href, "VEVENT", start, Some(end))
            .await
            .ok()?;
        let names: Vec<String> = found.into_iter().map(|(h, _)| h).collect();
        if !names.is_empty() {
            objects.extend(
                dav.fetch(creds, &href, &names)
                    .await
                    .ok()?
                    .into_iter()
                    .map(|o| o.data),
            );
        }
    }
    Some(merged_free_busy(&objects, start, end))
}

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    crate::eas::require_root(&document, R::ResolveRecipients)?;
    let tos: Vec<String> = document
        .all(R::To)
        .filter_map(|t| t.text().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect();
    let options = parse_options(&document);
    let mut doc = Element::new(R::ResolveRecipients);
    // MS-ASCMD 2.2.3.177.11: 5 protocol error (nothing to resolve or too many).
    if tos.is_empty() || tos.len() > MAX_TO {
        return Ok(Reply::Wbxml(doc.text_child(R::Status, "5")));
    }
    doc.push(Element::with_text(R::Status, "1"));
    let own_addresses = super::settings::addresses(ctx).await;
    let mut pictures_left = options.picture.map(|p| p.1).unwrap_or(0);
    for to in tos {
        let mut found: Vec<(u8, DirectoryEntry)> = directory::search_all(
            &ctx.app.directory,
            &ctx.principal.credentials,
            &to,
            options.max_ambiguous + 1,
        )
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(target: "airsync", error = %e, "ResolveRecipients: directory failed");
            Vec::new()
        })
        .into_iter()
        .map(|e| (1, e))
        .collect();
        for e in own_contacts(ctx, &to).await {
            let dup = e
                .emails
                .first()
                .is_some_and(|m| found.iter().any(|(_, f)| f.has_address(m)));
            if !dup {
                found.push((2, e));
            }
        }
        // An exact address match wins over substring matches.
        if let Some(exact) = found.iter().position(|(_, e)| e.has_address(&to)) {
            let one = found.swap_remove(exact);
            found = vec![one];
        }
        let own = own_addresses.iter().any(|a| a.eq_ignore_ascii_case(&to));
        if found.is_empty() && own {
            found.push((
                1,
                DirectoryEntry {
                    display_name: to.clone(),
                    emails: vec![to.clone()],
                    ..Default::default()
                },
            ));
        }
        // Status 1 one match, 2 ambiguous (all listed), 3 ambiguous (partial list), 4 none.
        let status = match found.len() {
            0 => 4,
            1 => 1,
            n if n <= options.max_ambiguous => 2,
            _ => 3,
        };
        found.truncate(options.max_ambiguous.max(1));
        let mut response = Element::new(R::Response)
            .text_child(R::To, to.clone())
            .text_child(R::Status, status.to_string())
            .text_child(R::RecipientCount, found.len().to_string());
        for (kind, e) in &found {
            let address = e.emails.first().cloned().unwrap_or_default();
            let mut r = Element::new(R::Recipient)
                .text_child(R::Type, kind.to_string())
                .text_child(R::DisplayName, e.display_name.clone())
                .text_child(R::EmailAddress, address.clone());
            if let Some((start, end)) = options.availability {
                let is_own = own_addresses
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&address));
                let mut a = Element::new(R::Availability);
                if end <= start {
                    a.push(Element::with_text(R::Status, "162"));
                } else {
                    match free_busy(ctx, &address, is_own, start, end).await {
                        Some(fb) => {
                            a.push(Element::with_text(R::Status, "1"));
                            a.push(Element::with_text(R::MergedFreeBusy, fb));
                        }
                        None => a.push(Element::with_text(R::Status, "162")),
                    }
                }
                r.push(a);
            }
            if options.certificates == 2 || options.certificates == 3 {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD;
                // Certificates Status: 1 ok, 7 none valid, 8 over MaxCertificates.
                let mut c = Element::new(R::Certificates);
                if e.certificates.is_empty() {
                    c.push(Element::with_text(R::Status, "7"));
                    c.push(Element::with_text(R::CertificateCount, "0"));
                } else if e.certificates.len() > options.max_certificates {
                    c.push(Element::with_text(R::Status, "8"));
                    c.push(Element::with_text(
                        R::CertificateCount,
                        e.certificates.len().to_string(),
                    ));
                } else {
                    c.push(Element::with_text(R::Status, "1"));
                    c.push(Element::with_text(
                        R::CertificateCount,
                        e.certificates.len().to_string(),
                    ));
                    let tag = if options.certificates == 3 {
                        R::MiniCertificate
                    } else {
                        R::Certificate
                    };
                    for der in &e.certificates {
                        c.push(Element::with_text(tag, b64.encode(der)));
                    }
                }
                r.push(c);
            }
            if let Some((max_size, _)) = options.picture {
                use base64::Engine;
                // Picture Status: 1 ok, 173 none, 174 too large, 175 over MaxPictures.
                let mut p = Element::new(R::Picture);
                match &e.picture {
                    None => p.push(Element::with_text(R::Status, "173")),
                    Some(_) if pictures_left == 0 => p.push(Element::with_text(R::Status, "175")),
                    Some(b) if max_size.is_some_and(|m| b.len() as u64 > u64::from(m)) => {
                        p.push(Element::with_text(R::Status, "174"))
                    }
                    Some(b) => {
                        pictures_left -= 1;
                        p.push(Element::with_text(R::Status, "1"));
                        p.push(Element::with_text(
                            R::Data,
                            base64::engine::general_purpose::STANDARD.encode(b),
                        ));
                    }
                }
                r.push(p);
            }
            response.push(r);
        }
        doc.push(response);
    }
    Ok(Reply::Wbxml(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_busy_slots() {
        let ev = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:2\r\nSTATUS:TENTATIVE\r\nDTSTART:20260105T113000Z\r\nDTEND:20260105T114500Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec();
        let start = 1_767_607_200; // 2026-01-05T10:00:00Z
        assert_eq!(
            merged_free_busy(&[ev], start - 1800, start + 4 * 1800),
            "02201"
        );
    }
}
