//! What the calendar, contact and task conversions share: the error type, the
//! AirSyncBase:Body of a PIM item (MS-ASAIRS 2.2.2.9, same rules as mail's
//! [`body`](super::email::body): first usable BodyPreference, TruncationSize in UTF-8
//! bytes, AllOrNone, Preview from 14.0), EAS date formats, and the recurrence pattern
//! shared by MS-ASCAL 2.2.2.39 and MS-ASTASK 2.2.2.21 ⇄ RRULE.

use chrono::{Datelike, NaiveDateTime, Weekday};

use super::email::body::{html_cut, html_to_text, preview, text_to_html, utf8_cut};
use crate::eas::ProtocolVersion;
use crate::eas::sync::BodyPreference;
use crate::wbxml::pages::AirSyncBase;
use crate::wbxml::{Element, Tag};

/// Input that cannot be converted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("not a valid {0} object")]
    Invalid(&'static str),
    #[error("the object has no {0}")]
    Missing(&'static str),
    #[error("bad value for {0}")]
    BadValue(&'static str),
}

/// The Body element of a PIM item from its plain and (optional) HTML text.
pub fn body_element(
    plain: &str,
    html: Option<&str>,
    prefs: &[BodyPreference],
    version: ProtocolVersion,
) -> Element {
    let pref = prefs.iter().find(|p| matches!(p.body_type, 1 | 2));
    let body_type = pref.map_or(1, |p| p.body_type);
    let full = if body_type == 2 {
        html.map_or_else(|| text_to_html(plain), str::to_string)
    } else {
        plain.to_string()
    };
    let full = full.replace('\0', "");
    let limit = pref.and_then(|p| p.truncation_size).map(|n| n as usize);
    let cut = match limit {
        Some(n) if n < full.len() => Some(if body_type == 2 {
            html_cut(&full, n)
        } else {
            utf8_cut(&full, n)
        }),
        _ => None,
    };
    let mut el =
        Element::new(AirSyncBase::Body).text_child(AirSyncBase::Type, body_type.to_string());
    el.push(Element::with_text(
        AirSyncBase::EstimatedDataSize,
        full.len().to_string(),
    ));
    if cut.is_some() {
        el.push(Element::with_text(AirSyncBase::Truncated, "1"));
    }
    match cut {
        Some(_) if pref.is_some_and(|p| p.all_or_none) => {}
        Some(n) => el.push(Element::with_text(AirSyncBase::Data, &full[..n])),
        None => el.push(Element::with_text(AirSyncBase::Data, full)),
    }
    if version >= ProtocolVersion::V14_0
        && let Some(n) = pref.and_then(|p| p.preview)
    {
        el.push(Element::with_text(AirSyncBase::Preview, preview(plain, n)));
    }
    el
}

/// A client's Body → (plain text, HTML if it sent HTML). None when the Body has no
/// Data (or is truncated: a truncated body must not overwrite the full one).
pub fn body_from_element(body: &Element) -> Option<(String, Option<String>)> {
    if body.child_text(AirSyncBase::Truncated).as_deref() == Some("1") {
        return None;
    }
    let data = body
        .child_text(AirSyncBase::Data)
        .unwrap_or_default()
        .to_string();
    match body.child_text(AirSyncBase::Type).as_deref() {
        Some("2") => Some((html_to_text(&data), Some(data))),
        _ => Some((data.replace("\r\n", "\n"), None)),
    }
}

/// The HTML description of an iCalendar component (`X-ALT-DESC;FMTTYPE=text/html`, as
/// Outlook and Exchange write it), beside its plain DESCRIPTION.
pub fn html_description(c: &super::ical::Component) -> Option<String> {
    c.props_named("X-ALT-DESC")
        .find(|p| {
            p.param("FMTTYPE")
                .is_some_and(|f| f.eq_ignore_ascii_case("text/html"))
        })
        .map(super::ical::Prop::text_value)
}

/// Writes a client's Body into an iCalendar component: the plain text as DESCRIPTION
/// and, when the client sent HTML, the HTML as X-ALT-DESC so that its markup survives.
/// No Body, or a truncated one, keeps what is there.
pub fn set_description(c: &mut super::ical::Component, data: &Element) {
    if let Some((plain, html)) = data.first(AirSyncBase::Body).and_then(body_from_element) {
        c.set_text("DESCRIPTION", Some(&plain));
        match html {
            Some(h) => {
                c.set(super::ical::Prop::text("X-ALT-DESC", &h).with_param("FMTTYPE", "text/html"))
            }
            None => c.remove("X-ALT-DESC"),
        }
    }
}

/// Writes the plain text of a client's Body into the TEXT property `name` (a card's
/// NOTE). No Body, or a truncated one, keeps what is there.
pub fn set_body_text(c: &mut super::ical::Component, data: &Element, name: &str) {
    if let Some((plain, _)) = data.first(AirSyncBase::Body).and_then(body_from_element) {
        c.set_text(name, Some(&plain));
    }
}

/// A fresh UID for an object a client created (`<128 random bits>@airsync`).
pub fn new_uid() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    format!(
        "{:016x}{:016x}@airsync",
        rng.r#gen::<u64>(),
        rng.r#gen::<u64>()
    )
}

/// MS-ASDTYPE 2.3 compact date-time `20261126T100000Z`.
pub fn compact_utc(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `2026-11-26T10:00:00.000Z` (MS-ASDTYPE 2.3, the form Tasks and Contacts use).
pub fn long_utc(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Reads either EAS date-time form (compact or long, Z optional).
pub fn parse_eas_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches(['Z', 'z']);
    for f in [
        "%Y%m%dT%H%M%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y%m%dT%H%M%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| chrono::NaiveDate::parse_from_str(s, "%Y%m%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// CLASS ⇄ Sensitivity (MS-ASCAL 2.2.2.41): 0 normal, 1 personal, 2 private,
/// 3 confidential. "Personal" has no iCalendar twin: `X-PERSONAL` (an x-name class).
pub fn sensitivity_from_class(class: Option<&str>) -> u8 {
    match class.map(str::to_ascii_uppercase).as_deref() {
        Some("PRIVATE") => 2,
        Some("CONFIDENTIAL") => 3,
        Some("X-PERSONAL") => 1,
        _ => 0,
    }
}

pub fn class_for_sensitivity(s: u8) -> &'static str {
    match s {
        1 => "X-PERSONAL",
        2 => "PRIVATE",
        3 => "CONFIDENTIAL",
        _ => "PUBLIC",
    }
}

const DAYS: [(Weekday, &str, u8); 7] = [
    (Weekday::Sun, "SU", 1),
    (Weekday::Mon, "MO", 2),
    (Weekday::Tue, "TU", 4),
    (Weekday::Wed, "WE", 8),
    (Weekday::Thu, "TH", 16),
    (Weekday::Fri, "FR", 32),
    (Weekday::Sat, "SA", 64),
];

fn day_bit(code: &str) -> Option<u8> {
    DAYS.iter()
        .find(|d| d.1.eq_ignore_ascii_case(code))
        .map(|d| d.2)
}

fn weekday_bit(w: Weekday) -> u8 {
    DAYS.iter().find(|d| d.0 == w).map_or(0, |d| d.2)
}

fn mask_days(mask: u8) -> Vec<&'static str> {
    DAYS.iter()
        .filter(|d| mask & d.2 != 0)
        .map(|d| d.1)
        .collect()
}

/// MS-ASCAL CalendarType ⇄ RFC 7529 RSCALE, for the calendars both name.
const RSCALES: [(u8, &str); 7] = [
    (1, "GREGORIAN"),
    (3, "JAPANESE"),
    (6, "ISLAMIC-CIVIL"),
    (7, "BUDDHIST"),
    (8, "HEBREW"),
    (15, "CHINESE"),
    (20, "DANGI"),
];

/// An EAS recurrence pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recurrence {
    /// 0 daily, 1 weekly, 2 monthly, 3 monthly on the n-th day, 5 yearly, 6 yearly on
    /// the n-th day.
    pub kind: u8,
    pub interval: Option<u32>,
    /// UTC.
    pub until: Option<NaiveDateTime>,
    pub occurrences: Option<u32>,
    pub day_of_week: Option<u8>,
    pub day_of_month: Option<u8>,
    /// 1–5, 5 = last.
    pub week_of_month: Option<u8>,
    pub month_of_year: Option<u8>,
    /// 0 = Sunday.
    pub first_day_of_week: Option<u8>,
    pub calendar_type: Option<u8>,
    pub is_leap_month: bool,
}

impl Recurrence {
    /// RRULE → pattern; `start` is DTSTART in local time (for the implied day, month
    /// and weekday); `until_utc` converts a floating/date UNTIL to UTC. None for rules
    /// EAS cannot express (HOURLY, BYHOUR, several months…).
    pub fn from_rrule(
        rule: &str,
        start: NaiveDateTime,
        until_utc: impl Fn(NaiveDateTime) -> NaiveDateTime,
    ) -> Option<Recurrence> {
        let mut r = Recurrence::default();
        let mut freq = "";
        let mut byday: Vec<(i32, u8)> = Vec::new();
        let mut setpos: Option<i32> = None;
        let mut monthday: Option<u8> = None;
        let mut month: Option<u8> = None;
        for part in rule.split(';') {
            let (k, v) = part.split_once('=')?;
            let v = v.trim();
            match k.trim().to_ascii_uppercase().as_str() {
                "FREQ" => freq = v,
                "INTERVAL" => r.interval = Some(v.parse().ok()?),
                "COUNT" => r.occurrences = Some(v.parse().ok()?),
                "UNTIL" => {
                    let t = super::timezone::parse_local(v)?;
                    r.until = Some(if v.ends_with(['Z', 'z']) {
                        t
                    } else {
                        until_utc(t)
                    });
                }
                "BYDAY" => {
                    for d in v.split(',') {
                        let d = d.trim();
                        let split = d.len().checked_sub(2)?;
                        let (n, code) = d.split_at(split);
                        let n = if n.is_empty() { 0 } else { n.parse().ok()? };
                        byday.push((n, day_bit(code)?));
                    }
                }
                "BYSETPOS" => setpos = Some(v.parse().ok()?),
                "BYMONTHDAY" => monthday = Some(v.parse().ok()?),
                "BYMONTH" => {
                    let (m, leap) = match v.strip_suffix(['L', 'l']) {
                        Some(m) => (m, true),
                        None => (v, false),
                    };
                    month = Some(m.parse().ok()?);
                    r.is_leap_month = leap;
                }
                "WKST" => {
                    r.first_day_of_week = DAYS
                        .iter()
                        .position(|d| d.1.eq_ignore_ascii_case(v))
                        .map(|p| p as u8)
                }
                "RSCALE" => {
                    r.calendar_type = RSCALES
                        .iter()
                        .find(|(_, n)| n.eq_ignore_ascii_case(v))
                        .map(|(t, _)| *t)
                }
                _ => return None,
            }
        }
        let mask: u8 = byday.iter().fold(0, |m, d| m | d.1);
        let nth = byday.iter().find(|d| d.0 != 0).map(|d| d.0).or(setpos);
        let week = |n: i32| if n < 0 { 5 } else { n.clamp(1, 5) as u8 };
        match freq.to_ascii_uppercase().as_str() {
            "DAILY" => {
                r.kind = 0;
                r.day_of_week = (mask != 0).then_some(mask);
            }
            "WEEKLY" => {
                r.kind = 1;
                r.day_of_week = Some(if mask != 0 {
                    mask
                } else {
                    weekday_bit(start.weekday())
                });
            }
            "MONTHLY" if !byday.is_empty() => {
                r.kind = 3;
                r.day_of_week = Some(mask);
                r.week_of_month = Some(week(nth.unwrap_or(1)));
            }
            "MONTHLY" => {
                r.kind = 2;
                r.day_of_month = Some(monthday.unwrap_or(start.day() as u8));
            }
            "YEARLY" => {
                r.month_of_year = Some(month.unwrap_or(start.month() as u8));
                if byday.is_empty() {
                    r.kind = 5;
                    r.day_of_month = Some(monthday.unwrap_or(start.day() as u8));
                } else {
                    r.kind = 6;
                    r.day_of_week = Some(mask);
                    r.week_of_month = Some(week(nth.unwrap_or(1)));
                }
            }
            _ => return None,
        }
        Some(r)
    }

    /// Pattern → RRULE value. `until` is written as given (the caller formats it as
    /// DATE for all-day events).
    pub fn to_rrule(&self, until: Option<String>) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(rs) = self
            .calendar_type
            .and_then(|t| RSCALES.iter().find(|r| r.0 == t))
            .filter(|r| r.0 != 1)
        {
            parts.push(format!("RSCALE={}", rs.1));
        }
        let nth = |w: Option<u8>| match w.unwrap_or(1) {
            5 => -1,
            n => i32::from(n),
        };
        let days = mask_days(self.day_of_week.unwrap_or(0));
        let month = || {
            let m = self.month_of_year.unwrap_or(1);
            if self.is_leap_month {
                format!("{m}L")
            } else {
                m.to_string()
            }
        };
        match self.kind {
            0 => {
                parts.push("FREQ=DAILY".into());
                if !days.is_empty() {
                    parts.push(format!("BYDAY={}", days.join(",")));
                }
            }
            1 => {
                parts.push("FREQ=WEEKLY".into());
                if !days.is_empty() {
                    parts.push(format!("BYDAY={}", days.join(",")));
                }
            }
            2 => {
                parts.push("FREQ=MONTHLY".into());
                parts.push(format!("BYMONTHDAY={}", self.day_of_month.unwrap_or(1)));
            }
            3 | 6 => {
                parts.push(
                    if self.kind == 3 {
                        "FREQ=MONTHLY"
                    } else {
                        "FREQ=YEARLY"
                    }
                    .into(),
                );
                if self.kind == 6 {
                    parts.push(format!("BYMONTH={}", month()));
                }
                let n = nth(self.week_of_month);
                if days.len() == 1 {
                    parts.push(format!("BYDAY={n}{}", days[0]));
                } else {
                    parts.push(format!("BYDAY={}", days.join(",")));
                    parts.push(format!("BYSETPOS={n}"));
                }
            }
            _ => {
                parts.push("FREQ=YEARLY".into());
                parts.push(format!("BYMONTH={}", month()));
                parts.push(format!("BYMONTHDAY={}", self.day_of_month.unwrap_or(1)));
            }
        }
        if let Some(i) = self.interval.filter(|&i| i > 1) {
            parts.push(format!("INTERVAL={i}"));
        }
        if let Some(c) = self.occurrences {
            parts.push(format!("COUNT={c}"));
        } else if let Some(u) = until {
            parts.push(format!("UNTIL={u}"));
        }
        if let Some(w) = self
            .first_day_of_week
            .and_then(|w| DAYS.get(usize::from(w)))
        {
            parts.push(format!("WKST={}", w.1));
        }
        parts.join(";")
    }
}

