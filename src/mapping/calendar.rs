//! Calendar items: iCalendar VEVENT (with its RECURRENCE-ID overrides) ⇄ MS-ASCAL.
//!
//! # Decisions
//!
//! * **Times** go to EAS as UTC compact date-times. A DTSTART with TZID is resolved by
//!   IANA name, Windows name or path suffix; otherwise the VTIMEZONE of that TZID is
//!   read into a blob ([`timezone`](super::timezone)). Floating times and DATE values
//!   use [`CalendarOptions::default_zone`] (UTC when unset).
//! * **Timezone** is the blob of the event's zone with the rules of the DTSTART year.
//!   From a client, the blob is matched to an IANA zone for the StartTime year; the
//!   event's existing TZID is kept when that zone behaves the same that year, and a
//!   VTIMEZONE is added when the object lacks one. A blob no zone matches becomes a
//!   VTIMEZONE of its own (TZID = its StandardName).
//! * **All-day**: DATE values ⇄ AllDayEvent 1 with midnight-to-midnight of the zone.
//! * **Versions**: Location is AirSyncBase:Location from 16.0, Calendar:Location
//!   before; ResponseRequested, AppointmentReplyTime, ResponseType,
//!   DisallowNewTimeProposal, CalendarType from 14.0; FirstDayOfWeek from 14.1;
//!   exceptions carry AirSyncBase:InstanceId from 16.0 and ExceptionStartTime before.
//!   UID is sent in every version (MS-ASCAL 2.2.2.46 lists it for 16.x responses;
//!   the server generates it there): on a 16.x Add, ClientUid becomes the UID.
//!   BusyStatus 4 (working elsewhere) is sent as 2 before 16.0.
//! * **Lossless Change**: the existing object is edited in place with the content-line
//!   model ([`ical`](super::ical)): only properties EAS carries are touched, and a
//!   property whose value is unchanged keeps its line. Elements a Change omits clear
//!   their property (MS-ASCMD 2.2.3.24: Change replaces the item), except Body (a
//!   client that never fetched the body must not wipe it), Attendees and Exceptions
//!   (16.x clients never send Exceptions; they change instances by InstanceId, see
//!   [`eas_instance_change`]). Reminder edits the first DISPLAY/AUDIO VALARM with a
//!   relative trigger; other alarms stay. Attendees are matched by address and keep
//!   their other parameters.
//! * Properties without a standard twin: BusyStatus as TRANSP plus
//!   X-MICROSOFT-CDO-BUSYSTATUS, DisallowNewTimeProposal as X-MICROSOFT-DISALLOW-COUNTER,
//!   AppointmentReplyTime as X-AIRSYNC-REPLYTIME, Sensitivity 1 as CLASS:X-PERSONAL.

use chrono::{Datelike, Duration, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::ical::{self, Component, Prop};
use super::pim::{self, Recurrence, RecurrenceTags};
use super::timezone::{self, EasTimeZone};
use crate::eas::ProtocolVersion;
use crate::eas::sync::BodyPreference;
use crate::wbxml::Element;
use crate::wbxml::pages::{AirSync, AirSyncBase, Calendar as C};

pub use super::pim::ConvertError;

/// What the client asked for, and what the account knows.
#[derive(Debug, Clone)]
pub struct CalendarOptions {
    pub version: ProtocolVersion,
    pub body_preferences: Vec<BodyPreference>,
    /// Zone for floating times and all-day dates (the user's zone). None: UTC.
    pub default_zone: Option<Tz>,
    /// The account's addresses: decide MeetingStatus and ResponseType.
    pub user_emails: Vec<String>,
}

impl CalendarOptions {
    pub fn new(version: ProtocolVersion) -> CalendarOptions {
        CalendarOptions {
            version,
            body_preferences: Vec::new(),
            default_zone: None,
            user_emails: Vec::new(),
        }
    }
}

pub(crate) const RECURRENCE_TAGS: RecurrenceTags = RecurrenceTags {
    recurrence: C::Recurrence,
    kind: C::Type,
    until: C::Until,
    occurrences: C::Occurrences,
    interval: C::Interval,
    day_of_week: C::DayOfWeek,
    day_of_month: C::DayOfMonth,
    week_of_month: C::WeekOfMonth,
    month_of_year: C::MonthOfYear,
    first_day_of_week: C::FirstDayOfWeek,
    calendar_type: C::CalendarType,
    is_leap_month: C::IsLeapMonth,
    long_dates: false,
};

/// A zone that turns local times into UTC.
#[derive(Debug, Clone)]
pub(crate) enum Zone {
    Iana(Tz),
    Blob(EasTimeZone),
}

impl Zone {
    pub(crate) fn to_utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Iana(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })
                .map_or(local, |d| d.naive_utc()),
            Zone::Blob(b) => b.local_to_utc(local),
        }
    }

    pub(crate) fn to_local(&self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Iana(tz) => tz.from_utc_datetime(&utc).naive_local(),
            Zone::Blob(b) => b.utc_to_local(utc),
        }
    }

    fn blob(&self, year: i32) -> EasTimeZone {
        match self {
            Zone::Iana(tz) => timezone::blob_for_zone(*tz, year),
            Zone::Blob(b) => b.clone(),
        }
    }
}

/// A date or date-time property read: UTC instant, all-day flag, and zone used.
#[derive(Debug, Clone)]
pub(crate) struct When {
    pub utc: NaiveDateTime,
    pub local: NaiveDateTime,
    pub all_day: bool,
    pub zone: Zone,
}

pub(crate) fn default_zone(opts: &CalendarOptions) -> Zone {
    Zone::Iana(opts.default_zone.unwrap_or(Tz::UTC))
}

/// The zone a TZID names, looking at the calendar's VTIMEZONEs when it is no known name.
pub(crate) fn zone_for_tzid(cal: &Component, tzid: &str, year: i32) -> Option<Zone> {
    if let Some(tz) = timezone::resolve_zone_name(tzid) {
        return Some(Zone::Iana(tz));
    }
    let vtz = cal
        .children_named("VTIMEZONE")
        .find(|v| v.text("TZID").as_deref() == Some(tzid))?;
    for key in ["X-LIC-LOCATION", "X-MICROSOFT-CDO-TZID"] {
        if let Some(tz) = vtz.text(key).and_then(|n| timezone::resolve_zone_name(&n)) {
            return Some(Zone::Iana(tz));
        }
    }
    timezone::blob_from_vtimezone_component(vtz, year).map(Zone::Blob)
}

