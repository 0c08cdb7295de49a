//! Tasks: iCalendar VTODO ⇄ MS-ASTASK, edited in place like events (see
//! [`calendar`](super::calendar)): a Change rewrites only the properties EAS carries.
//!
//! * Importance ⇄ PRIORITY: 1–4 high (2), 5 or none normal (1), 6–9 low (0); an
//!   existing PRIORITY that already maps to the client's Importance is kept.
//! * StartDate/DueDate are the local wall time written with `Z` (MS-ASTASK 2.2.2.27),
//!   UtcStartDate/UtcDueDate the instant; DATE values are midnight in the default zone.
//! * Complete ⇄ STATUS:COMPLETED with COMPLETED ⇄ DateCompleted.
//! * ReminderSet/ReminderTime ⇄ the first DISPLAY/AUDIO VALARM, absolute trigger.
//! * Recurrence ⇄ RRULE; Regenerate and DeadOccur have no iCalendar twin:
//!   X-AIRSYNC-REGENERATE / X-AIRSYNC-DEADOCCUR.

use chrono::{Duration, NaiveDateTime};

use super::calendar::{self, CalendarOptions, Zone};
use super::ical::{self, Component, Prop};
use super::pim::{self, ConvertError, Recurrence, RecurrenceTags};
use crate::wbxml::Element;
use crate::wbxml::pages::{AirSync, Tasks as T};

const TAGS: RecurrenceTags = RecurrenceTags {
    recurrence: T::Recurrence,
    kind: T::Type,
    until: T::Until,
    occurrences: T::Occurrences,
    interval: T::Interval,
    day_of_week: T::DayOfWeek,
    day_of_month: T::DayOfMonth,
    week_of_month: T::WeekOfMonth,
    month_of_year: T::MonthOfYear,
    first_day_of_week: T::FirstDayOfWeek,
    calendar_type: T::CalendarType,
    is_leap_month: T::IsLeapMonth,
    long_dates: true,
};

fn importance(prio: Option<u32>) -> u8 {
    match prio {
        Some(1..=4) => 2,
        Some(6..=9) => 0,
        _ => 1,
    }
}

fn parse(ics: &[u8]) -> Result<(Component, usize), ConvertError> {
    let cal = ical::parse(ics).ok_or(ConvertError::Invalid("iCalendar"))?;
    if cal.name != "VCALENDAR" {
        return Err(ConvertError::Invalid("iCalendar"));
    }
    let i = cal
        .children
        .iter()
        .position(|c| c.name == "VTODO")
        .ok_or(ConvertError::Missing("VTODO"))?;
    Ok((cal, i))
}

fn reminder(todo: &Component, cal: &Component, dflt: &Zone) -> Option<(usize, NaiveDateTime)> {
    todo.children.iter().enumerate().find_map(|(i, a)| {
        let action = a.text("ACTION").unwrap_or_default().to_ascii_uppercase();
        if a.name != "VALARM" || (action != "DISPLAY" && action != "AUDIO") {
            return None;
        }
        let trig = a.prop("TRIGGER")?;
        if let Some(secs) = calendar::parse_duration(&trig.value) {
            let anchor = if trig
                .param("RELATED")
                .is_some_and(|r| r.eq_ignore_ascii_case("END"))
            {
                "DUE"
            } else {
                "DTSTART"
            };
            let base = todo
                .prop(anchor)
                .or(todo.prop("DUE"))
                .and_then(|p| calendar::read_when(cal, p, dflt))?;
            return Some((i, base.utc + Duration::seconds(secs)));
        }
        super::timezone::parse_local(&trig.value).map(|t| (i, t))
    })
}

