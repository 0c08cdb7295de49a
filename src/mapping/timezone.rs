//! The EAS TimeZone blob (MS-ASDTYPE 2.7.6): a Windows TIME_ZONE_INFORMATION, 172
//! bytes little-endian, base64 in WBXML — and its conversion to and from IANA zones
//! (chrono-tz) and iCalendar VTIMEZONE components.
//!
//! # Model
//!
//! `Bias` is minutes *west* of UTC (UTC = local + Bias); standard time is
//! `Bias + StandardBias`, daylight time `Bias + DaylightBias`. `StandardDate` is when
//! daylight time ends, in local daylight time; `DaylightDate` when it starts, in local
//! standard time. With `wYear` 0 a date is a rule: month, day of week (0 = Sunday),
//! and `wDay` the week of the month, 1–5 where 5 is the last. `wMonth` 0 in both dates
//! means no daylight time. A non-zero `wYear` is an absolute date; we read its month
//! and day in whatever year is asked.
//!
//! # Zone → blob ([`blob_for_zone`])
//!
//! A blob holds one yearly rule, a zone's rules change over the years; the blob
//! describes the rules *in force in the year asked*: the zone's offset changes in that
//! (UTC) year are found by scanning chrono-tz, then:
//! * none: a blob without daylight time;
//! * two or more (the first and last are used — Morocco's Ramadan suspension in the
//!   2010s had four): the offset in force between them is daylight time unless tzdb
//!   says the *outside* one is (southern hemisphere; Dublin's and Casablanca's negative
//!   DST); if tzdb marks neither, the smaller offset is standard;
//! * one (a permanent change, e.g. Moscow 2011 and 2014): the offset at the end of the
//!   year is standard, the old one "daylight" from 1 January 00:00 until the change —
//!   the trick Windows' own dynamic-DST data uses for such years.
//!
//! A transition date is written as "n-th weekday of the month" (week 5 when it is the
//! last such weekday of the month), which reproduces that year's instants exactly.
//! StandardName is the zone's Windows name (CLDR windowsZones via
//! `windows-timezones`), else its IANA name; DaylightName the same with "Daylight".
//!
//! # Blob → zone ([`zone_for_blob`])
//!
//! Every IANA zone is compared with the blob over the year asked: first its offset at
//! four instants, then its list of offset changes (instant and new offset) against
//! the blob's. The zone whose changes coincide (sum of differences, at most a day per
//! change, for blobs whose hours were rounded) wins; among equals the one named by
//! the blob (IANA name in StandardName, then the CLDR primary zone of the Windows
//! name, then any zone with that Windows name, then any Windows primary zone, then a
//! non-legacy name, alphabetically).

use base64::Engine as _;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Weekday};
use chrono_tz::{OffsetComponents, Tz};
use windows_timezones::WindowsTimezone;

use super::ical::{Component, Prop};

/// A Windows SYSTEMTIME (MS-DTYP 2.3.13), as used in the TimeZone blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SystemTime {
    pub year: u16,
    pub month: u16,
    /// 0 = Sunday … 6 = Saturday.
    pub day_of_week: u16,
    /// Relative dates: week of the month 1–5 (5 = last). Absolute: day of the month.
    pub day: u16,
    pub hour: u16,
    pub minute: u16,
    pub second: u16,
    pub milliseconds: u16,
}

impl SystemTime {
    fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.year,
            self.month,
            self.day_of_week,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.milliseconds,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn decode(b: &[u8]) -> SystemTime {
        let w = |i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
        SystemTime {
            year: w(0),
            month: w(1),
            day_of_week: w(2),
            day: w(3),
            hour: w(4),
            minute: w(5),
            second: w(6),
            milliseconds: w(7),
        }
    }

    /// The rule "n-th weekday of the month at this time" that hits `local`.
    fn rule_for(local: NaiveDateTime) -> SystemTime {
        let d = local.date();
        let week = if u32::from(days_in_month(d.year(), d.month())) < d.day() + 7 {
            5
        } else {
            (d.day() - 1) / 7 + 1
        };
        SystemTime {
            year: 0,
            month: d.month() as u16,
            day_of_week: d.weekday().num_days_from_sunday() as u16,
            day: week as u16,
            hour: local.hour() as u16,
            minute: local.minute() as u16,
            second: local.second() as u16,
            milliseconds: 0,
        }
    }