pub(crate) fn read_when(cal: &Component, p: &Prop, dflt: &Zone) -> Option<When> {
    let v = p.value.trim();
    let local = timezone::parse_local(v)?;
    let all_day = p
        .param("VALUE")
        .is_some_and(|x| x.eq_ignore_ascii_case("DATE"))
        || v.len() == 8;
    if v.ends_with(['Z', 'z']) {
        return Some(When {
            utc: local,
            local,
            all_day: false,
            zone: Zone::Iana(Tz::UTC),
        });
    }
    let zone = match p.param("TZID") {
        Some(id) if !all_day => {
            zone_for_tzid(cal, id, local.year()).unwrap_or_else(|| dflt.clone())
        }
        _ => dflt.clone(),
    };
    Some(When {
        utc: zone.to_utc(local),
        local,
        all_day,
        zone,
    })
}

fn ical_date(t: NaiveDateTime) -> String {
    t.format("%Y%m%d").to_string()
}

fn ical_local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn mailto(v: &str) -> String {
    let v = v.trim();
    v.strip_prefix("mailto:")
        .or_else(|| v.strip_prefix("MAILTO:"))
        .unwrap_or(v)
        .to_string()
}

fn is_user(opts: &CalendarOptions, email: &str) -> bool {
    opts.user_emails
        .iter()
        .any(|u| u.eq_ignore_ascii_case(email))
}

fn partstat_to_status(p: Option<&str>) -> u8 {
    match p.map(str::to_ascii_uppercase).as_deref() {
        Some("TENTATIVE") => 2,
        Some("ACCEPTED") => 3,
        Some("DECLINED") => 4,
        Some("NEEDS-ACTION") => 5,
        _ => 0,
    }
}

fn status_to_partstat(s: u8) -> Option<&'static str> {
    match s {
        2 => Some("TENTATIVE"),
        3 => Some("ACCEPTED"),
        4 => Some("DECLINED"),
        5 => Some("NEEDS-ACTION"),
        _ => None,
    }
}

fn attendee_type(p: &Prop) -> u8 {
    if p.param("CUTYPE")
        .is_some_and(|c| matches!(c.to_ascii_uppercase().as_str(), "RESOURCE" | "ROOM"))
    {
        3
    } else if p
        .param("ROLE")
        .is_some_and(|r| r.eq_ignore_ascii_case("OPT-PARTICIPANT"))
    {
        2
    } else {
        1
    }
}

/// Minutes before the start of the first DISPLAY/AUDIO alarm with a relative trigger.
fn reminder_alarm(ev: &Component) -> Option<(usize, i64)> {
    ev.children.iter().enumerate().find_map(|(i, a)| {
        if a.name != "VALARM" {
            return None;
        }
        let action = a.text("ACTION").unwrap_or_default().to_ascii_uppercase();
        if action != "DISPLAY" && action != "AUDIO" {
            return None;
        }
        let trig = a.prop("TRIGGER")?;
        if trig
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"))
            || trig
                .param("RELATED")
                .is_some_and(|v| v.eq_ignore_ascii_case("END"))
        {
            return None;
        }
        let secs = parse_duration(&trig.value)?;
        Some((i, (-secs).div_euclid(60).max(0)))
    })
}

/// RFC 5545 DURATION → seconds.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let s = s.strip_prefix(['P', 'p'])?;
    let mut total = 0i64;
    let mut num = String::new();
    for c in s.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => num.push(c),
            'T' => {}
            u @ ('W' | 'D' | 'H' | 'M' | 'S') => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                total += n * match u {
                    'W' => 604_800,
                    'D' => 86_400,
                    'H' => 3_600,
                    'M' => 60,
                    _ => 1,
                };
            }
            _ => return None,
        }
    }
    Some(if neg { -total } else { total })
}

fn busy_status(ev: &Component) -> u8 {
    match ev
        .text("X-MICROSOFT-CDO-BUSYSTATUS")
        .map(|s| s.to_ascii_uppercase())
        .as_deref()
    {
        Some("FREE") => 0,
        Some("TENTATIVE") => 1,
        Some("BUSY") => 2,
        Some("OOF") => 3,
        Some("WORKINGELSEWHERE") => 4,
        _ => match ev.text("TRANSP").map(|s| s.to_ascii_uppercase()).as_deref() {
            Some("TRANSPARENT") => 0,
            _ => 2,
        },
    }
}

struct Ctx<'a> {
    cal: &'a Component,
    opts: &'a CalendarOptions,
    dflt: Zone,
}

impl Ctx<'_> {
    fn v14(&self) -> bool {
        self.opts.version >= ProtocolVersion::V14_0
    }
    fn v16(&self) -> bool {
        self.opts.version >= ProtocolVersion::V16_0
    }
}

/// Start and end of an event.
fn span(ctx: &Ctx, ev: &Component) -> Option<(When, NaiveDateTime)> {
    let start = read_when(ctx.cal, ev.prop("DTSTART")?, &ctx.dflt)?;
    let end = if let Some(e) = ev
        .prop("DTEND")
        .and_then(|p| read_when(ctx.cal, p, &start.zone))
    {
        e.utc
    } else if let Some(d) = ev.prop("DURATION").and_then(|p| parse_duration(&p.value)) {
        if start.all_day {
            start.zone.to_utc(start.local + Duration::seconds(d))
        } else {
            start.utc + Duration::seconds(d)
        }
    } else if start.all_day {
        start.zone.to_utc(start.local + Duration::days(1))
    } else {
        start.utc
    };
    Some((start, end))
}