/// The tags of one recurrence vocabulary (Calendar's or Tasks').
pub struct RecurrenceTags {
    pub recurrence: Tag,
    pub kind: Tag,
    pub until: Tag,
    pub occurrences: Tag,
    pub interval: Tag,
    pub day_of_week: Tag,
    pub day_of_month: Tag,
    pub week_of_month: Tag,
    pub month_of_year: Tag,
    pub first_day_of_week: Tag,
    pub calendar_type: Tag,
    pub is_leap_month: Tag,
    /// Calendar: compact `20261126T100000Z`; Tasks: `2026-11-26T10:00:00.000Z`.
    pub long_dates: bool,
}

impl Recurrence {
    /// The Recurrence element's children in schema order; CalendarType and IsLeapMonth
    /// from 14.0, FirstDayOfWeek from 14.1 (MS-ASCAL 2.2.2.9, 2.2.2.26, 2.2.2.25).
    pub fn to_element(
        &self,
        t: &RecurrenceTags,
        version: ProtocolVersion,
        head: Vec<Element>,
    ) -> Element {
        let mut el = Element::new(t.recurrence);
        el.push(Element::with_text(t.kind, self.kind.to_string()));
        for h in head {
            el.push(h);
        }
        let num = |el: &mut Element, tag, v: Option<u32>| {
            if let Some(v) = v {
                el.push(Element::with_text(tag, v.to_string()));
            }
        };
        if let Some(u) = self.until {
            el.push(Element::with_text(
                t.until,
                if t.long_dates {
                    long_utc(u)
                } else {
                    compact_utc(u)
                },
            ));
        }
        num(&mut el, t.occurrences, self.occurrences);
        // MS-ASCAL 2.2.2.26 / MS-ASTASK 2.2.2.16: Interval defaults to 1; it is sent
        // anyway, as Exchange does, so a client's explicit 1 comes back as it went.
        num(&mut el, t.interval, Some(self.interval.unwrap_or(1)));
        num(&mut el, t.day_of_week, self.day_of_week.map(u32::from));
        num(&mut el, t.day_of_month, self.day_of_month.map(u32::from));
        num(&mut el, t.week_of_month, self.week_of_month.map(u32::from));
        num(&mut el, t.month_of_year, self.month_of_year.map(u32::from));
        if version >= ProtocolVersion::V14_0 {
            num(&mut el, t.calendar_type, self.calendar_type.map(u32::from));
            if self.is_leap_month {
                el.push(Element::with_text(t.is_leap_month, "1"));
            }
        }
        if version >= ProtocolVersion::V14_1 {
            num(
                &mut el,
                t.first_day_of_week,
                self.first_day_of_week.map(u32::from),
            );
        }
        el
    }

