use super::*;
use chrono::NaiveTime;

/// Local 09:00 every week of `year`, as UTC through `tz`.
fn weekly_utc_by_zone(tz: Tz, year: i32) -> Vec<NaiveDateTime> {
    weekly_locals(year)
        .into_iter()
        .map(|l| tz.from_local_datetime(&l).earliest().unwrap().naive_utc())
        .collect()
}

fn weekly_locals(year: i32) -> Vec<NaiveDateTime> {
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    (0..53)
        .map(|w| (first + Duration::weeks(w)).and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap()))
        .filter(|d| d.year() == year)
        .collect()
}

/// The matrix: (zone, year). Both hemispheres, no DST, half- and quarter-hour
/// offsets, 30-minute DST, and zones whose rules changed around the year.
const MATRIX: &[(&str, i32)] = &[
    ("UTC", 2024),
    ("Europe/Berlin", 2024),
    ("Europe/London", 2024),
    ("Europe/Dublin", 2024),
    ("America/New_York", 2024),
    ("America/New_York", 2006),
    ("America/Los_Angeles", 2024),
    ("America/Phoenix", 2024),
    ("America/St_Johns", 2024),
    ("Asia/Tokyo", 2024),
    ("Asia/Kolkata", 2024),
    ("Asia/Kathmandu", 2024),
    ("Asia/Shanghai", 2024),
    ("Australia/Adelaide", 2024),
    ("Australia/Sydney", 2024),
    ("Australia/Lord_Howe", 2024),
    ("Pacific/Auckland", 2024),
    ("Pacific/Chatham", 2024),
    ("America/Santiago", 2024),
    ("America/Sao_Paulo", 2018),
    ("America/Sao_Paulo", 2019),
    ("America/Sao_Paulo", 2020),
    ("Europe/Moscow", 2010),
    ("Europe/Moscow", 2011),
    ("Europe/Moscow", 2012),
    ("Europe/Moscow", 2014),
    ("Europe/Moscow", 2015),
    ("Africa/Casablanca", 2024),
    ("Asia/Tehran", 2021),
    ("Asia/Tehran", 2023),
    ("Asia/Jerusalem", 2024),
    ("America/Mexico_City", 2022),
    ("America/Mexico_City", 2023),
    ("Africa/Johannesburg", 2024),
    ("Atlantic/Azores", 2024),
    ("Pacific/Apia", 2021),
    ("Europe/Istanbul", 2016),
];

fn assert_same_instants(label: &str, tz: Tz, year: i32, other: Tz, blob: &EasTimeZone) {
    let want = weekly_utc_by_zone(tz, year);
    let via_zone = weekly_utc_by_zone(other, year);
    let via_blob: Vec<_> = weekly_locals(year)
        .into_iter()
        .map(|l| blob.local_to_utc(l))
        .collect();
    assert_eq!(want, via_zone, "{label}: {tz} {year} → {other}");
    assert_eq!(want, via_blob, "{label}: {tz} {year} blob {blob:?}");
}

#[test]
fn zone_matrix_blob_round_trip() {
    assert!(MATRIX.len() >= 30);
    for &(name, year) in MATRIX {
        let tz: Tz = name.parse().unwrap();
        let blob = blob_for_zone(tz, year);
        assert_eq!(
            EasTimeZone::decode(&blob.encode()).as_ref(),
            Some(&blob),
            "{name}"
        );
        assert_eq!(
            EasTimeZone::from_base64(&blob.to_base64()).as_ref(),
            Some(&blob)
        );
        let back = zone_for_blob(&blob, year)
            .unwrap_or_else(|| panic!("{name} {year}: no zone for {blob:?}"));
        assert_same_instants("zone", tz, year, back, &blob);
    }
}