    /// The local date and time this rule gives in `year`.
    fn in_year(&self, year: i32) -> Option<NaiveDateTime> {
        if !(1..=12).contains(&self.month) {
            return None;
        }
        let month = u32::from(self.month);
        let dim = u32::from(days_in_month(year, month));
        let day = if self.year != 0 {
            u32::from(self.day).clamp(1, dim)
        } else {
            let first = NaiveDate::from_ymd_opt(year, month, 1)?;
            let want = u32::from(self.day_of_week % 7);
            let off = (want + 7 - first.weekday().num_days_from_sunday()) % 7;
            let mut day = 1 + off + 7 * (u32::from(self.day.clamp(1, 5)) - 1);
            while day > dim {
                day -= 7;
            }
            day
        };
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        Some(
            date.and_hms_opt(0, 0, 0)?
                + Duration::hours(i64::from(self.hour.min(24)))
                + Duration::minutes(i64::from(self.minute.min(59)))
                + Duration::seconds(i64::from(self.second.min(59)))
                + Duration::milliseconds(i64::from(self.milliseconds.min(999))),
        )
    }
}

fn days_in_month(year: i32, month: u32) -> u8 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|n| n.pred_opt())
        .map_or(31, |d| d.day() as u8)
}

/// MS-ASDTYPE 2.7.6 TimeZone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EasTimeZone {
    /// Minutes west of UTC (UTC = local + bias).
    pub bias: i32,
    pub standard_name: String,
    pub standard_date: SystemTime,
    pub standard_bias: i32,
    pub daylight_name: String,
    pub daylight_date: SystemTime,
    pub daylight_bias: i32,
}

/// Size of the encoded structure.
pub const BLOB_LEN: usize = 172;

/// One change of a zone's UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    utc: NaiveDateTime,
    /// Offsets east of UTC, minutes.
    before: i32,
    after: i32,
    before_dst: bool,
    after_dst: bool,
}

fn name_utf16(name: &str, out: &mut Vec<u8>) {
    let mut units: Vec<u16> = name.encode_utf16().take(31).collect();
    // never end on a lone high surrogate
    if units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        units.pop();
    }
    units.resize(32, 0);
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

fn name_from_utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

impl EasTimeZone {
    /// UTC without daylight time.
    pub fn utc() -> EasTimeZone {
        EasTimeZone {
            standard_name: "UTC".into(),
            daylight_name: "UTC".into(),
            ..EasTimeZone::default()
        }
    }

    pub fn encode(&self) -> [u8; BLOB_LEN] {
        let mut v = Vec::with_capacity(BLOB_LEN);
        v.extend_from_slice(&self.bias.to_le_bytes());
        name_utf16(&self.standard_name, &mut v);
        self.standard_date.encode(&mut v);
        v.extend_from_slice(&self.standard_bias.to_le_bytes());
        name_utf16(&self.daylight_name, &mut v);
        self.daylight_date.encode(&mut v);
        v.extend_from_slice(&self.daylight_bias.to_le_bytes());
        let mut out = [0u8; BLOB_LEN];
        out.copy_from_slice(&v);
        out
    }