    pub fn from_element(el: &Element, t: &RecurrenceTags) -> Result<Recurrence, ConvertError> {
        let num = |tag| -> Result<Option<u32>, ConvertError> {
            el.child_text(tag)
                .map(|s| {
                    s.trim()
                        .parse::<u32>()
                        .map_err(|_| ConvertError::BadValue("Recurrence"))
                })
                .transpose()
        };
        let small = |tag| -> Result<Option<u8>, ConvertError> {
            num(tag)?
                .map(|v| u8::try_from(v).map_err(|_| ConvertError::BadValue("Recurrence")))
                .transpose()
        };
        let kind = small(t.kind)?.ok_or(ConvertError::Missing("Recurrence/Type"))?;
        if !matches!(kind, 0 | 1 | 2 | 3 | 5 | 6) {
            return Err(ConvertError::BadValue("Recurrence/Type"));
        }
        Ok(Recurrence {
            kind,
            interval: num(t.interval)?,
            until: match el.child_text(t.until) {
                Some(s) => Some(parse_eas_datetime(&s).ok_or(ConvertError::BadValue("Until"))?),
                None => None,
            },
            occurrences: num(t.occurrences)?,
            day_of_week: small(t.day_of_week)?,
            day_of_month: small(t.day_of_month)?,
            week_of_month: small(t.week_of_month)?,
            month_of_year: small(t.month_of_year)?,
            first_day_of_week: small(t.first_day_of_week)?,
            calendar_type: small(t.calendar_type)?.filter(|&c| c != 0),
            is_leap_month: el.child_text(t.is_leap_month).as_deref() == Some("1"),
        })
    }
}

/// Categories element → names; an empty element clears.
pub fn categories_from(el: &Element, item: Tag) -> Vec<String> {
    el.all(item)
        .filter_map(|c| c.text().map(|t| t.trim().to_string()))
        .filter(|t| !t.is_empty())
        .collect()
}

pub fn categories_element(container: Tag, item: Tag, cats: &[String]) -> Element {
    let mut el = Element::new(container);
    for c in cats {
        el.push(Element::with_text(item, c.as_str()));
    }
    el
}

/// Every CATEGORIES value of a component, in order.
pub fn categories_of(c: &super::ical::Component) -> Vec<String> {
    c.props_named("CATEGORIES")
        .flat_map(|p| p.parts(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Rewrites CATEGORIES only when the list differs (keeps the lines otherwise).
pub fn set_categories(c: &mut super::ical::Component, cats: &[String]) {
    if categories_of(c) == cats {
        return;
    }
    c.remove("CATEGORIES");
    if !cats.is_empty() {
        c.props.push(super::ical::Prop::new(
            "CATEGORIES",
            super::ical::join_escaped(cats, ','),
        ));
    }
}