/// The elements an event and an exception share, in MS-ASCAL order.
fn common_elements(ctx: &Ctx, ev: &Component, is_exception: bool, out: &mut Vec<Element>) {
    let span = span(ctx, ev);
    if let Some((s, _)) = &span {
        out.push(Element::with_text(
            C::AllDayEvent,
            if s.all_day { "1" } else { "0" },
        ));
    }
    let desc = ev.text("DESCRIPTION").unwrap_or_default();
    let html = pim::html_description(ev);
    if !desc.is_empty() || html.is_some() || !is_exception {
        out.push(pim::body_element(
            &desc,
            html.as_deref(),
            &ctx.opts.body_preferences,
            ctx.opts.version,
        ));
    }
    let mut busy = busy_status(ev);
    if busy == 4 && !ctx.v16() {
        busy = 2;
    }
    out.push(Element::with_text(C::BusyStatus, busy.to_string()));
    if !is_exception && let Some(org) = ev.prop("ORGANIZER") {
        if let Some(cn) = org.param("CN") {
            out.push(Element::with_text(C::OrganizerName, cn));
        }
        out.push(Element::with_text(C::OrganizerEmail, mailto(&org.value)));
    }
    if let Some(t) = ev
        .prop("DTSTAMP")
        .and_then(|p| timezone::parse_local(&p.value))
    {
        out.push(Element::with_text(C::DtStamp, pim::compact_utc(t)));
    }
    if let Some((_, end)) = &span {
        out.push(Element::with_text(C::EndTime, pim::compact_utc(*end)));
    }
    if let Some(loc) = ev.text("LOCATION") {
        if ctx.v16() {
            out.push(Element::new(AirSyncBase::Location).text_child(AirSyncBase::DisplayName, loc));
        } else {
            out.push(Element::with_text(C::Location, loc));
        }
    }
    if let Some((_, min)) = reminder_alarm(ev) {
        out.push(Element::with_text(C::Reminder, min.to_string()));
    }
    out.push(Element::with_text(
        C::Sensitivity,
        pim::sensitivity_from_class(ev.text("CLASS").as_deref()).to_string(),
    ));
    out.push(Element::with_text(
        C::Subject,
        ev.text("SUMMARY").unwrap_or_default(),
    ));
    if let Some((s, _)) = &span {
        out.push(Element::with_text(C::StartTime, pim::compact_utc(s.utc)));
    }
}

fn meeting_status(ctx: &Ctx, ev: &Component) -> u8 {
    let has_att = ev.prop("ATTENDEE").is_some();
    let cancelled = ev
        .text("STATUS")
        .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"));
    let organizer_is_user = ev
        .prop("ORGANIZER")
        .is_none_or(|o| ctx.opts.user_emails.is_empty() || is_user(ctx.opts, &mailto(&o.value)));
    match (has_att, organizer_is_user, cancelled) {
        (false, _, false) => 0,
        (false, _, true) | (true, true, true) => 5,
        (true, true, false) => 1,
        (true, false, false) => 3,
        (true, false, true) => 7,
    }
}

fn attendees_element(ev: &Component) -> Option<Element> {
    let mut el = Element::new(C::Attendees);
    for a in ev.props_named("ATTENDEE") {
        let mut at = Element::new(C::Attendee).text_child(C::Email, mailto(&a.value));
        at.push(Element::with_text(
            C::Name,
            a.param("CN").unwrap_or_else(|| mailto_ref(&a.value)),
        ));
        at.push(Element::with_text(
            C::AttendeeStatus,
            partstat_to_status(a.param("PARTSTAT")).to_string(),
        ));
        at.push(Element::with_text(
            C::AttendeeType,
            attendee_type(a).to_string(),
        ));
        el.push(at);
    }
    (!el.children.is_empty()).then_some(el)
}

fn mailto_ref(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix("mailto:")
        .or_else(|| v.strip_prefix("MAILTO:"))
        .unwrap_or(v)
}

fn response_type(ctx: &Ctx, ev: &Component) -> Option<u8> {
    if ev
        .prop("ORGANIZER")
        .is_some_and(|o| is_user(ctx.opts, &mailto(&o.value)))
    {
        return Some(1);
    }
    ev.props_named("ATTENDEE")
        .find(|a| is_user(ctx.opts, &mailto(&a.value)))
        .map(|a| partstat_to_status(a.param("PARTSTAT")))
}

fn parse_cal(ics: &[u8]) -> Result<Component, ConvertError> {
    let cal = ical::parse(ics).ok_or(ConvertError::Invalid("iCalendar"))?;
    if cal.name != "VCALENDAR" {
        return Err(ConvertError::Invalid("iCalendar"));
    }
    Ok(cal)
}

/// The series master (or the single event): the first VEVENT without RECURRENCE-ID.
fn master_index(cal: &Component, kind: &str) -> Option<usize> {
    cal.children
        .iter()
        .position(|c| c.name == kind && c.prop("RECURRENCE-ID").is_none())
        .or_else(|| cal.children.iter().position(|c| c.name == kind))
}