    /// None unless exactly 172 bytes with plausible biases (±24 h).
    pub fn decode(b: &[u8]) -> Option<EasTimeZone> {
        if b.len() != BLOB_LEN {
            return None;
        }
        let long = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let tz = EasTimeZone {
            bias: long(0),
            standard_name: name_from_utf16(&b[4..68]),
            standard_date: SystemTime::decode(&b[68..84]),
            standard_bias: long(84),
            daylight_name: name_from_utf16(&b[88..152]),
            daylight_date: SystemTime::decode(&b[152..168]),
            daylight_bias: long(168),
        };
        let ok = |m: i32| (-24 * 60..=24 * 60).contains(&m);
        (ok(tz.bias) && ok(tz.standard_bias) && ok(tz.daylight_bias)).then_some(tz)
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.encode())
    }

    /// Accepts padded or unpadded base64, with whitespace.
    pub fn from_base64(s: &str) -> Option<EasTimeZone> {
        let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(clean.as_bytes())
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(clean.trim_end_matches('=').as_bytes())
            })
            .ok()?;
        EasTimeZone::decode(&bytes)
    }

    pub fn has_dst(&self) -> bool {
        self.standard_date.month != 0
            && self.daylight_date.month != 0
            && self.daylight_bias != self.standard_bias
    }

    /// Standard time, minutes east of UTC.
    pub fn standard_offset(&self) -> i32 {
        -(self.bias + self.standard_bias)
    }

    /// Daylight time, minutes east of UTC.
    pub fn daylight_offset(&self) -> i32 {
        -(self.bias + self.daylight_bias)
    }

    /// (daylight start, daylight end) in UTC for `year`.
    fn dst_bounds(&self, year: i32) -> Option<(NaiveDateTime, NaiveDateTime)> {
        if !self.has_dst() {
            return None;
        }
        let start = self.daylight_date.in_year(year)?
            - Duration::minutes(i64::from(self.standard_offset()));
        let end = self.standard_date.in_year(year)?
            - Duration::minutes(i64::from(self.daylight_offset()));
        Some((start, end))
    }

    /// Whether `utc` falls in daylight time.
    fn is_dst_at(&self, utc: NaiveDateTime) -> bool {
        // the local year decides which year's rule applies
        let local_year = (utc + Duration::minutes(i64::from(self.standard_offset()))).year();
        match self.dst_bounds(local_year) {
            None => false,
            Some((start, end)) if start < end => start <= utc && utc < end,
            Some((start, end)) => !(end <= utc && utc < start),
        }
    }

    /// Offset east of UTC in minutes at `utc`.
    pub fn offset_at_utc(&self, utc: NaiveDateTime) -> i32 {
        if self.is_dst_at(utc) {
            self.daylight_offset()
        } else {
            self.standard_offset()
        }
    }

    pub fn utc_to_local(&self, utc: NaiveDateTime) -> NaiveDateTime {
        utc + Duration::minutes(i64::from(self.offset_at_utc(utc)))
    }

    /// The UTC instant of a local time: standard time when that reading is consistent,
    /// else daylight time (a time in the spring gap moves forward, the autumn overlap
    /// takes the first, daylight, reading when both are consistent).
    pub fn local_to_utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        let as_dst = local - Duration::minutes(i64::from(self.daylight_offset()));
        if self.has_dst() && self.offset_at_utc(as_dst) == self.daylight_offset() {
            return as_dst;
        }
        let as_std = local - Duration::minutes(i64::from(self.standard_offset()));
        if self.offset_at_utc(as_std) == self.standard_offset() {
            as_std
        } else {
            as_dst
        }
    }

    /// Offset changes inside the matching window of the year, in order.
    fn transitions(&self, year: i32) -> Vec<(NaiveDateTime, i32)> {
        let (from, to) = match_window(year);
        let mut out = Vec::new();
        for y in [year - 1, year, year + 1] {
            if let Some((start, end)) = self.dst_bounds(y) {
                out.push((start, self.daylight_offset()));
                out.push((end, self.standard_offset()));
            }
        }
        out.retain(|(t, _)| *t >= from && *t < to);
        out.sort();
        // drop changes that do not change the offset (a rule hitting the same instant)
        let mut cur = self.offset_at_utc(from);
        out.retain(|(t, _)| {
            let after = self.offset_at_utc(*t);
            let keep = after != cur;
            cur = after;
            keep
        });
        out.iter()
            .map(|(t, _)| (*t, self.offset_at_utc(*t)))
            .collect()
    }
}

fn year_window(year: i32) -> (NaiveDateTime, NaiveDateTime) {
    let d = |y| {
        NaiveDate::from_ymd_opt(y, 1, 1)
            .unwrap_or_default()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
    };
    (d(year), d(year + 1))
}

/// The part of a year two zones are compared on: the UTC year less a day at each end,
/// where a one-year rule cannot say what happens on the far side of the local new year
/// (a permanent change's "daylight from 1 January 00:00 local" starts after UTC
/// midnight west of Greenwich).
fn match_window(year: i32) -> (NaiveDateTime, NaiveDateTime) {
    let (from, to) = year_window(year);
    (from + Duration::days(1), to - Duration::days(1))
}

fn zone_offset(tz: Tz, utc: NaiveDateTime) -> (i32, bool) {
    let off = tz.offset_from_utc_datetime(&utc);
    (
        off.fix().local_minus_utc() / 60,
        !off.dst_offset().is_zero(),
    )
}

