//! Meetings in mail (iTIP, RFC 5546, carried by iMIP, RFC 6047): the Email
//! MeetingRequest element of a REQUEST / CANCEL (MS-ASEMAIL 2.2.2.48), the attendee's
//! copy of the event and the REPLY airsync sends for a MeetingResponse, and an
//! incoming REPLY applied to the organizer's event.
//!
//! # Decisions
//!
//! * **GlobalObjId** (MS-ASEMAIL 2.2.2.39) is PidLidGlobalObjectId (MS-OXOCAL
//!   2.2.1.27): the 16-byte class id, the instance date (zero for the series), a zero
//!   creation time and reserved bytes, then the data: an Outlook-made UID (hex of a
//!   GOID, `040000008200E000…`) is its own bytes; any other UID is wrapped as
//!   `"vCal-Uid" 01 00 00 00 UID 00`, the form Outlook itself uses for foreign UIDs.
//!   Base64 of the whole.
//! * **RSVP**: a REPLY is sent only when the user's ATTENDEE line carries RSVP=TRUE
//!   (whatever the device asked: its own reply, if any, is its business).
//! * A **proposed new time** (16.1) goes into the REPLY as a COMMENT and the
//!   X-MICROSOFT-PROPOSED* pair Outlook reads; the event itself keeps its time.

use base64::Engine;
use chrono::{Datelike, NaiveDateTime};

use super::{
    CalendarOptions, ConvertError, Ctx, When, busy_status, default_zone, master_index, parse_cal,
    read_when, reminder_alarm, span,
};
use crate::eas::ProtocolVersion;
use crate::mapping::ical::{self, Component, Prop};
use crate::mapping::pim::{self, Recurrence, RecurrenceTags};
use crate::wbxml::Element;
use crate::wbxml::pages::{AirSyncBase, Email as E, Email2 as E2};

/// MS-OXOCAL 2.2.1.27: the class id every GlobalObjectId starts with.
const GOID_CLASS: [u8; 16] = [
    0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08,
];

/// The GlobalObjId bytes of an event UID (`instance`: the RECURRENCE-ID date of one
/// occurrence, None for the series or a single event).
pub fn global_obj_id(uid: &str, instance: Option<chrono::NaiveDate>) -> Vec<u8> {
    let hex_prefix = "040000008200E00074C5B7101A82E008";
    if uid.len() >= 32
        && uid.len().is_multiple_of(2)
        && uid[..32].eq_ignore_ascii_case(hex_prefix)
        && let Ok(mut bytes) = hex::decode(uid)
        && bytes.len() >= 40
    {
        if let Some(d) = instance {
            set_instance(&mut bytes, d);
        }
        return bytes;
    }
    let mut data = b"vCal-Uid\x01\x00\x00\x00".to_vec();
    data.extend_from_slice(uid.as_bytes());
    data.push(0);
    let mut out = GOID_CLASS.to_vec();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&[0; 8]); // creation time
    out.extend_from_slice(&[0; 8]); // reserved
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    if let Some(d) = instance {
        set_instance(&mut out, d);
    }
    out
}

fn set_instance(bytes: &mut [u8], d: chrono::NaiveDate) {
    let year = d.year() as u16;
    bytes[16] = (year >> 8) as u8;
    bytes[17] = (year & 0xff) as u8;
    bytes[18] = d.month() as u8;
    bytes[19] = d.day() as u8;
}

const EMAIL_RECURRENCE_TAGS: RecurrenceTags = RecurrenceTags {
    recurrence: E::Recurrence,
    kind: E::Type,
    until: E::Until,
    occurrences: E::Occurrences,
    interval: E::Interval,
    day_of_week: E::DayOfWeek,
    day_of_month: E::DayOfMonth,
    week_of_month: E::WeekOfMonth,
    month_of_year: E::MonthOfYear,
    first_day_of_week: E2::FirstDayOfWeek,
    calendar_type: E2::CalendarType,
    is_leap_month: E2::IsLeapMonth,
    long_dates: false,
};

fn mailto(v: &str) -> String {
    super::mailto(v)
}