/// iCalendar → `<AirSync:ApplicationData>` with the Calendar elements.
pub fn event_to_eas(ics: &[u8], opts: &CalendarOptions) -> Result<Element, ConvertError> {
    let cal = parse_cal(ics)?;
    let mi = master_index(&cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let ev = &cal.children[mi];
    let ctx = Ctx {
        cal: &cal,
        opts,
        dflt: default_zone(opts),
    };
    let (start, _) = span(&ctx, ev).ok_or(ConvertError::Missing("DTSTART"))?;
    let mut app = Element::new(AirSync::ApplicationData);
    let blob = start.zone.blob(start.local.year());
    app.push(Element::with_text(C::Timezone, blob.to_base64()));
    let mut els = Vec::new();
    common_elements(&ctx, ev, false, &mut els);
    // UID after StartTime, as MS-ASCAL's examples order it
    for e in els {
        app.push(e);
    }
    if let Some(uid) = ev.text("UID") {
        app.push(Element::with_text(C::UID, uid));
    }
    app.push(Element::with_text(
        C::MeetingStatus,
        meeting_status(&ctx, ev).to_string(),
    ));
    if let Some(a) = attendees_element(ev) {
        app.push(a);
    }
    let cats = pim::categories_of(ev);
    if !cats.is_empty() {
        app.push(pim::categories_element(C::Categories, C::Category, &cats));
    }
    if let Some(rule) = ev.prop("RRULE")
        && let Some(r) = Recurrence::from_rrule(&rule.value, start.local, |l| start.zone.to_utc(l))
    {
        app.push(r.to_element(&RECURRENCE_TAGS, opts.version, Vec::new()));
        if let Some(ex) = exceptions_element(&ctx, ev, &start) {
            app.push(ex);
        }
    }
    if ctx.v14() {
        let rsvp = ev.props_named("ATTENDEE").any(|a| {
            a.param("RSVP")
                .is_some_and(|r| r.eq_ignore_ascii_case("TRUE"))
        });
        if ev.prop("ATTENDEE").is_some() {
            app.push(Element::with_text(
                C::ResponseRequested,
                if rsvp { "1" } else { "0" },
            ));
        }
        if let Some(t) = ev
            .prop("X-AIRSYNC-REPLYTIME")
            .and_then(|p| timezone::parse_local(&p.value))
        {
            app.push(Element::with_text(
                C::AppointmentReplyTime,
                pim::compact_utc(t),
            ));
        }
        if let Some(rt) = response_type(&ctx, ev) {
            app.push(Element::with_text(C::ResponseType, rt.to_string()));
        }
        if let Some(d) = ev.text("X-MICROSOFT-DISALLOW-COUNTER") {
            app.push(Element::with_text(
                C::DisallowNewTimeProposal,
                if d.eq_ignore_ascii_case("TRUE") {
                    "1"
                } else {
                    "0"
                },
            ));
        }
    }
    Ok(app)
}

fn exceptions_element(ctx: &Ctx, master: &Component, start: &When) -> Option<Element> {
    let uid = master.text("UID");
    let mut list: Vec<(NaiveDateTime, Element)> = Vec::new();
    let instance = |t: NaiveDateTime| {
        if ctx.v16() {
            Element::with_text(AirSyncBase::InstanceId, pim::compact_utc(t))
        } else {
            Element::with_text(C::ExceptionStartTime, pim::compact_utc(t))
        }
    };
    for ex in master.props_named("EXDATE") {
        for v in ex.value.split(',') {
            let mut p = ex.clone();
            p.set_value(v);
            if let Some(w) = read_when(ctx.cal, &p, &start.zone) {
                let utc = if w.all_day {
                    start.zone.to_utc(w.local)
                } else {
                    w.utc
                };
                let el = Element::new(C::Exception)
                    .text_child(C::Deleted, "1")
                    .child(instance(utc));
                list.push((utc, el));
            }
        }
    }
    for ov in ctx
        .cal
        .children
        .iter()
        .filter(|c| c.name == "VEVENT" && c.text("UID") == uid)
    {
        let Some(rid) = ov
            .prop("RECURRENCE-ID")
            .and_then(|p| read_when(ctx.cal, p, &start.zone))
        else {
            continue;
        };
        let utc = if rid.all_day {
            start.zone.to_utc(rid.local)
        } else {
            rid.utc
        };
        let mut el = Element::new(C::Exception);
        if ov
            .text("STATUS")
            .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"))
        {
            el.push(Element::with_text(C::Deleted, "1"));
        }
        el.push(instance(utc));
        let mut els = Vec::new();
        common_elements(ctx, ov, true, &mut els);
        for e in els {
            el.push(e);
        }
        let cats = pim::categories_of(ov);
        if !cats.is_empty() {
            el.push(pim::categories_element(C::Categories, C::Category, &cats));
        }
        if ctx.v14()
            && let Some(a) = attendees_element(ov)
        {
            el.push(a);
        }
        list.push((utc, el));
    }
    if list.is_empty() {
        return None;
    }
    list.sort_by_key(|(t, _)| *t);
    let mut el = Element::new(C::Exceptions);
    for (_, e) in list {
        el.push(e);
    }
    Some(el)
}

/// The UID of the event (the series master's).
pub fn event_uid(ics: &[u8]) -> Option<String> {
    let cal = ical::parse(ics)?;
    let i = master_index(&cal, "VEVENT").or_else(|| master_index(&cal, "VTODO"))?;
    cal.children[i].text("UID")
}

/// Whether any occurrence of the event (series included) overlaps `[start, end)`, unix
/// seconds; `end` None is open. Recurrences are expanded by calcard; a series too long
/// to expand is assumed to overlap (a FilterType window must not hide items).
pub fn event_overlaps(ics: &[u8], start: i64, end: Option<i64>) -> bool {
    let Ok(text) = std::str::from_utf8(ics) else {
        return false;
    };
    let Ok(cal) = calcard::icalendar::ICalendar::parse(text) else {
        return false;
    };
    const LIMIT: usize = 20_000;
    let expanded =
        std::panic::catch_unwind(|| cal.expand_dates(calcard::common::timezone::Tz::UTC, LIMIT));
    let Ok(expanded) = expanded else { return true };
    if expanded.events.len() >= LIMIT {
        return true;
    }
    expanded.events.iter().any(|e| {
        let (s, en) = (
            e.start.timestamp(),
            match &e.end {
                calcard::icalendar::dates::TimeOrDelta::Time(t) => t.timestamp(),
                calcard::icalendar::dates::TimeOrDelta::Delta(d) => {
                    e.start.timestamp() + d.num_seconds()
                }
            },
        );
        let en = en.max(s + 1);
        en > start && end.is_none_or(|end| s < end)
    })
}

fn text_of(data: &Element, tag: crate::wbxml::Tag) -> Option<String> {
    data.child_text(tag).map(|t| t.to_string())
}

fn num_of(
    data: &Element,
    tag: crate::wbxml::Tag,
    name: &'static str,
) -> Result<Option<u32>, ConvertError> {
    data.child_text(tag)
        .map(|t| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| ConvertError::BadValue(name))
        })
        .transpose()
}

fn time_of(
    data: &Element,
    tag: crate::wbxml::Tag,
    name: &'static str,
) -> Result<Option<NaiveDateTime>, ConvertError> {
    data.child_text(tag)
        .map(|t| pim::parse_eas_datetime(&t).ok_or(ConvertError::BadValue(name)))
        .transpose()
}

/// How the event's times are written: the TZID (None = UTC) and its zone.
struct Target {
    tzid: Option<String>,
    zone: Zone,
}

fn write_when(
    ev: &mut Component,
    name: &str,
    utc: NaiveDateTime,
    all_day: bool,
    target: &Target,
    cal: &Component,
) {
    // keep the line when it already says the same
    if let Some(old) = ev.prop(name) {
        let dflt = target.zone.clone();
        if let Some(w) = read_when(cal, old, &dflt) {
            let same = if all_day {
                w.all_day && w.local.date() == target.zone.to_local(utc).date()
            } else {
                !w.all_day && w.utc == utc
            };
            if same {
                return;
            }
        }
    }
    let p = if all_day {
        Prop::new(name, ical_date(target.zone.to_local(utc))).with_param("VALUE", "DATE")
    } else if let Some(id) = &target.tzid {
        Prop::new(name, ical_local(target.zone.to_local(utc))).with_param("TZID", id)
    } else {
        Prop::new(name, pim::compact_utc(utc))
    };
    ev.remove(name);
    // insert near the top for readability
    let pos = ev
        .props
        .iter()
        .position(|p| p.name == "DTSTAMP")
        .map_or(0, |i| i + 1)
        .min(ev.props.len());
    ev.props.insert(pos, p);
}