/// The offset changes of `tz` in the UTC year, to the minute.
fn zone_transitions(tz: Tz, year: i32) -> Vec<Transition> {
    let (from, to) = year_window(year);
    let mut out = Vec::new();
    let mut t = from;
    let mut cur = zone_offset(tz, t);
    while t < to {
        let next = (t + Duration::days(1)).min(to);
        let n = zone_offset(tz, next);
        if n.0 != cur.0 {
            // binary search the minute of the change in (t, next]
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::minutes(1) {
                let mid = lo + (hi - lo) / 2;
                let mid = mid.with_second(0).unwrap_or(mid);
                if zone_offset(tz, mid).0 == cur.0 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(Transition {
                utc: hi,
                before: cur.0,
                after: n.0,
                before_dst: cur.1,
                after_dst: n.1,
            });
        }
        cur = n;
        t = next;
    }
    out
}

fn blob_from_transitions(
    year: i32,
    start_offset: i32,
    trans: &[Transition],
    std_name: String,
    dl_name: String,
) -> EasTimeZone {
    let local = |t: &Transition| t.utc + Duration::minutes(i64::from(t.before));
    let mut tz = EasTimeZone {
        standard_name: std_name,
        daylight_name: dl_name,
        ..EasTimeZone::default()
    };
    match trans {
        [] => tz.bias = -start_offset,
        [t] => {
            tz.bias = -t.after;
            tz.daylight_bias = t.after - t.before;
            let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .unwrap_or_default();
            tz.daylight_date = SystemTime::rule_for(jan1);
            tz.standard_date = SystemTime::rule_for(local(t));
        }
        [t1, .., t2] => {
            let outside = t1.before;
            let inside = t1.after;
            let std_is_outside = if t1.before_dst != t1.after_dst {
                !t1.before_dst
            } else {
                outside <= inside
            };
            if std_is_outside {
                tz.bias = -outside;
                tz.daylight_bias = outside - inside;
                tz.daylight_date = SystemTime::rule_for(local(t1));
                tz.standard_date = SystemTime::rule_for(local(t2));
            } else {
                tz.bias = -inside;
                tz.daylight_bias = inside - outside;
                tz.standard_date = SystemTime::rule_for(local(t1));
                tz.daylight_date = SystemTime::rule_for(local(t2));
            }
        }
    }
    tz
}

/// The Windows name of an IANA zone, if CLDR maps it.
pub fn windows_name(tz: Tz) -> Option<&'static str> {
    WindowsTimezone::try_from(tz).ok().map(|w| w.name())
}

fn daylight_name_for(name: &str) -> String {
    if name.contains("Standard") {
        name.replacen("Standard", "Daylight", 1)
    } else {
        name.to_string()
    }
}

/// The blob for `tz` with the rules in force in `year` (see the module docs).
pub fn blob_for_zone(tz: Tz, year: i32) -> EasTimeZone {
    let (from, _) = year_window(year);
    let trans = zone_transitions(tz, year);
    let name = windows_name(tz).unwrap_or(tz.name()).to_string();
    let dl = daylight_name_for(&name);
    blob_from_transitions(year, zone_offset(tz, from).0, &trans, name, dl)
}

/// Resolves an iCalendar TZID or a Windows zone name to an IANA zone: an IANA name
/// (also at the end of a path such as `/freeassociation.sourceforge.net/Europe/Berlin`),
/// a Windows name, or Outlook's `(UTC+01:00) Amsterdam, Berlin, …` description.
pub fn resolve_zone_name(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"');
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    if let Ok(w) = name.parse::<WindowsTimezone>() {
        return Some(w.into());
    }
    // path suffixes: a/b/Europe/Berlin → Europe/Berlin, Berlin
    let parts: Vec<&str> = name.split('/').collect();
    for i in 1..parts.len() {
        if let Ok(tz) = parts[i..].join("/").parse::<Tz>() {
            return Some(tz);
        }
    }
    None
}

fn is_windows_primary(tz: Tz) -> bool {
    WindowsTimezone::try_from(tz)
        .ok()
        .is_some_and(|w| Tz::from(w) == tz)
}