#[test]
fn zone_matrix_vtimezone_round_trip() {
    for &(name, year) in MATRIX {
        let tz: Tz = name.parse().unwrap();
        let vtz = vtimezone_for_zone(tz, year - 1, year + 1);
        let blob = blob_from_vtimezone(vtz.to_text().as_bytes(), year).unwrap();
        let back = zone_for_blob(&blob, year).unwrap_or_else(|| panic!("{name} {year}: no zone"));
        assert_same_instants("vtimezone", tz, year, back, &blob);
        // and the yearly-rule VTIMEZONE made from the blob reads back to the same blob
        let again = blob_from_vtimezone(vtimezone_from_blob("X", &blob).to_text().as_bytes(), year)
            .unwrap();
        let later: Vec<_> = weekly_locals(year)
            .into_iter()
            .map(|l| again.local_to_utc(l))
            .collect();
        assert_eq!(
            later,
            weekly_utc_by_zone(tz, year),
            "{name} {year} rule vtimezone"
        );
    }
}

#[test]
fn windows_names_pick_the_zone() {
    let blob = blob_for_zone(Tz::Europe__Berlin, 2024);
    assert_eq!(blob.standard_name, "W. Europe Standard Time");
    assert_eq!(blob.daylight_name, "W. Europe Daylight Time");
    assert_eq!(blob.bias, -60);
    assert_eq!(blob.daylight_bias, -60);
    // last Sunday of March 02:00, last Sunday of October 03:00
    assert_eq!(
        (
            blob.daylight_date.month,
            blob.daylight_date.day,
            blob.daylight_date.day_of_week,
            blob.daylight_date.hour
        ),
        (3, 5, 0, 2)
    );
    assert_eq!(
        (
            blob.standard_date.month,
            blob.standard_date.day,
            blob.standard_date.hour
        ),
        (10, 5, 3)
    );
    assert_eq!(zone_for_blob(&blob, 2024), Some(Tz::Europe__Berlin));
    let mut paris = blob.clone();
    paris.standard_name = "Romance Standard Time".into();
    assert_eq!(zone_for_blob(&paris, 2024), Some(Tz::Europe__Paris));
    let mut iana = blob.clone();
    iana.standard_name = "Europe/Vienna".into();
    assert_eq!(zone_for_blob(&iana, 2024), Some(Tz::Europe__Vienna));
    // US: second Sunday of March, first Sunday of November
    let ny = blob_for_zone(Tz::America__New_York, 2024);
    assert_eq!(
        (
            ny.bias,
            ny.daylight_date.month,
            ny.daylight_date.day,
            ny.standard_date.month,
            ny.standard_date.day
        ),
        (300, 3, 2, 11, 1)
    );
    assert_eq!(zone_for_blob(&ny, 2024), Some(Tz::America__New_York));
}

