use super::*;
use crate::wbxml::pages::Calendar as C;

fn opts(v: ProtocolVersion) -> CalendarOptions {
    CalendarOptions {
        user_emails: vec!["me@example.org".into()],
        ..CalendarOptions::new(v)
    }
}

fn text(el: &Element, tag: crate::wbxml::Tag) -> Option<String> {
    el.child_text(tag).map(|s| s.to_string())
}

const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nX-WR-CALNAME:Work\r\n\
BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20240101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20240108T090000\r\nDTEND;TZID=Europe/Berlin:20240108T100000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\nEXDATE;TZID=Europe/Berlin:20240115T090000\r\n\
SUMMARY:Standup\r\nLOCATION;X-UNKNOWN-PARAM=keep:Room 1\r\nX-CUSTOM-THING:kept\r\n\
ATTACH;FMTTYPE=text/plain:https://example.org/agenda.txt\r\n\
ORGANIZER;CN=Me:mailto:me@example.org\r\n\
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;RSVP=TRUE;X-NUM-GUESTS=0:mailto:bob@example.org\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:r\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n\
BEGIN:VALARM\r\nACTION:EMAIL\r\nSUMMARY:x\r\nDESCRIPTION:y\r\nATTENDEE:mailto:me@example.org\r\nTRIGGER:-P1D\r\nEND:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20240122T090000\r\n\
DTSTART;TZID=Europe/Berlin:20240122T110000\r\nDTEND;TZID=Europe/Berlin:20240122T120000\r\nSUMMARY:Standup moved\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

#[test]
fn series_to_eas() {
    let app = event_to_eas(SERIES.as_bytes(), &opts(ProtocolVersion::V14_1)).unwrap();
    assert_eq!(
        text(&app, C::StartTime).as_deref(),
        Some("20240108T080000Z")
    );
    assert_eq!(text(&app, C::EndTime).as_deref(), Some("20240108T090000Z"));
    assert_eq!(text(&app, C::Subject).as_deref(), Some("Standup"));
    assert_eq!(text(&app, C::Location).as_deref(), Some("Room 1"));
    assert_eq!(text(&app, C::UID).as_deref(), Some("series-1"));
    assert_eq!(text(&app, C::Reminder).as_deref(), Some("15"));
    assert_eq!(text(&app, C::MeetingStatus).as_deref(), Some("1"));
    assert_eq!(text(&app, C::ResponseType).as_deref(), Some("1"));
    let blob = EasTimeZone::from_base64(&text(&app, C::Timezone).unwrap()).unwrap();
    assert_eq!(blob.standard_name, "W. Europe Standard Time");
    let r = app.first(C::Recurrence).unwrap();
    assert_eq!(text(r, C::Type).as_deref(), Some("1"));
    assert_eq!(text(r, C::DayOfWeek).as_deref(), Some("2"));
    assert_eq!(text(r, C::Occurrences).as_deref(), Some("10"));
    let exs: Vec<_> = app
        .first(C::Exceptions)
        .unwrap()
        .all(C::Exception)
        .collect();
    assert_eq!(exs.len(), 2);
    assert_eq!(text(exs[0], C::Deleted).as_deref(), Some("1"));
    assert_eq!(
        text(exs[0], C::ExceptionStartTime).as_deref(),
        Some("20240115T080000Z")
    );
    assert_eq!(
        text(exs[1], C::ExceptionStartTime).as_deref(),
        Some("20240122T080000Z")
    );
    assert_eq!(
        text(exs[1], C::StartTime).as_deref(),
        Some("20240122T100000Z")
    );
    assert_eq!(text(exs[1], C::Subject).as_deref(), Some("Standup moved"));
    let att = app.first(C::Attendees).unwrap().first(C::Attendee).unwrap();
    assert_eq!(text(att, C::Email).as_deref(), Some("bob@example.org"));
    assert_eq!(text(att, C::AttendeeStatus).as_deref(), Some("3"));
    // 16.x: AirSyncBase Location and InstanceId
    let app16 = event_to_eas(SERIES.as_bytes(), &opts(ProtocolVersion::V16_1)).unwrap();
    assert!(app16.first(C::Location).is_none());
    assert_eq!(
        app16
            .first(AirSyncBase::Location)
            .and_then(|l| text(l, AirSyncBase::DisplayName))
            .as_deref(),
        Some("Room 1")
    );
    let ex16 = app16
        .first(C::Exceptions)
        .unwrap()
        .first(C::Exception)
        .unwrap();
    assert_eq!(
        text(ex16, AirSyncBase::InstanceId).as_deref(),
        Some("20240115T080000Z")
    );
    assert!(ex16.first(C::ExceptionStartTime).is_none());
    // 12.0: no 14.0 elements
    let app12 = event_to_eas(SERIES.as_bytes(), &opts(ProtocolVersion::V12_0)).unwrap();
    assert!(app12.first(C::ResponseType).is_none());
}