/// The IANA zone that behaves like `blob` in `year` (see the module docs); None when no
/// zone has the same offsets and changes.
pub fn zone_for_blob(blob: &EasTimeZone, year: i32) -> Option<Tz> {
    let (from, to) = match_window(year);
    let samples: Vec<NaiveDateTime> = (0..4)
        .map(|q| from + (to - from) / 8 * (2 * q + 1))
        .collect();
    let blob_offsets: Vec<i32> = samples.iter().map(|s| blob.offset_at_utc(*s)).collect();
    let blob_trans = blob.transitions(year);
    let start = blob.offset_at_utc(from);
    let wanted_windows: Option<Tz> = blob
        .standard_name
        .parse::<WindowsTimezone>()
        .ok()
        .map(Tz::from);

    let mut best: Option<(i64, u8, &'static str, Tz)> = None;
    for &tz in chrono_tz::TZ_VARIANTS.iter() {
        if samples
            .iter()
            .zip(&blob_offsets)
            .any(|(s, o)| zone_offset(tz, *s).0 != *o)
            || zone_offset(tz, from).0 != start
        {
            continue;
        }
        let mut zt = zone_transitions(tz, year);
        zt.retain(|t| t.utc >= from && t.utc < to);
        if zt.len() != blob_trans.len() {
            continue;
        }
        let mut score = 0i64;
        let mut ok = true;
        for (z, (bt, bo)) in zt.iter().zip(&blob_trans) {
            let d = (z.utc - *bt).num_minutes().abs();
            if z.after != *bo || d > 24 * 60 {
                ok = false;
                break;
            }
            score += d;
        }
        if !ok {
            continue;
        }
        let name = tz.name();
        let rank = if name == blob.standard_name {
            0
        } else if Some(tz) == wanted_windows {
            1
        } else if windows_name(tz).is_some_and(|w| w == blob.standard_name)
            || (blob_trans.is_empty() && start == 0 && name == "Etc/UTC")
        {
            2
        } else if is_windows_primary(tz) {
            3
        } else if name.contains('/')
            && ![
                "Etc/", "SystemV/", "US/", "Canada/", "Brazil/", "Chile/", "Mexico/",
            ]
            .iter()
            .any(|p| name.starts_with(p))
        {
            4
        } else {
            5
        };
        let cand = (score, rank, name, tz);
        if best
            .as_ref()
            .is_none_or(|b| (cand.0, cand.1, cand.2) < (b.0, b.1, b.2))
        {
            best = Some(cand);
        }
    }
    best.map(|b| b.3)
}

/// Offset `±HHMM[SS]` → minutes east of UTC.
fn parse_utc_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    if !(rest.len() == 4 || rest.len() == 6) || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = rest[0..2].parse().ok()?;
    let m: i32 = rest[2..4].parse().ok()?;
    Some(sign * (h * 60 + m))
}

fn format_utc_offset(min: i32) -> String {
    let sign = if min < 0 { '-' } else { '+' };
    format!("{sign}{:02}{:02}", min.abs() / 60, min.abs() % 60)
}

/// `YYYYMMDDTHHMMSS` (a trailing Z or none) → naive date-time.
pub(crate) fn parse_local(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches(['Z', 'z']);
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y%m%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

fn weekday_code(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_uppercase().as_str() {
        "SU" => Weekday::Sun,
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        _ => return None,
    })
}