/// VTODO → `<AirSync:ApplicationData>` with the Tasks elements.
pub fn task_to_eas(ics: &[u8], opts: &CalendarOptions) -> Result<Element, ConvertError> {
    let (cal, i) = parse(ics)?;
    let todo = &cal.children[i];
    let dflt = calendar::default_zone(opts);
    let mut app = Element::new(AirSync::ApplicationData);
    let desc = todo.text("DESCRIPTION").unwrap_or_default();
    app.push(pim::body_element(
        &desc,
        pim::html_description(todo).as_deref(),
        &opts.body_preferences,
        opts.version,
    ));
    app.push(Element::with_text(
        T::Subject,
        todo.text("SUMMARY").unwrap_or_default(),
    ));
    let prio = todo.text("PRIORITY").and_then(|p| p.trim().parse().ok());
    app.push(Element::with_text(
        T::Importance,
        importance(prio).to_string(),
    ));
    let when = |name| {
        todo.prop(name)
            .and_then(|p| calendar::read_when(&cal, p, &dflt))
    };
    if let Some(s) = when("DTSTART") {
        app.push(Element::with_text(T::UtcStartDate, pim::long_utc(s.utc)));
        app.push(Element::with_text(T::StartDate, pim::long_utc(s.local)));
    }
    if let Some(d) = when("DUE") {
        app.push(Element::with_text(T::UtcDueDate, pim::long_utc(d.utc)));
        app.push(Element::with_text(T::DueDate, pim::long_utc(d.local)));
    }
    if let Some(rule) = todo.prop("RRULE") {
        let start = when("DTSTART").or_else(|| when("DUE"));
        if let Some(s) = start
            && let Some(r) = Recurrence::from_rrule(&rule.value, s.local, |l| s.zone.to_utc(l))
        {
            let head = vec![Element::with_text(T::Start, pim::long_utc(s.local))];
            let mut el = r.to_element(&TAGS, opts.version, head);
            el.push(Element::with_text(
                T::Regenerate,
                todo.text("X-AIRSYNC-REGENERATE")
                    .unwrap_or_else(|| "0".into()),
            ));
            el.push(Element::with_text(
                T::DeadOccur,
                todo.text("X-AIRSYNC-DEADOCCUR")
                    .unwrap_or_else(|| "0".into()),
            ));
            app.push(el);
        }
    }
    let done = todo
        .text("STATUS")
        .is_some_and(|s| s.eq_ignore_ascii_case("COMPLETED"));
    app.push(Element::with_text(
        T::Complete,
        if done { "1" } else { "0" },
    ));
    if done
        && let Some(t) = todo
            .prop("COMPLETED")
            .and_then(|p| super::timezone::parse_local(&p.value))
    {
        app.push(Element::with_text(T::DateCompleted, pim::long_utc(t)));
    }
    app.push(Element::with_text(
        T::Sensitivity,
        pim::sensitivity_from_class(todo.text("CLASS").as_deref()).to_string(),
    ));
    match reminder(todo, &cal, &dflt) {
        Some((_, t)) => {
            app.push(Element::with_text(T::ReminderTime, pim::long_utc(t)));
            app.push(Element::with_text(T::ReminderSet, "1"));
        }
        None => app.push(Element::with_text(T::ReminderSet, "0")),
    }
    let cats = pim::categories_of(todo);
    if !cats.is_empty() {
        app.push(pim::categories_element(T::Categories, T::Category, &cats));
    }
    Ok(app)
}

fn time(
    data: &Element,
    tag: crate::wbxml::Tag,
    name: &'static str,
) -> Result<Option<NaiveDateTime>, ConvertError> {
    data.child_text(tag)
        .map(|t| pim::parse_eas_datetime(&t).ok_or(ConvertError::BadValue(name)))
        .transpose()
}

/// Writes DTSTART/DUE from the Utc form (or the local form read in the default zone):
/// DATE when the local time is midnight, UTC date-time otherwise; unchanged values
/// keep their line.
fn set_date(
    todo: &mut Component,
    cal: &Component,
    name: &str,
    utc: Option<NaiveDateTime>,
    local: Option<NaiveDateTime>,
    dflt: &Zone,
) {
    let utc = utc.or_else(|| local.map(|l| dflt.to_utc(l)));
    let Some(utc) = utc else {
        todo.remove(name);
        return;
    };
    let local = local.unwrap_or_else(|| dflt.to_local(utc));
    if let Some(w) = todo
        .prop(name)
        .and_then(|p| calendar::read_when(cal, p, dflt))
        && (w.utc == utc || (w.all_day && w.local == local))
    {
        return;
    }
    let p = if local.time() == chrono::NaiveTime::MIN {
        Prop::new(name, local.format("%Y%m%d").to_string()).with_param("VALUE", "DATE")
    } else {
        Prop::new(name, pim::compact_utc(utc))
    };
    todo.remove(name);
    todo.props.push(p);
}