#[test]
fn subject_change_is_lossless() {
    let o = opts(ProtocolVersion::V14_1);
    let mut app = event_to_eas(SERIES.as_bytes(), &o).unwrap();
    for n in app.children.iter_mut() {
        if let crate::wbxml::Node::Element(e) = n
            && e.tag == C::Subject
        {
            *e = Element::with_text(C::Subject, "Daily standup");
        }
    }
    let out = String::from_utf8(eas_to_event(&app, Some(SERIES.as_bytes()), &o).unwrap()).unwrap();
    let unfolded = out.replace("\r\n ", "");
    for keep in [
        "X-WR-CALNAME:Work",
        "X-CUSTOM-THING:kept",
        "ATTACH;FMTTYPE=text/plain:https://example.org/agenda.txt",
        "LOCATION;X-UNKNOWN-PARAM=keep:Room 1",
        "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;RSVP=TRUE;X-NUM-GUESTS=0:mailto:bob@example.org",
        "TRIGGER:-PT15M",
        "ACTION:EMAIL",
        "TRIGGER:-P1D",
        "DTSTART;TZID=Europe/Berlin:20240108T090000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        "EXDATE;TZID=Europe/Berlin:20240115T090000",
        "SUMMARY:Standup moved",
    ] {
        assert!(unfolded.contains(keep), "lost {keep:?} in\n{out}");
    }
    assert!(out.contains("SUMMARY:Daily standup"));
    assert!(!out.contains("SUMMARY:Standup\r\n"));
    // and it converts back to the same EAS fields
    let again = event_to_eas(out.as_bytes(), &o).unwrap();
    assert_eq!(again, app);
}