/// The series master (or single event) of `cal`: its index, start and end (UTC).
fn master_span(
    cal: &Component,
    opts: &CalendarOptions,
) -> Result<(usize, When, NaiveDateTime), ConvertError> {
    let mi = master_index(cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let ctx = Ctx {
        cal,
        opts,
        dflt: default_zone(opts),
    };
    let (start, end) = span(&ctx, &cal.children[mi]).ok_or(ConvertError::Missing("DTSTART"))?;
    Ok((mi, start, end))
}

/// The Email:MeetingRequest element (MS-ASEMAIL 2.2.2.48) of an iTIP REQUEST or
/// CANCEL, children in schema order.
pub fn meeting_request_element(
    ics: &[u8],
    opts: &CalendarOptions,
) -> Result<Element, ConvertError> {
    let cal = parse_cal(ics)?;
    let (mi, start, end) = master_span(&cal, opts)?;
    let ev = &cal.children[mi];
    let long = pim::long_utc;
    let mut el = Element::new(E::MeetingRequest);
    el.push(Element::with_text(
        E::AllDayEvent,
        if start.all_day { "1" } else { "0" },
    ));
    el.push(Element::with_text(E::StartTime, long(start.utc)));
    if let Some(t) = ev
        .prop("DTSTAMP")
        .and_then(|p| crate::mapping::timezone::parse_local(&p.value))
    {
        el.push(Element::with_text(E::DtStamp, long(t)));
    }
    el.push(Element::with_text(E::EndTime, long(end)));
    let rid = ev
        .prop("RECURRENCE-ID")
        .and_then(|p| read_when(&cal, p, &start.zone));
    let recurring = ev.prop("RRULE").is_some();
    let instance_type = match (&rid, recurring) {
        (Some(_), _) => "3",
        (None, true) => "1",
        (None, false) => "0",
    };
    el.push(Element::with_text(E::InstanceType, instance_type));
    if let Some(loc) = ev.text("LOCATION") {
        if opts.version >= ProtocolVersion::V16_0 {
            el.push(Element::new(AirSyncBase::Location).text_child(AirSyncBase::DisplayName, loc));
        } else {
            el.push(Element::with_text(E::Location, loc));
        }
    }
    if let Some(org) = ev.prop("ORGANIZER") {
        let address = mailto(&org.value);
        let shown = match org.param("CN") {
            Some(cn) => format!("\"{}\" <{address}>", cn.replace('"', "")),
            None => address,
        };
        el.push(Element::with_text(E::Organizer, shown));
    }
    if let Some(r) = &rid {
        el.push(Element::with_text(E::RecurrenceId, long(r.utc)));
    }
    if let Some((_, minutes)) = reminder_alarm(ev) {
        el.push(Element::with_text(E::Reminder, (minutes * 60).to_string()));
    }
    // Without the account's addresses: whether anyone is asked to reply.
    let rsvp = if opts.user_emails.is_empty() {
        ev.props_named("ATTENDEE").any(|a| {
            a.param("RSVP")
                .is_some_and(|r| r.eq_ignore_ascii_case("TRUE"))
        })
    } else {
        rsvp_requested_in(ev, &opts.user_emails)
    };
    el.push(Element::with_text(
        E::ResponseRequested,
        if rsvp { "1" } else { "0" },
    ));
    if let Some(rule) = ev.prop("RRULE")
        && let Some(r) = Recurrence::from_rrule(&rule.value, start.local, |l| start.zone.to_utc(l))
    {
        el.push(Element::new(E::Recurrences).child(r.to_element(
            &EMAIL_RECURRENCE_TAGS,
            opts.version,
            Vec::new(),
        )));
    }
    el.push(Element::with_text(
        E::Sensitivity,
        pim::sensitivity_from_class(ev.text("CLASS").as_deref()).to_string(),
    ));
    let mut busy = busy_status(ev);
    if busy == 4 && opts.version < ProtocolVersion::V16_0 {
        busy = 2;
    }
    el.push(Element::with_text(E::BusyStatus, busy.to_string()));
    el.push(Element::with_text(
        E::TimeZone,
        start.zone.blob(start.local.year()).to_base64(),
    ));
    let uid = ev.text("UID").unwrap_or_default();
    let instance = rid.as_ref().map(|r| r.local.date());
    el.push(Element::with_text(
        E::GlobalObjId,
        base64::engine::general_purpose::STANDARD.encode(global_obj_id(&uid, instance)),
    ));
    if opts.version >= ProtocolVersion::V14_0 {
        let disallow = ev
            .text("X-MICROSOFT-DISALLOW-COUNTER")
            .is_some_and(|d| d.eq_ignore_ascii_case("TRUE"));
        el.push(Element::with_text(
            E::DisallowNewTimeProposal,
            if disallow { "1" } else { "0" },
        ));
    }
    if opts.version >= ProtocolVersion::V14_1 {
        // MS-ASEMAIL 2.2.2.50: 1 = a new request, 0 = not specified (a cancellation).
        let method = cal.text("METHOD").unwrap_or_default().to_ascii_uppercase();
        el.push(Element::with_text(
            E2::MeetingMessageType,
            if method == "REQUEST" { "1" } else { "0" },
        ));
    }
    Ok(el)
}

fn user_attendee<'a>(ev: &'a Component, users: &[String]) -> Option<&'a Prop> {
    ev.props_named("ATTENDEE").find(|a| {
        users
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&mailto(&a.value)))
    })
}