fn set_reminder(ev: &mut Component, minutes: Option<u32>) {
    match (reminder_alarm(ev), minutes) {
        (Some((_, old)), Some(m)) if old == i64::from(m) => {}
        (Some((i, _)), Some(m)) => {
            if let Some(t) = ev.children[i].prop_mut("TRIGGER") {
                t.set_value(format!("-PT{m}M"));
            }
        }
        (None, Some(m)) => {
            let mut a = Component::new("VALARM");
            a.props.push(Prop::new("ACTION", "DISPLAY"));
            a.props.push(Prop::text("DESCRIPTION", "Reminder"));
            a.props.push(Prop::new("TRIGGER", format!("-PT{m}M")));
            ev.children.push(a);
        }
        (Some(_), None) => {
            // every alarm that would read as the reminder goes
            while let Some((i, _)) = reminder_alarm(ev) {
                ev.children.remove(i);
            }
        }
        (None, None) => {}
    }
}

fn set_busy(ev: &mut Component, busy: Option<u32>) {
    let Some(b) = busy else {
        return;
    };
    if busy_status(ev) == b as u8 {
        return;
    }
    ev.set(Prop::new(
        "TRANSP",
        if b == 0 { "TRANSPARENT" } else { "OPAQUE" },
    ));
    let cdo = match b {
        0 => "FREE",
        1 => "TENTATIVE",
        3 => "OOF",
        4 => "WORKINGELSEWHERE",
        _ => "BUSY",
    };
    ev.set(Prop::new("X-MICROSOFT-CDO-BUSYSTATUS", cdo));
}

fn set_attendees(ev: &mut Component, data: &Element) {
    let Some(list) = data.first(C::Attendees) else {
        return;
    };
    let mut keep: Vec<Prop> = Vec::new();
    for a in list.all(C::Attendee) {
        let Some(email) = a.child_text(C::Email).map(|s| s.trim().to_string()) else {
            continue;
        };
        let mut p = ev
            .props_named("ATTENDEE")
            .find(|p| mailto(&p.value).eq_ignore_ascii_case(&email))
            .cloned()
            .unwrap_or_else(|| Prop::new("ATTENDEE", format!("mailto:{email}")));
        if let Some(n) = a
            .child_text(C::Name)
            .filter(|n| !n.is_empty() && **n != *email)
            && p.param("CN") != Some(&n)
        {
            p.set_param("CN", &n);
        }
        if let Some(s) = a
            .child_text(C::AttendeeStatus)
            .and_then(|s| s.trim().parse::<u8>().ok())
            && partstat_to_status(p.param("PARTSTAT")) != s
        {
            match status_to_partstat(s) {
                Some(ps) => p.set_param("PARTSTAT", ps),
                None => p.remove_param("PARTSTAT"),
            }
        }
        if let Some(t) = a
            .child_text(C::AttendeeType)
            .and_then(|s| s.trim().parse::<u8>().ok())
            && attendee_type(&p) != t
        {
            match t {
                2 => p.set_param("ROLE", "OPT-PARTICIPANT"),
                3 => p.set_param("CUTYPE", "RESOURCE"),
                _ => {
                    p.set_param("ROLE", "REQ-PARTICIPANT");
                    p.remove_param("CUTYPE");
                }
            }
        }
        keep.push(p);
    }
    let pos = ev
        .props
        .iter()
        .position(|p| p.name == "ATTENDEE")
        .unwrap_or(ev.props.len());
    ev.remove("ATTENDEE");
    let pos = pos.min(ev.props.len());
    for (i, p) in keep.into_iter().enumerate() {
        ev.props.insert(pos + i, p);
    }
}

/// Applies the fields an event and an exception share. `full`: absent elements clear
/// their property (the master of a Change); exceptions only set what they carry.
fn apply_common(
    ev: &mut Component,
    data: &Element,
    target: &Target,
    cal: &Component,
    full: bool,
) -> Result<(), ConvertError> {
    let all_day = data.child_text(C::AllDayEvent).as_deref() == Some("1");
    let start = time_of(data, C::StartTime, "StartTime")?;
    let end = time_of(data, C::EndTime, "EndTime")?;
    if let Some(s) = start {
        write_when(ev, "DTSTART", s, all_day, target, cal);
        let e = end.unwrap_or(if all_day { s + Duration::days(1) } else { s });
        ev.remove("DURATION");
        write_when(ev, "DTEND", e, all_day, target, cal);
    }
    let subject = text_of(data, C::Subject);
    if full || subject.is_some() {
        ev.set_text("SUMMARY", subject.as_deref());
    }
    let location = data
        .first(AirSyncBase::Location)
        .and_then(|l| {
            l.child_text(AirSyncBase::DisplayName)
                .map(|t| t.to_string())
        })
        .or_else(|| text_of(data, C::Location));
    if full || location.is_some() {
        ev.set_text("LOCATION", location.as_deref());
    }
    pim::set_description(ev, data);
    if let Some(s) = num_of(data, C::Sensitivity, "Sensitivity")? {
        if pim::sensitivity_from_class(ev.text("CLASS").as_deref()) != s as u8 {
            ev.set(Prop::new("CLASS", pim::class_for_sensitivity(s as u8)));
        }
    } else if full {
        ev.remove("CLASS");
    }
    set_busy(ev, num_of(data, C::BusyStatus, "BusyStatus")?);
    let reminder = num_of(data, C::Reminder, "Reminder")?;
    if full || reminder.is_some() {
        set_reminder(ev, reminder);
    }
    if let Some(c) = data.first(C::Categories) {
        pim::set_categories(ev, &pim::categories_from(c, C::Category));
    } else if full {
        ev.remove("CATEGORIES");
    }
    if let Some(t) = time_of(data, C::DtStamp, "DtStamp")? {
        ev.set(Prop::new("DTSTAMP", pim::compact_utc(t)));
    }
    if let Some(ms) = num_of(data, C::MeetingStatus, "MeetingStatus")? {
        let cancelled = ms & 4 != 0;
        let is = ev
            .text("STATUS")
            .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"));
        if cancelled && !is {
            ev.set(Prop::new("STATUS", "CANCELLED"));
        } else if !cancelled && is {
            ev.remove("STATUS");
        }
    }
    set_attendees(ev, data);
    Ok(())
}

fn now_utc() -> NaiveDateTime {
    chrono::Utc::now().naive_utc().with_nanosecond_zero()
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl NoNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap_or(self)
    }
}