/// Onsets (local wall time) of a yearly VTIMEZONE RRULE in `year`.
fn rrule_onset(rule: &str, start: NaiveDateTime, year: i32) -> Option<NaiveDateTime> {
    let mut month = start.month();
    let mut byday: Option<(i32, Weekday)> = None;
    let mut monthdays: Vec<i32> = Vec::new();
    let mut until: Option<NaiveDateTime> = None;
    let mut count: Option<i32> = None;
    for part in rule.split(';') {
        let (k, v) = part.split_once('=')?;
        match k.trim().to_ascii_uppercase().as_str() {
            "FREQ" if !v.eq_ignore_ascii_case("YEARLY") => return None,
            "BYMONTH" => month = v.split(',').next()?.trim().parse().ok()?,
            "BYDAY" => {
                let v = v.split(',').next()?.trim();
                let split = v.len().checked_sub(2)?;
                let (n, d) = v.split_at(split);
                let n = if n.is_empty() { 0 } else { n.parse().ok()? };
                byday = Some((n, weekday_code(d)?));
            }
            "BYMONTHDAY" => {
                monthdays = v.split(',').filter_map(|x| x.trim().parse().ok()).collect()
            }
            "UNTIL" => until = parse_local(v),
            "COUNT" => count = v.parse().ok(),
            _ => {}
        }
    }
    if year < start.year() || count.is_some_and(|c| year - start.year() >= c) {
        return None;
    }
    let dim = i32::from(days_in_month(year, month));
    let day = match (byday, monthdays.is_empty()) {
        (Some((n, wd)), true) => {
            let days: Vec<i32> = (1..=dim)
                .filter(|&d| {
                    NaiveDate::from_ymd_opt(year, month, d as u32)
                        .is_some_and(|x| x.weekday() == wd)
                })
                .collect();
            match n {
                0 => *days.first()?,
                n if n > 0 => *days.get(n as usize - 1)?,
                n => *days.get(days.len().checked_sub(n.unsigned_abs() as usize)?)?,
            }
        }
        (Some((_, wd)), false) => *monthdays.iter().find(|&&d| {
            let d = if d < 0 { dim + 1 + d } else { d };
            NaiveDate::from_ymd_opt(year, month, d.max(1) as u32).is_some_and(|x| x.weekday() == wd)
        })?,
        (None, false) => {
            let d = monthdays[0];
            if d < 0 { dim + 1 + d } else { d }
        }
        (None, true) => start.day() as i32,
    };
    let onset =
        NaiveDate::from_ymd_opt(year, month, u32::try_from(day).ok()?)?.and_time(start.time());
    if until.is_some_and(|u| onset > u + Duration::days(1)) {
        return None;
    }
    Some(onset)
}

/// The blob for a VTIMEZONE component (or a VCALENDAR holding one), with the rules in
/// force in `year`: STANDARD and DAYLIGHT observances with DTSTART, TZOFFSETFROM,
/// TZOFFSETTO and a yearly RRULE (BYMONTH with BYDAY `2SU` / `-1SU`, or BYMONTHDAY)
/// or RDATEs. StandardName is the TZID. None when the component has no usable
/// observance.
pub fn blob_from_vtimezone(vtimezone: &[u8], year: i32) -> Option<EasTimeZone> {
    let c = super::ical::parse(vtimezone)?;
    let vtz = if c.name == "VTIMEZONE" {
        &c
    } else {
        c.children_named("VTIMEZONE").next()?
    };
    blob_from_vtimezone_component(vtz, year)
}

pub(crate) fn blob_from_vtimezone_component(vtz: &Component, year: i32) -> Option<EasTimeZone> {
    // (utc, from, to, is_dst) of every onset in the years around `year`
    let mut onsets: Vec<(NaiveDateTime, i32, i32, bool)> = Vec::new();
    for obs in &vtz.children {
        let is_dst = match obs.name.as_str() {
            "DAYLIGHT" => true,
            "STANDARD" => false,
            _ => continue,
        };
        let Some(start) = obs.prop("DTSTART").and_then(|p| parse_local(&p.value)) else {
            continue;
        };
        let Some(to) = obs
            .prop("TZOFFSETTO")
            .and_then(|p| parse_utc_offset(&p.value))
        else {
            continue;
        };
        let from = obs
            .prop("TZOFFSETFROM")
            .and_then(|p| parse_utc_offset(&p.value))
            .unwrap_or(to);
        let mut locals = vec![start];
        if let Some(rule) = obs.prop("RRULE") {
            for y in (year - 1)..=(year + 1) {
                if let Some(o) = rrule_onset(&rule.value, start, y) {
                    locals.push(o);
                }
            }
        }
        for rd in obs.props_named("RDATE") {
            locals.extend(rd.value.split(',').filter_map(parse_local));
        }
        for l in locals {
            onsets.push((l - Duration::minutes(i64::from(from)), from, to, is_dst));
        }
    }
    if onsets.is_empty() {
        return None;
    }
    onsets.sort();
    onsets.dedup();
    let (win_from, win_to) = year_window(year);
    let before: Vec<_> = onsets.iter().filter(|o| o.0 < win_from).collect();
    let (mut cur, mut cur_dst) = match before.last() {
        Some(o) => (o.2, o.3),
        None => (onsets[0].1, false),
    };
    let start_offset = cur;
    let mut trans = Vec::new();
    for o in onsets.iter().filter(|o| o.0 >= win_from && o.0 < win_to) {
        if o.2 != cur {
            trans.push(Transition {
                utc: o.0,
                before: cur,
                after: o.2,
                before_dst: cur_dst,
                after_dst: o.3,
            });
        }
        cur = o.2;
        cur_dst = o.3;
    }
    let tzid = vtz.text("TZID").unwrap_or_default();
    let name = match resolve_zone_name(&tzid).and_then(windows_name) {
        Some(w) => w.to_string(),
        None => tzid,
    };
    let dl = daylight_name_for(&name);
    Some(blob_from_transitions(year, start_offset, &trans, name, dl))
}