/// Client Add/Change: ApplicationData → iCalendar VTODO (see the module docs).
pub fn eas_to_task(
    data: &Element,
    existing: Option<&[u8]>,
    opts: &CalendarOptions,
) -> Result<Vec<u8>, ConvertError> {
    let (mut cal, i) = match existing {
        Some(e) => parse(e)?,
        None => {
            let mut c = Component::new("VCALENDAR");
            c.props.push(Prop::new("VERSION", "2.0"));
            c.props.push(Prop::new("PRODID", "-//airsync//EN"));
            let mut t = Component::new("VTODO");
            t.props.push(Prop::new("UID", pim::new_uid()));
            t.props.push(Prop::new(
                "DTSTAMP",
                pim::compact_utc(chrono::Utc::now().naive_utc()),
            ));
            c.children.push(t);
            (c, 0)
        }
    };
    let dflt = calendar::default_zone(opts);
    let snapshot = cal.clone();
    let todo = &mut cal.children[i];
    todo.set_text("SUMMARY", data.child_text(T::Subject).as_deref());
    pim::set_description(todo, data);
    let imp = data
        .child_text(T::Importance)
        .and_then(|v| v.trim().parse::<u8>().ok())
        .unwrap_or(1);
    let prio = todo.text("PRIORITY").and_then(|p| p.trim().parse().ok());
    if importance(prio) != imp {
        match imp {
            2 => todo.set(Prop::new("PRIORITY", "1")),
            0 => todo.set(Prop::new("PRIORITY", "9")),
            _ => todo.remove("PRIORITY"),
        }
    }
    set_date(
        todo,
        &snapshot,
        "DTSTART",
        time(data, T::UtcStartDate, "UtcStartDate")?,
        time(data, T::StartDate, "StartDate")?,
        &dflt,
    );
    set_date(
        todo,
        &snapshot,
        "DUE",
        time(data, T::UtcDueDate, "UtcDueDate")?,
        time(data, T::DueDate, "DueDate")?,
        &dflt,
    );
    let complete = data.child_text(T::Complete).as_deref() == Some("1");
    let was = todo
        .text("STATUS")
        .is_some_and(|s| s.eq_ignore_ascii_case("COMPLETED"));
    if complete {
        if !was {
            todo.set(Prop::new("STATUS", "COMPLETED"));
        }
        match time(data, T::DateCompleted, "DateCompleted")? {
            Some(t)
                if todo
                    .prop("COMPLETED")
                    .and_then(|p| super::timezone::parse_local(&p.value))
                    != Some(t) =>
            {
                todo.set(Prop::new("COMPLETED", pim::compact_utc(t)))
            }
            _ => {}
        }
    } else if was {
        todo.set(Prop::new("STATUS", "NEEDS-ACTION"));
        todo.remove("COMPLETED");
    }
    if let Some(s) = data
        .child_text(T::Sensitivity)
        .and_then(|v| v.trim().parse::<u8>().ok())
    {
        if pim::sensitivity_from_class(todo.text("CLASS").as_deref()) != s {
            todo.set(Prop::new("CLASS", pim::class_for_sensitivity(s)));
        }
    } else {
        todo.remove("CLASS");
    }
    let rem = if data.child_text(T::ReminderSet).as_deref() == Some("1") {
        time(data, T::ReminderTime, "ReminderTime")?
    } else {
        None
    };
    match (reminder(todo, &snapshot, &dflt), rem) {
        (Some((_, old)), Some(t)) if old == t => {}
        (Some((i, _)), Some(t)) => {
            let a = &mut todo.children[i];
            a.remove("TRIGGER");
            a.props
                .push(Prop::new("TRIGGER", pim::compact_utc(t)).with_param("VALUE", "DATE-TIME"));
        }
        (None, Some(t)) => {
            let mut a = Component::new("VALARM");
            a.props.push(Prop::new("ACTION", "DISPLAY"));
            a.props.push(Prop::text("DESCRIPTION", "Reminder"));
            a.props
                .push(Prop::new("TRIGGER", pim::compact_utc(t)).with_param("VALUE", "DATE-TIME"));
            todo.children.push(a);
        }
        (Some((i, _)), None) => {
            todo.children.remove(i);
        }
        (None, None) => {}
    }
    match data.first(T::Categories) {
        Some(c) => pim::set_categories(todo, &pim::categories_from(c, T::Category)),
        None => todo.remove("CATEGORIES"),
    }
    match data.first(T::Recurrence) {
        Some(r) => {
            let rec = Recurrence::from_element(r, &TAGS)?;
            let until = rec.until.map(pim::compact_utc);
            let rule = rec.to_rrule(until);
            if todo.prop("RRULE").map(|p| p.value.as_str()) != Some(rule.as_str()) {
                todo.set(Prop::new("RRULE", rule));
            }
            for (tag, name) in [
                (T::Regenerate, "X-AIRSYNC-REGENERATE"),
                (T::DeadOccur, "X-AIRSYNC-DEADOCCUR"),
            ] {
                match r.child_text(tag).filter(|v| v.trim() == "1") {
                    Some(_) => todo.set(Prop::new(name, "1")),
                    None => todo.remove(name),
                }
            }
        }
        None => {
            todo.remove("RRULE");
            todo.remove("X-AIRSYNC-REGENERATE");
            todo.remove("X-AIRSYNC-DEADOCCUR");
        }
    }
    Ok(cal.to_text().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::ProtocolVersion;

    fn text(el: &Element, tag: crate::wbxml::Tag) -> Option<String> {
        el.child_text(tag).map(|s| s.to_string())
    }

    #[test]
    fn full_task_round_trips_and_keeps_unknowns() {
        let opts = CalendarOptions::new(ProtocolVersion::V14_1);
        let app = Element::new(AirSync::ApplicationData)
            .text_child(T::Subject, "Taxes")
            .text_child(T::Importance, "2")
            .text_child(T::UtcStartDate, "2026-03-02T09:00:00.000Z")
            .text_child(T::StartDate, "2026-03-02T09:00:00.000Z")
            .text_child(T::UtcDueDate, "2026-04-30T17:00:00.000Z")
            .text_child(T::DueDate, "2026-04-30T17:00:00.000Z")
            .text_child(T::Complete, "1")
            .text_child(T::DateCompleted, "2026-04-01T10:00:00.000Z")
            .text_child(T::Sensitivity, "2")
            .text_child(T::ReminderSet, "1")
            .text_child(T::ReminderTime, "2026-04-29T08:00:00.000Z")
            .child(Element::new(T::Categories).text_child(T::Category, "Home"));
        let ics = eas_to_task(&app, None, &opts).unwrap();
        let s = String::from_utf8(ics.clone())
            .unwrap()
            .replace("END:VTODO", "X-KEEP-ME:yes\r\nEND:VTODO");
        let back = task_to_eas(s.as_bytes(), &opts).unwrap();
        for tag in [
            T::Subject,
            T::Importance,
            T::UtcStartDate,
            T::UtcDueDate,
            T::Complete,
            T::DateCompleted,
            T::Sensitivity,
            T::ReminderSet,
            T::ReminderTime,
        ] {
            assert_eq!(text(&back, tag), text(&app, tag), "{tag}");
        }
        let edited = eas_to_task(&back, Some(s.as_bytes()), &opts).unwrap();
        assert!(String::from_utf8(edited).unwrap().contains("X-KEEP-ME:yes"));
        assert!(task_to_eas(b"nonsense", &opts).is_err());
    }
}