fn rsvp_requested_in(ev: &Component, users: &[String]) -> bool {
    user_attendee(ev, users).is_some_and(|a| {
        a.param("RSVP")
            .is_some_and(|r| r.eq_ignore_ascii_case("TRUE"))
    })
}

/// The request's essentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub uid: String,
    pub method: String,
    pub organizer: Option<String>,
    /// The user's ATTENDEE line asks for a reply (RSVP=TRUE).
    pub rsvp: bool,
    pub summary: String,
}

pub fn request_info(ics: &[u8], users: &[String]) -> Option<Request> {
    let cal = ical::parse(ics)?;
    let ev = &cal.children[master_index(&cal, "VEVENT")?];
    Some(Request {
        uid: ev.text("UID")?,
        method: cal.text("METHOD").unwrap_or_default().to_ascii_uppercase(),
        organizer: ev.prop("ORGANIZER").map(|o| mailto(&o.value)),
        rsvp: rsvp_requested_in(ev, users),
        summary: ev.text("SUMMARY").unwrap_or_default(),
    })
}

/// The PARTSTAT of a MeetingResponse UserResponse (1 accept, 2 tentative, 3 decline).
pub fn partstat_of_response(user_response: u8) -> Option<&'static str> {
    match user_response {
        1 => Some("ACCEPTED"),
        2 => Some("TENTATIVE"),
        3 => Some("DECLINED"),
        _ => None,
    }
}

fn set_partstat(ev: &mut Component, users: &[String], partstat: &str) -> bool {
    let mut found = false;
    for a in ev.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
        if users
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&mailto(&a.value)))
        {
            a.set_param("PARTSTAT", partstat);
            a.remove_param("RSVP");
            found = true;
        }
    }
    found
}

/// The user's copy of the event: the request without METHOD, every VEVENT with the
/// user's PARTSTAT (an attendee line is added when the user was invited through a
/// list or an alias). A request for one occurrence only (a lone VEVENT with
/// RECURRENCE-ID, as a forwarded occurrence is) is filed as an event of its own,
/// without the RECURRENCE-ID: CalDAV servers such as Radicale refuse an object whose
/// series master is missing.
pub fn attendee_copy(
    ics: &[u8],
    users: &[String],
    partstat: &str,
) -> Result<Vec<u8>, ConvertError> {
    let mut cal = parse_cal(ics)?;
    cal.remove("METHOD");
    for ev in cal.children.iter_mut().filter(|c| c.name == "VEVENT") {
        if !set_partstat(ev, users, partstat)
            && let Some(me) = users.first()
        {
            ev.props.push(
                Prop::new("ATTENDEE", format!("mailto:{me}")).with_param("PARTSTAT", partstat),
            );
        }
    }
    let mut events = cal.children.iter_mut().filter(|c| c.name == "VEVENT");
    if let (Some(only), None) = (events.next(), events.next()) {
        only.remove("RECURRENCE-ID");
    }
    Ok(cal.to_text().into_bytes())
}