/// A VTIMEZONE for the IANA zone `tz` listing its offset changes in
/// `from_year..=to_year` as one observance each (exact for every zone, whatever its
/// rule history), or one STANDARD observance for a zone without changes.
pub fn vtimezone_for_zone(tz: Tz, from_year: i32, to_year: i32) -> Component {
    let mut c = Component::new("VTIMEZONE");
    c.props.push(Prop::text("TZID", tz.name()));
    let mut any = false;
    for y in from_year..=to_year {
        for t in zone_transitions(tz, y) {
            any = true;
            let mut o = Component::new(if t.after_dst { "DAYLIGHT" } else { "STANDARD" });
            let local = t.utc + Duration::minutes(i64::from(t.before));
            o.props.push(Prop::new(
                "DTSTART",
                local.format("%Y%m%dT%H%M%S").to_string(),
            ));
            o.props
                .push(Prop::new("TZOFFSETFROM", format_utc_offset(t.before)));
            o.props
                .push(Prop::new("TZOFFSETTO", format_utc_offset(t.after)));
            c.children.push(o);
        }
    }
    if !any {
        let (from, _) = year_window(from_year);
        let off = format_utc_offset(zone_offset(tz, from).0);
        let mut o = Component::new("STANDARD");
        o.props.push(Prop::new("DTSTART", "19700101T000000"));
        o.props.push(Prop::new("TZOFFSETFROM", off.clone()));
        o.props.push(Prop::new("TZOFFSETTO", off));
        c.children.push(o);
    }
    c
}

/// A VTIMEZONE describing `blob` itself (yearly rules), for a blob no IANA zone
/// matches.
pub fn vtimezone_from_blob(tzid: &str, blob: &EasTimeZone) -> Component {
    let mut c = Component::new("VTIMEZONE");
    c.props.push(Prop::text("TZID", tzid));
    let std = format_utc_offset(blob.standard_offset());
    let dl = format_utc_offset(blob.daylight_offset());
    let obs = |name: &str, st: &SystemTime, from: &str, to: &str| {
        let mut o = Component::new(name);
        let start = st
            .in_year(1970)
            .unwrap_or_default()
            .format("%Y%m%dT%H%M%S")
            .to_string();
        o.props.push(Prop::new("DTSTART", start));
        let rule = if st.year != 0 {
            format!("FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}", st.month, st.day)
        } else {
            let n = if st.day >= 5 { -1 } else { i32::from(st.day) };
            let wd = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"][usize::from(st.day_of_week % 7)];
            format!("FREQ=YEARLY;BYMONTH={};BYDAY={n}{wd}", st.month)
        };
        o.props.push(Prop::new("RRULE", rule));
        o.props.push(Prop::new("TZOFFSETFROM", from.to_string()));
        o.props.push(Prop::new("TZOFFSETTO", to.to_string()));
        o
    };
    if blob.has_dst() {
        c.children
            .push(obs("STANDARD", &blob.standard_date, &dl, &std));
        c.children
            .push(obs("DAYLIGHT", &blob.daylight_date, &std, &dl));
    } else {
        let mut o = Component::new("STANDARD");
        o.props.push(Prop::new("DTSTART", "19700101T000000"));
        o.props.push(Prop::new("TZOFFSETFROM", std.clone()));
        o.props.push(Prop::new("TZOFFSETTO", std));
        c.children.push(o);
    }
    c
}

#[cfg(test)]
mod tests;