/// Chooses how times are written for the client's blob: keep the existing TZID when
/// its zone behaves the same in `year`, else the best IANA zone, else a custom one.
fn choose_target(
    cal: &mut Component,
    existing_start: Option<&Prop>,
    blob: Option<EasTimeZone>,
    year: i32,
    opts: &CalendarOptions,
) -> Target {
    let Some(blob) = blob else {
        return match existing_start
            .and_then(|p| p.param("TZID"))
            .map(str::to_string)
        {
            Some(id) => {
                let zone = zone_for_tzid(cal, &id, year).unwrap_or_else(|| default_zone(opts));
                Target {
                    tzid: Some(id),
                    zone,
                }
            }
            None => Target {
                tzid: None,
                zone: Zone::Iana(Tz::UTC),
            },
        };
    };
    if let Some(id) = existing_start
        .and_then(|p| p.param("TZID"))
        .map(str::to_string)
        && let Some(zone) = zone_for_tzid(cal, &id, year)
        && same_rules(&zone.blob(year), &blob, year)
    {
        return Target {
            tzid: Some(id),
            zone,
        };
    }
    if !blob.has_dst() && blob.standard_offset() == 0 {
        return Target {
            tzid: None,
            zone: Zone::Iana(Tz::UTC),
        };
    }
    let (tzid, zone, vtz) = match timezone::zone_for_blob(&blob, year) {
        Some(tz) => (
            tz.name().to_string(),
            Zone::Iana(tz),
            timezone::vtimezone_for_zone(tz, year - 1, year + 5),
        ),
        None => {
            let id = if blob.standard_name.is_empty() {
                "Custom".to_string()
            } else {
                blob.standard_name.clone()
            };
            let v = timezone::vtimezone_from_blob(&id, &blob);
            (id, Zone::Blob(blob), v)
        }
    };
    if !cal
        .children_named("VTIMEZONE")
        .any(|v| v.text("TZID").as_deref() == Some(&tzid))
    {
        cal.children.insert(0, vtz);
    }
    Target {
        tzid: Some(tzid),
        zone,
    }
}

fn same_rules(a: &EasTimeZone, b: &EasTimeZone, year: i32) -> bool {
    let probe: Vec<NaiveDateTime> = (0..365 * 4)
        .map(|h| {
            chrono::NaiveDate::from_ymd_opt(year, 1, 1)
                .unwrap_or_default()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                + Duration::hours(6 * h)
        })
        .collect();
    probe
        .iter()
        .all(|t| a.offset_at_utc(*t) == b.offset_at_utc(*t))
}

/// Client Add/Change: ApplicationData → iCalendar. `existing` is the upstream object
/// for a Change: only the properties EAS carries are rewritten; everything else is
/// kept (see the module docs).
pub fn eas_to_event(
    data: &Element,
    existing: Option<&[u8]>,
    opts: &CalendarOptions,
) -> Result<Vec<u8>, ConvertError> {
    let mut cal = match existing {
        Some(e) => parse_cal(e)?,
        None => {
            let mut c = Component::new("VCALENDAR");
            c.props.push(Prop::new("VERSION", "2.0"));
            c.props.push(Prop::new("PRODID", "-//airsync//EN"));
            c
        }
    };
    let mi = match master_index(&cal, "VEVENT") {
        Some(i) => i,
        None => {
            let mut ev = Component::new("VEVENT");
            let uid = if opts.version >= ProtocolVersion::V16_0 {
                text_of(data, C::ClientUid).or_else(|| text_of(data, C::UID))
            } else {
                text_of(data, C::UID)
            }
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(pim::new_uid);
            ev.props.push(Prop::text("UID", &uid));
            ev.props
                .push(Prop::new("DTSTAMP", pim::compact_utc(now_utc())));
            cal.children.push(ev);
            cal.children.len() - 1
        }
    };
    let start = time_of(data, C::StartTime, "StartTime")?;
    let year = start.map_or(2000, |s| s.year());
    let blob = match data.child_text(C::Timezone) {
        Some(b) if !b.trim().is_empty() => {
            Some(EasTimeZone::from_base64(&b).ok_or(ConvertError::BadValue("Timezone"))?)
        }
        _ => None,
    };
    let existing_start = cal.children[mi].prop("DTSTART").cloned();
    let target = choose_target(&mut cal, existing_start.as_ref(), blob, year, opts);
    let mi = master_index(&cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let snapshot = cal.clone();
    let all_day = data.child_text(C::AllDayEvent).as_deref() == Some("1");
    {
        let ev = &mut cal.children[mi];
        apply_common(ev, data, &target, &snapshot, true)?;
        if let Some(email) = text_of(data, C::OrganizerEmail).filter(|e| !e.is_empty()) {
            let mut p = ev
                .prop("ORGANIZER")
                .cloned()
                .unwrap_or_else(|| Prop::new("ORGANIZER", ""));
            if !mailto(&p.value).eq_ignore_ascii_case(&email) {
                p.set_value(format!("mailto:{email}"));
            }
            if let Some(n) = text_of(data, C::OrganizerName).filter(|n| !n.is_empty())
                && p.param("CN") != Some(&n)
            {
                p.set_param("CN", &n);
            }
            ev.remove("ORGANIZER");
            ev.props.push(p);
        }
        if opts.version >= ProtocolVersion::V14_0 {
            if let Some(t) = time_of(data, C::AppointmentReplyTime, "AppointmentReplyTime")? {
                ev.set(Prop::new("X-AIRSYNC-REPLYTIME", pim::compact_utc(t)));
            }
            if let Some(d) = data.child_text(C::DisallowNewTimeProposal) {
                let v = if d.trim() == "1" { "TRUE" } else { "FALSE" };
                if ev.text("X-MICROSOFT-DISALLOW-COUNTER").as_deref() != Some(v) {
                    ev.set(Prop::new("X-MICROSOFT-DISALLOW-COUNTER", v));
                }
            }
            if let Some(rt) = num_of(data, C::ResponseType, "ResponseType")?
                && let Some(ps) = status_to_partstat(rt as u8)
            {
                for a in ev.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
                    if is_user(opts, &mailto(&a.value)) && a.param("PARTSTAT") != Some(ps) {
                        a.set_param("PARTSTAT", ps);
                    }
                }
            }
            if data.child_text(C::ResponseRequested).as_deref() == Some("1") {
                for a in ev
                    .props
                    .iter_mut()
                    .filter(|p| p.name == "ATTENDEE" && p.param("RSVP").is_none())
                {
                    a.set_param("RSVP", "TRUE");
                }
            }
        }
    }
    // recurrence
    match data.first(C::Recurrence) {
        Some(r) => {
            let rec = Recurrence::from_element(r, &RECURRENCE_TAGS)?;
            let ev = &cal.children[mi];
            let local_start = start.map(|s| target.zone.to_local(s)).unwrap_or_default();
            let same = ev
                .prop("RRULE")
                .and_then(|p| {
                    Recurrence::from_rrule(&p.value, local_start, |l| target.zone.to_utc(l))
                })
                .is_some_and(|old| old == rec);
            if !same {
                let until = rec.until.map(|u| {
                    if all_day {
                        ical_date(target.zone.to_local(u))
                    } else {
                        pim::compact_utc(u)
                    }
                });
                cal.children[mi].set(Prop::new("RRULE", rec.to_rrule(until)));
            }
        }
        None => cal.children[mi].remove("RRULE"),
    }
    if let Some(exs) = data.first(C::Exceptions) {
        apply_exceptions(&mut cal, mi, exs, &target, all_day)?;
    }
    Ok(cal.to_text().into_bytes())
}