/// The iTIP REPLY (RFC 5546 3.2.3) of `user` to the request: for each VEVENT of the
/// request, UID, RECURRENCE-ID, SEQUENCE, DTSTART/DTEND, ORGANIZER and the user's
/// ATTENDEE with the new PARTSTAT. Returns (organizer address, iCalendar text).
pub fn reply(
    ics: &[u8],
    user: &str,
    partstat: &str,
    proposed: Option<(NaiveDateTime, NaiveDateTime)>,
    now: NaiveDateTime,
) -> Result<(String, Vec<u8>), ConvertError> {
    let req = parse_cal(ics)?;
    let users = [user.to_string()];
    let mut out = Component::new("VCALENDAR");
    out.props.push(Prop::new("VERSION", "2.0"));
    out.props.push(Prop::new("PRODID", "-//airsync//EN"));
    out.props.push(Prop::new("METHOD", "REPLY"));
    let mut organizer = None;
    let mut tzids: Vec<String> = Vec::new();
    for ev in req.children.iter().filter(|c| c.name == "VEVENT") {
        let mut r = Component::new("VEVENT");
        for name in [
            "UID",
            "RECURRENCE-ID",
            "SEQUENCE",
            "DTSTART",
            "DTEND",
            "DURATION",
            "SUMMARY",
            "ORGANIZER",
        ] {
            if let Some(p) = ev.prop(name) {
                if let Some(t) = p.param("TZID") {
                    tzids.push(t.to_string());
                }
                r.props.push(p.clone());
            }
        }
        r.props.push(Prop::new("DTSTAMP", pim::compact_utc(now)));
        let mut attendee = user_attendee(ev, &users)
            .cloned()
            .unwrap_or_else(|| Prop::new("ATTENDEE", format!("mailto:{user}")));
        attendee.set_param("PARTSTAT", partstat);
        attendee.remove_param("RSVP");
        r.props.push(attendee);
        if let Some((s, e)) = proposed {
            r.props.push(Prop::text(
                "COMMENT",
                &format!(
                    "Proposed new time: {} – {} (UTC)",
                    s.format("%Y-%m-%d %H:%M"),
                    e.format("%Y-%m-%d %H:%M")
                ),
            ));
            r.props
                .push(Prop::new("X-MICROSOFT-PROPOSEDSTART", pim::compact_utc(s)));
            r.props
                .push(Prop::new("X-MICROSOFT-PROPOSEDEND", pim::compact_utc(e)));
        }
        if organizer.is_none() {
            organizer = ev.prop("ORGANIZER").map(|o| mailto(&o.value));
        }
        out.children.push(r);
    }
    for vtz in req.children.iter().filter(|c| c.name == "VTIMEZONE") {
        if vtz.text("TZID").is_some_and(|t| tzids.contains(&t)) {
            out.children.insert(0, vtz.clone());
        }
    }
    let organizer = organizer.ok_or(ConvertError::Missing("ORGANIZER"))?;
    Ok((organizer, out.to_text().into_bytes()))
}

/// The start of the replied-to event (Unix seconds), to find it by time range.
pub fn reply_start(reply_ics: &[u8]) -> Option<i64> {
    let cal = ical::parse(reply_ics)?;
    let ev = cal.children.iter().find(|c| c.name == "VEVENT")?;
    let p = ev.prop("RECURRENCE-ID").or_else(|| ev.prop("DTSTART"))?;
    let w = read_when(&cal, p, &super::Zone::Iana(chrono_tz::Tz::UTC))?;
    Some(w.utc.and_utc().timestamp())
}

/// The ATTENDEE parameter that remembers the DTSTAMP of the last REPLY applied to that
/// attendee (the same idea as Apple CalendarServer's X-CALENDARSERVER-DTSTAMP): it is
/// what makes a REPLY seen twice (by the push watcher and by Sync) count once, and a
/// REPLY that arrives late with an older DTSTAMP lose against a newer one.
pub const REPLY_STAMP_PARAM: &str = "X-AIRSYNC-REPLY-DTSTAMP";