#[test]
fn client_add_round_trips_with_moved_and_deleted_occurrence() {
    let o = opts(ProtocolVersion::V14_1);
    let blob = timezone::blob_for_zone(Tz::America__New_York, 2026);
    let app = Element::new(AirSync::ApplicationData)
        .text_child(C::Timezone, blob.to_base64())
        .text_child(C::AllDayEvent, "0")
        .text_child(C::BusyStatus, "2")
        .text_child(C::EndTime, "20261102T150000Z")
        .text_child(C::Sensitivity, "0")
        .text_child(C::Subject, "Review")
        .text_child(C::StartTime, "20261102T140000Z")
        .text_child(C::UID, "abc-123")
        .child(
            Element::new(C::Recurrence)
                .text_child(C::Type, "3")
                .text_child(C::Until, "20271231T140000Z")
                .text_child(C::DayOfWeek, "32")
                .text_child(C::WeekOfMonth, "5"),
        )
        .child(
            Element::new(C::Exceptions)
                .child(
                    Element::new(C::Exception)
                        .text_child(C::Deleted, "1")
                        .text_child(C::ExceptionStartTime, "20261127T140000Z"),
                )
                .child(
                    Element::new(C::Exception)
                        .text_child(C::ExceptionStartTime, "20261225T140000Z")
                        .text_child(C::StartTime, "20261224T140000Z")
                        .text_child(C::EndTime, "20261224T150000Z")
                        .text_child(C::Subject, "Review (early)"),
                ),
        );
    let ics = eas_to_event(&app, None, &o).unwrap();
    let s = String::from_utf8(ics.clone()).unwrap();
    assert!(s.contains("TZID=America/New_York"), "{s}");
    assert!(
        s.contains("RRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20271231T140000Z"),
        "{s}"
    );
    assert!(
        s.contains("EXDATE;TZID=America/New_York:20261127T090000"),
        "{s}"
    );
    assert!(s.contains("BEGIN:VTIMEZONE"));
    let back = event_to_eas(&ics, &o).unwrap();
    for tag in [
        C::StartTime,
        C::EndTime,
        C::Subject,
        C::UID,
        C::BusyStatus,
        C::AllDayEvent,
        C::Sensitivity,
    ] {
        assert_eq!(text(&back, tag), text(&app, tag), "{tag}");
    }
    let r = back.first(C::Recurrence).unwrap();
    assert_eq!(text(r, C::Type).as_deref(), Some("3"));
    assert_eq!(text(r, C::WeekOfMonth).as_deref(), Some("5"));
    assert_eq!(text(r, C::DayOfWeek).as_deref(), Some("32"));
    assert_eq!(text(r, C::Until).as_deref(), Some("20271231T140000Z"));
    let exs: Vec<_> = back
        .first(C::Exceptions)
        .unwrap()
        .all(C::Exception)
        .collect();
    assert_eq!(exs.len(), 2);
    assert_eq!(
        text(exs[1], C::StartTime).as_deref(),
        Some("20261224T140000Z")
    );
    assert_eq!(text(exs[1], C::Subject).as_deref(), Some("Review (early)"));
    let back_blob = EasTimeZone::from_base64(&text(&back, C::Timezone).unwrap()).unwrap();
    assert_eq!(back_blob, blob);
    // the series is within a 2027 window and not within 2025
    let ts = |y: i32| {
        chrono::NaiveDate::from_ymd_opt(y, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    };
    assert!(event_overlaps(&ics, ts(2027), Some(ts(2027) + 86400 * 40)));
    assert!(!event_overlaps(&ics, ts(2025), Some(ts(2026))));
}

#[test]
fn all_day_and_occurrences() {
    let o = CalendarOptions {
        default_zone: Some(Tz::Europe__Berlin),
        ..opts(ProtocolVersion::V14_1)
    };
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261126\r\nDTEND;VALUE=DATE:20261127\r\nRRULE:FREQ=YEARLY;COUNT=3\r\nSUMMARY:Birthday\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let app = event_to_eas(ics.as_bytes(), &o).unwrap();
    assert_eq!(text(&app, C::AllDayEvent).as_deref(), Some("1"));
    assert_eq!(
        text(&app, C::StartTime).as_deref(),
        Some("20261125T230000Z")
    );
    assert_eq!(text(&app, C::EndTime).as_deref(), Some("20261126T230000Z"));
    let r = app.first(C::Recurrence).unwrap();
    assert_eq!(
        (
            text(r, C::Type),
            text(r, C::Occurrences),
            text(r, C::MonthOfYear),
            text(r, C::DayOfMonth)
        ),
        (
            Some("5".into()),
            Some("3".into()),
            Some("11".into()),
            Some("26".into())
        )
    );
    assert!(r.first(C::Until).is_none());
    let back = eas_to_event(&app, None, &o).unwrap();
    let s = String::from_utf8(back.clone()).unwrap();
    assert!(s.contains("DTSTART;VALUE=DATE:20261126"), "{s}");
    assert!(s.contains("COUNT=3"), "{s}");
    let again = event_to_eas(&back, &o).unwrap();
    assert_eq!(text(&again, C::StartTime), text(&app, C::StartTime));
    assert_eq!(text(&again, C::AllDayEvent).as_deref(), Some("1"));
}

#[test]
fn instance_change_and_delete_16() {
    let o = opts(ProtocolVersion::V16_1);
    let data = Element::new(AirSync::ApplicationData).text_child(C::Subject, "Special");
    let out = eas_instance_change(&data, "20240129T080000Z", SERIES.as_bytes(), &o).unwrap();
    let s = String::from_utf8(out.clone()).unwrap();
    assert!(
        s.contains("RECURRENCE-ID;TZID=Europe/Berlin:20240129T090000"),
        "{s}"
    );
    assert!(s.contains("SUMMARY:Special"));
    let out = eas_instance_delete("20240129T080000Z", &out, &o).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(!s.contains("SUMMARY:Special"));
    assert!(s.contains("EXDATE;TZID=Europe/Berlin:20240129T090000"));
}

#[test]
fn one_occurrence_of_a_series() {
    let o = opts(ProtocolVersion::V16_1);
    let at = |s: &str| crate::mapping::pim::parse_eas_datetime(s).unwrap();
    // 29 January 09:00 Berlin = 08:00 UTC: the master's copy, placed at that time.
    let one = occurrence(SERIES.as_bytes(), at("2024-01-29T08:00:00.000Z"), &o)
        .unwrap()
        .expect("an occurrence");
    let s = String::from_utf8(one).unwrap();
    assert!(
        s.contains("RECURRENCE-ID;TZID=Europe/Berlin:20240129T090000")
            && s.contains("DTSTART;TZID=Europe/Berlin:20240129T090000")
            && s.contains("DTEND;TZID=Europe/Berlin:20240129T100000"),
        "{s}"
    );
    assert!(
        !s.contains("RRULE") && !s.contains("EXDATE") && s.contains("ATTENDEE;CN=Bob"),
        "{s}"
    );
    assert_eq!(s.matches("BEGIN:VEVENT").count(), 1);
    assert!(s.contains("X-WR-CALNAME:Work") && s.contains("BEGIN:VALARM"));
    // 22 January has an override (moved to 11:00): that is the occurrence.
    let moved = occurrence(SERIES.as_bytes(), at("2024-01-22T08:00:00.000Z"), &o)
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8(moved)
            .unwrap()
            .contains("SUMMARY:Standup moved")
    );
    // Excluded (EXDATE), off the rule, past COUNT: no occurrence.
    for none in [
        "2024-01-15T08:00:00.000Z",
        "2024-01-29T09:00:00.000Z",
        "2024-06-03T07:00:00.000Z",
    ] {
        assert!(
            occurrence(SERIES.as_bytes(), at(none), &o)
                .unwrap()
                .is_none(),
            "{none}"
        );
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let o = opts(ProtocolVersion::V16_1);
    for junk in [
        &b""[..],
        b"garbage",
        b"BEGIN:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        &[0xff, 0x00, 0x13],
    ] {
        assert!(event_to_eas(junk, &o).is_err());
        assert!(!event_overlaps(junk, 0, None));
    }
    let bad = Element::new(AirSync::ApplicationData).text_child(C::StartTime, "yesterday");
    assert!(eas_to_event(&bad, None, &o).is_err());
    let bad = Element::new(AirSync::ApplicationData).text_child(C::Timezone, "!!!");
    assert!(eas_to_event(&bad, None, &o).is_err());
    let bad = Element::new(AirSync::ApplicationData)
        .child(Element::new(C::Recurrence).text_child(C::Type, "9"));
    assert!(eas_to_event(&bad, None, &o).is_err());
    assert!(eas_to_event(&Element::new(AirSync::ApplicationData), Some(b"junk"), &o).is_err());
}