#[test]
fn blob_without_dst() {
    let tokyo = blob_for_zone(Tz::Asia__Tokyo, 2024);
    assert_eq!(tokyo.bias, -540);
    assert_eq!(tokyo.standard_date, SystemTime::default());
    assert_eq!(tokyo.daylight_date, SystemTime::default());
    assert!(!tokyo.has_dst());
    assert_eq!(zone_for_blob(&tokyo, 2024), Some(Tz::Asia__Tokyo));
    // a nameless +05:30 blob still finds a zone with that offset
    let india = EasTimeZone {
        bias: -330,
        ..EasTimeZone::default()
    };
    let z = zone_for_blob(&india, 2024).unwrap();
    assert_eq!(
        z.offset_from_utc_datetime(
            &NaiveDate::from_ymd_opt(2024, 6, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        )
        .fix()
        .local_minus_utc(),
        330 * 60
    );
    assert_eq!(zone_for_blob(&EasTimeZone::utc(), 2024), Some(Tz::UTC));
    let nameless_utc = EasTimeZone::default();
    assert_eq!(zone_for_blob(&nameless_utc, 2024), Some(Tz::Etc__UTC));
    // no zone is +13:13
    let odd = EasTimeZone {
        bias: -793,
        ..EasTimeZone::default()
    };
    assert_eq!(zone_for_blob(&odd, 2024), None);
}

#[test]
fn four_changes_a_year_are_approximated() {
    // Morocco 2013: DST from April, suspended for Ramadan (July-August), DST until
    // October. One blob holds one yearly rule: the first and last change are kept,
    // and no IANA zone behaves like that blob, so none is claimed.
    let blob = blob_for_zone(Tz::Africa__Casablanca, 2013);
    let at = |m, d| {
        NaiveDate::from_ymd_opt(2013, m, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    };
    assert_eq!(blob.offset_at_utc(at(1, 15)), 0);
    assert_eq!(blob.offset_at_utc(at(6, 1)), 60);
    assert_eq!(blob.offset_at_utc(at(12, 1)), 0);
    assert_eq!(zone_for_blob(&blob, 2013), None);
}

#[test]
fn rules_in_force_in_the_year() {
    // Moscow had DST until 2010, +4 all year 2012-2013, +3 since 26 Oct 2014
    assert!(blob_for_zone(Tz::Europe__Moscow, 2010).has_dst());
    let m12 = blob_for_zone(Tz::Europe__Moscow, 2012);
    assert!(!m12.has_dst());
    assert_eq!(m12.bias, -240);
    let m15 = blob_for_zone(Tz::Europe__Moscow, 2015);
    assert_eq!(m15.bias, -180);
    assert!(!m15.has_dst());
    // Sao Paulo: DST until 2019 (ended Feb 2019), none in 2020
    assert!(blob_for_zone(Tz::America__Sao_Paulo, 2018).has_dst());
    assert!(!blob_for_zone(Tz::America__Sao_Paulo, 2020).has_dst());
    // Tehran abolished DST in 2022
    assert!(blob_for_zone(Tz::Asia__Tehran, 2021).has_dst());
    assert!(!blob_for_zone(Tz::Asia__Tehran, 2023).has_dst());
}

#[test]
fn windows_client_blob_and_garbage() {
    // The blob Windows Mobile / Outlook send for W. Europe Standard Time, built by hand
    // from TIME_ZONE_INFORMATION: Bias -60, StandardDate Oct last Sun 03:00,
    // DaylightDate Mar last Sun 02:00, DaylightBias -60.
    let mut b = vec![0u8; 172];
    b[0..4].copy_from_slice(&(-60i32).to_le_bytes());
    for (i, u) in "W. Europe Standard Time".encode_utf16().enumerate() {
        b[4 + 2 * i..6 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    let st = [0u16, 10, 0, 5, 3, 0, 0, 0];
    for (i, v) in st.iter().enumerate() {
        b[68 + 2 * i..70 + 2 * i].copy_from_slice(&v.to_le_bytes());
    }
    let dt = [0u16, 3, 0, 5, 2, 0, 0, 0];
    for (i, v) in dt.iter().enumerate() {
        b[152 + 2 * i..154 + 2 * i].copy_from_slice(&v.to_le_bytes());
    }
    b[168..172].copy_from_slice(&(-60i32).to_le_bytes());
    let blob = EasTimeZone::decode(&b).unwrap();
    assert_eq!(blob.encode().to_vec(), b);
    for year in [2015, 2024, 2030] {
        assert_eq!(zone_for_blob(&blob, year), Some(Tz::Europe__Berlin));
    }
    assert!(EasTimeZone::decode(&b[..171]).is_none());
    assert!(EasTimeZone::from_base64("not base64!").is_none());
    assert!(EasTimeZone::from_base64("").is_none());
    let mut wild = b.clone();
    wild[0..4].copy_from_slice(&i32::MAX.to_le_bytes());
    assert!(EasTimeZone::decode(&wild).is_none());
    // a blob with nonsense dates does not panic
    let mut junk = b.clone();
    for i in (68..84).chain(152..168) {
        junk[i] = 0xff;
    }
    let j = EasTimeZone::decode(&junk).unwrap();
    let _ = j.local_to_utc(
        NaiveDate::from_ymd_opt(2024, 5, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
    );
    let _ = zone_for_blob(&j, 2024);
}

#[test]
fn resolves_names() {
    assert_eq!(resolve_zone_name("Europe/Berlin"), Some(Tz::Europe__Berlin));
    assert_eq!(
        resolve_zone_name("W. Europe Standard Time"),
        Some(Tz::Europe__Berlin)
    );
    assert_eq!(
        resolve_zone_name("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin"),
        Some(Tz::Europe__Berlin)
    );
    assert_eq!(resolve_zone_name("Nowhere/Special"), None);
}