fn sequence_of(c: &Component) -> i64 {
    c.text("SEQUENCE")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn stamp_of(value: Option<&str>) -> Option<NaiveDateTime> {
    crate::mapping::timezone::parse_local(value?.trim())
}

/// An incoming REPLY applied to the organizer's event: the PARTSTAT of the
/// `sender`'s ATTENDEE line is copied onto the same attendee of the matching VEVENT
/// (same RECURRENCE-ID, or the series); other attendees' lines in the reply are
/// ignored (nobody answers for someone else). None when the reply changes nothing:
/// another event, an attendee the event does not have, or a stale reply (RFC 5546
/// 2.1.5: a SEQUENCE older than the event's answers an outdated version; a DTSTAMP not
/// newer than the last one applied to that attendee is a duplicate or arrived late).
pub fn apply_reply(event: &[u8], reply_ics: &[u8], sender: &str) -> Option<Vec<u8>> {
    let mut cal = ical::parse(event)?;
    let reply = ical::parse(reply_ics)?;
    if !reply
        .text("METHOD")
        .is_some_and(|m| m.eq_ignore_ascii_case("REPLY"))
    {
        return None;
    }
    let mut changed = false;
    for r in reply.children.iter().filter(|c| c.name == "VEVENT") {
        let uid = r.text("UID");
        let rid = r.prop("RECURRENCE-ID").map(|p| p.value.clone());
        let target = cal
            .children
            .iter()
            .position(|c| {
                c.name == "VEVENT"
                    && c.text("UID") == uid
                    && c.prop("RECURRENCE-ID").map(|p| p.value.clone()) == rid
            })
            .or_else(|| {
                cal.children.iter().position(|c| {
                    c.name == "VEVENT" && c.text("UID") == uid && c.prop("RECURRENCE-ID").is_none()
                })
            });
        let Some(i) = target else { continue };
        if sequence_of(r) < sequence_of(&cal.children[i]) {
            continue;
        }
        let stamp = r.text("DTSTAMP");
        let stamp_at = stamp_of(stamp.as_deref());
        for a in r.props_named("ATTENDEE") {
            let Some(partstat) = a.param("PARTSTAT") else {
                continue;
            };
            let who = mailto(&a.value);
            if !who.eq_ignore_ascii_case(sender) {
                continue;
            }
            for mine in cal.children[i]
                .props
                .iter_mut()
                .filter(|p| p.name == "ATTENDEE" && mailto(&p.value).eq_ignore_ascii_case(&who))
            {
                let applied = stamp_of(mine.param(REPLY_STAMP_PARAM));
                let newer = match (stamp_at, applied) {
                    (Some(new), Some(old)) => new > old,
                    // No DTSTAMP to order by: only a different answer is news.
                    (None, _) => mine.param("PARTSTAT") != Some(partstat),
                    (Some(_), None) => true,
                };
                if !newer {
                    continue;
                }
                mine.set_param("PARTSTAT", partstat);
                mine.remove_param("RSVP");
                if let (Some(s), Some(_)) = (&stamp, stamp_at) {
                    mine.set_param(REPLY_STAMP_PARAM, s.trim());
                }
                changed = true;
            }
        }
    }
    changed.then(|| cal.to_text().into_bytes())
}

/// The iTIP REQUEST a SmartForward of a calendar item carries (MS-ASCMD 3.1.5.7:
/// forwarding a meeting keeps its organizer): the event (or the one occurrence) as the
/// user holds it, METHOD:REQUEST and a fresh DTSTAMP. An appointment without ORGANIZER
/// becomes a meeting the user organizes. When the user is the organizer, the
/// `recipients` not yet invited become attendees asked to reply (the organizer
/// forwarding invites, as Exchange does); an attendee's forward leaves the list as it is
/// and the organizer learns of the new people from their replies. airsync's own
/// bookkeeping on attendee lines does not leave the server.
pub fn forward_request(
    event: &[u8],
    users: &[String],
    recipients: &[String],
    now: NaiveDateTime,
) -> Result<Vec<u8>, ConvertError> {
    let mut cal = parse_cal(event)?;
    cal.remove("METHOD");
    let at = cal
        .props
        .iter()
        .position(|p| p.name == "PRODID" || p.name == "VERSION")
        .map_or(0, |i| i + 1);
    cal.props.insert(at, Prop::new("METHOD", "REQUEST"));
    let me = users.first().cloned().unwrap_or_default();
    for ev in cal.children.iter_mut().filter(|c| c.name == "VEVENT") {
        ev.set(Prop::new("DTSTAMP", pim::compact_utc(now)));
        if ev.prop("ORGANIZER").is_none() {
            ev.props
                .push(Prop::new("ORGANIZER", format!("mailto:{me}")));
        }
        let organizer = ev
            .prop("ORGANIZER")
            .map(|o| mailto(&o.value))
            .unwrap_or_default();
        for a in ev.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if a.param(REPLY_STAMP_PARAM).is_some() {
                a.remove_param(REPLY_STAMP_PARAM);
            }
        }
        if users.iter().any(|u| u.eq_ignore_ascii_case(&organizer)) {
            add_invitees(ev, &organizer, recipients);
        }
    }
    Ok(cal.to_text().into_bytes())
}