fn exception_instant(ex: &Element) -> Result<NaiveDateTime, ConvertError> {
    time_of(ex, AirSyncBase::InstanceId, "InstanceId")?
        .or(time_of(ex, C::ExceptionStartTime, "ExceptionStartTime")?)
        .ok_or(ConvertError::Missing("ExceptionStartTime"))
}

fn override_index(
    cal: &Component,
    uid: &Option<String>,
    utc: NaiveDateTime,
    zone: &Zone,
) -> Option<usize> {
    cal.children.iter().position(|c| {
        c.name == "VEVENT"
            && c.text("UID") == *uid
            && c.prop("RECURRENCE-ID")
                .and_then(|p| read_when(cal, p, zone))
                .is_some_and(|w| {
                    (if w.all_day {
                        zone.to_utc(w.local)
                    } else {
                        w.utc
                    }) == utc
                })
    })
}

fn apply_exceptions(
    cal: &mut Component,
    mi: usize,
    exs: &Element,
    target: &Target,
    all_day: bool,
) -> Result<(), ConvertError> {
    let uid = cal.children[mi].text("UID");
    let mut deleted = Vec::new();
    let mut modified = Vec::new();
    for ex in exs.all(C::Exception) {
        let t = exception_instant(ex)?;
        if ex.child_text(C::Deleted).as_deref() == Some("1") {
            deleted.push(t);
        } else {
            modified.push((t, ex));
        }
    }
    // EXDATE: rewrite only when the set changed
    let snapshot = cal.clone();
    let current: Vec<NaiveDateTime> = snapshot.children[mi]
        .props_named("EXDATE")
        .flat_map(|p| {
            p.value
                .split(',')
                .filter_map(|v| {
                    let mut q = p.clone();
                    q.set_value(v);
                    read_when(&snapshot, &q, &target.zone).map(|w| {
                        if w.all_day {
                            target.zone.to_utc(w.local)
                        } else {
                            w.utc
                        }
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut want = deleted.clone();
    want.sort();
    let mut have = current.clone();
    have.sort();
    if want != have {
        let ev = &mut cal.children[mi];
        ev.remove("EXDATE");
        for t in &want {
            let p = if all_day {
                Prop::new("EXDATE", ical_date(target.zone.to_local(*t))).with_param("VALUE", "DATE")
            } else if let Some(id) = &target.tzid {
                Prop::new("EXDATE", ical_local(target.zone.to_local(*t))).with_param("TZID", id)
            } else {
                Prop::new("EXDATE", pim::compact_utc(*t))
            };
            ev.props.push(p);
        }
    }
    // overrides: drop those the client no longer lists
    let listed: Vec<NaiveDateTime> = modified.iter().map(|m| m.0).collect();
    let snapshot = cal.clone();
    let mut i = 0;
    while i < cal.children.len() {
        let c = &cal.children[i];
        let drop = c.name == "VEVENT"
            && c.text("UID") == uid
            && c.prop("RECURRENCE-ID")
                .and_then(|p| read_when(&snapshot, p, &target.zone))
                .is_some_and(|w| {
                    let t = if w.all_day {
                        target.zone.to_utc(w.local)
                    } else {
                        w.utc
                    };
                    !listed.contains(&t)
                });
        if drop {
            cal.children.remove(i);
        } else {
            i += 1;
        }
    }
    for (t, ex) in modified {
        upsert_override(cal, &uid, t, ex, target, all_day)?;
    }
    Ok(())
}

/// A new override of `master` for its occurrence at `t` (UTC): the master's properties
/// named in `keep` (every one but the recurrence and time lines when `keep` is None),
/// then RECURRENCE-ID, DTSTART and DTEND written as the master writes its times.
fn new_override(
    cal: &Component,
    master: &Component,
    keep: Option<&[&str]>,
    t: NaiveDateTime,
    target: &Target,
    all_day: bool,
) -> Component {
    const SERIES_ONLY: [&str; 8] = [
        "RRULE",
        "RDATE",
        "EXRULE",
        "EXDATE",
        "RECURRENCE-ID",
        "DTSTART",
        "DTEND",
        "DURATION",
    ];
    let mut ov = Component::new("VEVENT");
    match keep {
        Some(names) => {
            for name in names {
                for p in master.props_named(name) {
                    ov.props.push(p.clone());
                }
            }
        }
        None => {
            ov.props = master
                .props
                .iter()
                .filter(|p| !SERIES_ONLY.contains(&p.name.as_str()))
                .cloned()
                .collect();
            ov.children = master.children.clone();
        }
    }
    let ctx = Ctx {
        cal,
        opts: &CalendarOptions::new(ProtocolVersion::V16_1),
        dflt: target.zone.clone(),
    };
    let dur = span(&ctx, master).map_or(Duration::zero(), |(s, e)| e - s.utc);
    let rid = if all_day {
        Prop::new("RECURRENCE-ID", ical_date(target.zone.to_local(t))).with_param("VALUE", "DATE")
    } else if let Some(id) = &target.tzid {
        Prop::new("RECURRENCE-ID", ical_local(target.zone.to_local(t))).with_param("TZID", id)
    } else {
        Prop::new("RECURRENCE-ID", pim::compact_utc(t))
    };
    ov.props.push(rid);
    write_when(&mut ov, "DTSTART", t, all_day, target, cal);
    write_when(&mut ov, "DTEND", t + dur, all_day, target, cal);
    ov
}

fn upsert_override(
    cal: &mut Component,
    uid: &Option<String>,
    t: NaiveDateTime,
    ex: &Element,
    target: &Target,
    all_day: bool,
) -> Result<(), ConvertError> {
    let idx = match override_index(cal, uid, t, &target.zone) {
        Some(i) => i,
        None => {
            let mi = master_index(cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
            let keep = [
                "UID",
                "DTSTAMP",
                "SUMMARY",
                "LOCATION",
                "CLASS",
                "TRANSP",
                "ORGANIZER",
            ];
            let ov = new_override(cal, &cal.children[mi], Some(&keep), t, target, all_day);
            cal.children.push(ov);
            cal.children.len() - 1
        }
    };
    let snapshot = cal.clone();
    apply_common(&mut cal.children[idx], ex, target, &snapshot, false)
}

/// How the series at `mi` writes its times, and whether it is all-day.
fn series_start(
    cal: &Component,
    mi: usize,
    opts: &CalendarOptions,
) -> Result<(Target, bool), ConvertError> {
    let start = cal.children[mi]
        .prop("DTSTART")
        .cloned()
        .ok_or(ConvertError::Missing("DTSTART"))?;
    let w = read_when(cal, &start, &default_zone(opts)).ok_or(ConvertError::Missing("DTSTART"))?;
    let target = Target {
        tzid: start.param("TZID").map(str::to_string),
        zone: w.zone,
    };
    Ok((target, w.all_day))
}

/// One occurrence of a recurring event, its original start `instance` (UTC; an EAS
/// InstanceId), as a calendar of its own: the series' override for it when there is
/// one, else a copy of the master placed at that time (RECURRENCE-ID, DTSTART, DTEND,
/// no recurrence rules). The VTIMEZONEs and the calendar's properties but METHOD are
/// kept. `None` when the series has no occurrence starting then (an EXDATE, a time
/// off the rule, or no series at all).
pub fn occurrence(
    ics: &[u8],
    instance: NaiveDateTime,
    opts: &CalendarOptions,
) -> Result<Option<Vec<u8>>, ConvertError> {
    let cal = parse_cal(ics)?;
    let mi = master_index(&cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let (target, all_day) = series_start(&cal, mi, opts)?;
    let master = &cal.children[mi];
    let uid = master.text("UID");
    let event = match override_index(&cal, &uid, instance, &target.zone) {
        Some(i) => cal.children[i].clone(),
        None => {
            let mut series = Component::new("VCALENDAR");
            series.props = cal.props.clone();
            series.children = cal
                .children
                .iter()
                .filter(|c| c.name == "VTIMEZONE")
                .cloned()
                .chain(std::iter::once(master.clone()))
                .collect();
            if !series_has_occurrence(&series.to_text(), instance, all_day, &target.zone) {
                return Ok(None);
            }
            new_override(&cal, master, None, instance, &target, all_day)
        }
    };
    let mut out = Component::new("VCALENDAR");
    out.props = cal.props.clone();
    out.remove("METHOD");
    out.children = cal
        .children
        .iter()
        .filter(|c| c.name == "VTIMEZONE")
        .cloned()
        .chain(std::iter::once(event))
        .collect();
    Ok(Some(out.to_text().into_bytes()))
}

/// Whether the series (a calendar holding only its master) has an occurrence starting
/// at `instance` (UTC; for an all-day series, on that day in `zone`). Expanded by
/// calcard up to a bound; a series with no RRULE or RDATE has none.
fn series_has_occurrence(text: &str, instance: NaiveDateTime, all_day: bool, zone: &Zone) -> bool {
    if !text.contains("RRULE") && !text.contains("RDATE") {
        return false;
    }
    let Ok(cal) = calcard::icalendar::ICalendar::parse(text) else {
        return false;
    };
    const LIMIT: usize = 20_000;
    let Ok(expanded) =
        std::panic::catch_unwind(|| cal.expand_dates(calcard::common::timezone::Tz::UTC, LIMIT))
    else {
        return false;
    };
    let day = zone.to_local(instance).date();
    expanded.events.iter().any(|e| {
        if all_day {
            e.start.naive_local().date() == day
        } else {
            e.start.naive_utc() == instance
        }
    })
}

/// 16.x: a Change of one instance (`airsyncbase:InstanceId` beside the ServerId,
/// MS-ASAIRS 2.2.2.25): the fields of `data` become (or edit) the override of that
/// instance; the series is otherwise untouched.
pub fn eas_instance_change(
    data: &Element,
    instance_id: &str,
    existing: &[u8],
    opts: &CalendarOptions,
) -> Result<Vec<u8>, ConvertError> {
    let mut cal = parse_cal(existing)?;
    let mi = master_index(&cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let t = pim::parse_eas_datetime(instance_id).ok_or(ConvertError::BadValue("InstanceId"))?;
    let (target, all_day) = series_start(&cal, mi, opts)?;
    let uid = cal.children[mi].text("UID");
    upsert_override(&mut cal, &uid, t, data, &target, all_day)?;
    Ok(cal.to_text().into_bytes())
}

/// 16.x: a Delete of one instance: an EXDATE on the master, and its override goes.
pub fn eas_instance_delete(
    instance_id: &str,
    existing: &[u8],
    opts: &CalendarOptions,
) -> Result<Vec<u8>, ConvertError> {
    let mut cal = parse_cal(existing)?;
    let mi = master_index(&cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let t = pim::parse_eas_datetime(instance_id).ok_or(ConvertError::BadValue("InstanceId"))?;
    let (target, all_day) = series_start(&cal, mi, opts)?;
    let uid = cal.children[mi].text("UID");
    if let Some(i) = override_index(&cal, &uid, t, &target.zone) {
        cal.children.remove(i);
    }
    let mi = master_index(&cal, "VEVENT").ok_or(ConvertError::Missing("VEVENT"))?;
    let p = if all_day {
        Prop::new("EXDATE", ical_date(target.zone.to_local(t))).with_param("VALUE", "DATE")
    } else if let Some(id) = &target.tzid {
        Prop::new("EXDATE", ical_local(target.zone.to_local(t))).with_param("TZID", id)
    } else {
        Prop::new("EXDATE", pim::compact_utc(t))
    };
    cal.children[mi].props.push(p);
    Ok(cal.to_text().into_bytes())
}

pub mod meeting;

#[cfg(test)]
mod tests;