/// Adds the `recipients` not yet invited to the event as attendees asked to reply (an
/// organizer forwarding the meeting invites them); true when any was added.
pub(super) fn add_invitees(ev: &mut Component, organizer: &str, recipients: &[String]) -> bool {
    let mut added = false;
    for r in recipients {
        let invited = r.eq_ignore_ascii_case(organizer)
            || ev
                .props_named("ATTENDEE")
                .any(|a| mailto(&a.value).eq_ignore_ascii_case(r));
        if !invited {
            ev.props.push(
                Prop::new("ATTENDEE", format!("mailto:{r}"))
                    .with_param("ROLE", "REQ-PARTICIPANT")
                    .with_param("PARTSTAT", "NEEDS-ACTION")
                    .with_param("RSVP", "TRUE"),
            );
            added = true;
        }
    }
    added
}

/// The user's own copy of a meeting they organize and forwarded: the new recipients
/// join the attendees of the series (or, for a forwarded occurrence, of that
/// occurrence's override, created when missing), so that their replies are applied
/// like anyone's. `None` when nothing changes (the user is not the organizer, or all
/// were invited already).
pub fn stored_with_invitees(
    stored: &[u8],
    instance: Option<NaiveDateTime>,
    users: &[String],
    recipients: &[String],
    opts: &CalendarOptions,
) -> Result<Option<Vec<u8>>, ConvertError> {
    let mut cal = parse_cal(stored)?;
    let mi = super::master_index(&cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let organizer = cal.children[mi]
        .prop("ORGANIZER")
        .map(|o| mailto(&o.value))
        .unwrap_or_default();
    if !users.iter().any(|u| u.eq_ignore_ascii_case(&organizer)) {
        return Ok(None);
    }
    let targets: Vec<usize> = match instance {
        None => (0..cal.children.len())
            .filter(|&i| cal.children[i].name == "VEVENT")
            .collect(),
        Some(t) => {
            let (target, all_day) = super::series_start(&cal, mi, opts)?;
            let uid = cal.children[mi].text("UID");
            let i = match super::override_index(&cal, &uid, t, &target.zone) {
                Some(i) => i,
                None => {
                    let o = super::new_override(&cal, &cal.children[mi], None, t, &target, all_day);
                    cal.children.push(o);
                    cal.children.len() - 1
                }
            };
            vec![i]
        }
    };
    let mut changed = false;
    for i in targets {
        changed |= add_invitees(&mut cal.children[i], &organizer, recipients);
    }
    Ok(changed.then(|| cal.to_text().into_bytes()))
}

/// A calendar item as the original message a SmartReply / SmartForward quotes: From
/// the organizer, To the attendees, the SUMMARY as Subject, and a plain text of When,
/// Where and the DESCRIPTION (what Outlook shows above a forwarded appointment).
pub fn quotable(event: &[u8], opts: &CalendarOptions) -> Result<Vec<u8>, ConvertError> {
    let cal = parse_cal(event)?;
    let (mi, start, end) = master_span(&cal, opts)?;
    let ev = &cal.children[mi];
    let one_line = |s: String| s.replace(['\r', '\n'], " ");
    let when = if start.all_day {
        start.local.format("%A, %-d %B %Y (all day)").to_string()
    } else {
        let offset = (start.local - start.utc).num_minutes();
        let end_local = start.zone.to_local(end);
        format!(
            "{}-{} (UTC{}{:02}:{:02})",
            start.local.format("%A, %-d %B %Y %H:%M"),
            end_local.format("%H:%M"),
            if offset < 0 { '-' } else { '+' },
            offset.abs() / 60,
            offset.abs() % 60
        )
    };
    let mut text = format!("When: {when}\r\n");
    if let Some(loc) = ev.prop("LOCATION") {
        text.push_str(&format!("Where: {}\r\n", one_line(loc.text_value())));
    }
    if let Some(d) = ev.prop("DESCRIPTION") {
        text.push_str("\r\n");
        text.push_str(&d.text_value().replace("\r\n", "\n").replace('\n', "\r\n"));
        text.push_str("\r\n");
    }
    let organizer = ev.prop("ORGANIZER").map(|o| mailto(&o.value));
    let attendees: Vec<String> = ev
        .props_named("ATTENDEE")
        .map(|a| mailto(&a.value))
        .collect();
    let mut head = String::new();
    if let Some(o) = organizer {
        head.push_str(&format!("From: {}\r\n", one_line(o)));
    }
    if !attendees.is_empty() {
        head.push_str(&format!("To: {}\r\n", one_line(attendees.join(", "))));
    }
    let summary = ev
        .prop("SUMMARY")
        .map(|p| p.text_value())
        .unwrap_or_default();
    head.push_str(&format!("Subject: {}\r\n", one_line(summary)));
    head.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    Ok([head.into_bytes(), text.into_bytes()].concat())
}

/// An iMIP message (RFC 6047) carrying `ics` with `method`: a short text and the
/// text/calendar part, as multipart/alternative.
pub fn imip_message(
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
    ics: &[u8],
    method: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<u8> {
    let b64 = |d: &[u8]| {
        let s = base64::engine::general_purpose::STANDARD.encode(d);
        s.as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let subject = if subject.is_ascii() {
        subject.replace(['\r', '\n'], " ")
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(subject.as_bytes())
        )
    };
    let boundary = format!("=_airsync_{:016x}", rand::random::<u64>());
    let domain = from.rsplit_once('@').map_or("airsync", |(_, d)| d);
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id:016x}.itip@{domain}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: text/calendar; charset=utf-8; method={method}\r\nContent-Transfer-Encoding: base64\r\n\r\n{ics}\r\n\
         --{boundary}--\r\n",
        date = now.format("%a, %d %b %Y %H:%M:%S +0000"),
        id = rand::random::<u64>(),
        text = b64(text.as_bytes()),
        ics = b64(ics),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n\
BEGIN:VEVENT\r\nUID:meet-1@example.org\r\nDTSTAMP:20261101T090000Z\r\nSEQUENCE:0\r\n\
DTSTART;TZID=Europe/Berlin:20261126T100000\r\nDTEND;TZID=Europe/Berlin:20261126T110000\r\n\
SUMMARY:Planning\r\nLOCATION:Room 1\r\nORGANIZER;CN=Alice:mailto:alice@example.org\r\n\
ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn opts() -> CalendarOptions {
        let mut o = CalendarOptions::new(ProtocolVersion::V16_1);
        o.user_emails = vec!["bob@example.org".into()];
        o
    }

    #[test]
    fn goid_wraps_foreign_uids_and_keeps_outlook_ones() {
        let g = global_obj_id("abc", None);
        assert_eq!(&g[..16], &GOID_CLASS);
        assert_eq!(
            u32::from_le_bytes([g[36], g[37], g[38], g[39]]) as usize,
            g.len() - 40
        );
        assert_eq!(&g[40..], b"vCal-Uid\x01\x00\x00\x00abc\x00");
        let outlook = "040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5A601000000000000000010000000F1E2D3C4B5A6978800112233445566";
        let g = global_obj_id(outlook, chrono::NaiveDate::from_ymd_opt(2026, 11, 26));
        assert_eq!(g.len(), outlook.len() / 2);
        assert_eq!(&g[16..20], &[0x07, 0xEA, 11, 26]);
    }

    #[test]
    fn meeting_request_element_in_utc_with_the_events_zone() {
        let el = meeting_request_element(REQUEST.as_bytes(), &opts()).unwrap();
        let xml = crate::wbxml::to_xml(&el);
        // 10:00 in Berlin in November (CET, UTC+1) is 09:00 UTC.
        assert!(
            xml.contains("<StartTime>2026-11-26T09:00:00.000Z</StartTime>"),
            "{xml}"
        );
        assert!(
            xml.contains("<EndTime>2026-11-26T10:00:00.000Z</EndTime>"),
            "{xml}"
        );
        assert!(
            xml.contains("<ResponseRequested>1</ResponseRequested>"),
            "{xml}"
        );
        assert!(xml.contains("<InstanceType>0</InstanceType>"), "{xml}");
        assert_eq!(
            el.child_text(E::Organizer).as_deref(),
            Some("\"Alice\" <alice@example.org>")
        );
        let tz = el.child_text(E::TimeZone).unwrap();
        let blob = crate::mapping::timezone::EasTimeZone::from_base64(&tz).unwrap();
        assert_eq!(blob.standard_offset(), 60, "Berlin is UTC+1 in winter");
        let goid = base64::engine::general_purpose::STANDARD
            .decode(el.child_text(E::GlobalObjId).unwrap().as_bytes())
            .unwrap();
        assert!(goid.ends_with(b"meet-1@example.org\x00"));
    }

    #[test]
    fn reply_and_apply() {
        let info = request_info(REQUEST.as_bytes(), &["bob@example.org".into()]).unwrap();
        assert!(info.rsvp);
        assert!(
            !request_info(REQUEST.as_bytes(), &["carol@example.org".into()])
                .unwrap()
                .rsvp
        );
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 2)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap();
        let (org, r) = reply(REQUEST.as_bytes(), "bob@example.org", "ACCEPTED", None, now).unwrap();
        assert_eq!(org, "alice@example.org");
        let text = String::from_utf8(r.clone()).unwrap();
        assert!(
            text.contains("METHOD:REPLY")
                && text.contains("PARTSTAT=ACCEPTED")
                && !text.contains("carol"),
            "{text}"
        );
        assert!(!text.contains("RSVP"), "{text}");

        let organizer_copy = REQUEST.replace("METHOD:REQUEST\r\n", "");
        assert!(
            apply_reply(organizer_copy.as_bytes(), &r, "mallory@example.org").is_none(),
            "only the attendee answers"
        );
        let updated = String::from_utf8(
            apply_reply(organizer_copy.as_bytes(), &r, "Bob@example.org").unwrap(),
        )
        .unwrap();
        assert!(
            updated.contains("PARTSTAT=ACCEPTED") && updated.contains("mailto:bob@example.org"),
            "{updated}"
        );
        assert!(
            apply_reply(updated.as_bytes(), &r, "bob@example.org").is_none(),
            "applying twice changes nothing"
        );
        assert_eq!(
            reply_start(&r),
            Some(1_795_683_600),
            "10:00 Berlin = 09:00 UTC"
        );

        assert!(
            updated.contains("X-AIRSYNC-REPLY-DTSTAMP=20261102T080000Z"),
            "the applied reply's DTSTAMP is remembered: {updated}"
        );
        let mine = String::from_utf8(
            attendee_copy(REQUEST.as_bytes(), &["bob@example.org".into()], "TENTATIVE").unwrap(),
        )
        .unwrap();
        assert!(
            !mine.contains("METHOD") && mine.contains("PARTSTAT=TENTATIVE"),
            "{mine}"
        );
    }

    /// Bob's REPLY with `partstat`, DTSTAMP `stamp` and SEQUENCE `seq`.
    fn bob_reply(partstat: &str, stamp: &str, seq: u32) -> Vec<u8> {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:meet-1@example.org\r\n\
             DTSTAMP:{stamp}\r\nSEQUENCE:{seq}\r\nORGANIZER:mailto:alice@example.org\r\n\
             ATTENDEE;PARTSTAT={partstat}:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        .into_bytes()
    }

    fn bob_partstat(ics: &[u8]) -> String {
        let cal = ical::parse(ics).unwrap();
        let ev = cal.children.iter().find(|c| c.name == "VEVENT").unwrap();
        ev.props_named("ATTENDEE")
            .find(|a| a.value.contains("bob@"))
            .and_then(|a| a.param("PARTSTAT"))
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_reply_counts_once_and_a_stale_one_loses() {
        let organizer_copy = REQUEST.replace("METHOD:REQUEST\r\n", "");
        let accepted = bob_reply("ACCEPTED", "20261102T100000Z", 0);
        let after = apply_reply(organizer_copy.as_bytes(), &accepted, "bob@example.org").unwrap();
        assert_eq!(bob_partstat(&after), "ACCEPTED");
        // The same REPLY again (the watcher and Sync both saw it): nothing to write.
        assert!(apply_reply(&after, &accepted, "bob@example.org").is_none());
        // An older REPLY that arrived late does not overwrite the newer answer.
        let older = bob_reply("DECLINED", "20261102T090000Z", 0);
        assert!(apply_reply(&after, &older, "bob@example.org").is_none());
        // A newer one does.
        let newer = bob_reply("DECLINED", "20261102T110000Z", 0);
        let declined = apply_reply(&after, &newer, "bob@example.org").unwrap();
        assert_eq!(bob_partstat(&declined), "DECLINED");
        // A REPLY to an older version of the event (lower SEQUENCE) is stale, however new.
        let bumped = String::from_utf8(declined)
            .unwrap()
            .replace("SEQUENCE:0", "SEQUENCE:2");
        let outdated = bob_reply("ACCEPTED", "20261103T080000Z", 1);
        assert!(apply_reply(bumped.as_bytes(), &outdated, "bob@example.org").is_none());
        let current = bob_reply("ACCEPTED", "20261103T080000Z", 2);
        let ok = apply_reply(bumped.as_bytes(), &current, "bob@example.org").unwrap();
        assert_eq!(bob_partstat(&ok), "ACCEPTED");
    }
}
