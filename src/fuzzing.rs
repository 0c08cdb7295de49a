//! What the cargo-fuzz targets in `fuzz/` run, one function per target, so that the
//! regression test replaying the committed corpora (tests/fuzz_regressions.rs) runs
//! exactly the same code path. Each takes arbitrary bytes and must not panic; where a
//! stronger property holds it is asserted.
//!
//! Leading bytes pick the options (protocol version, body preference…) so that one
//! input explores every variant; the rest is the document under test.

use chrono::{TimeZone, Utc};

use crate::eas::ProtocolVersion;
use crate::eas::sync::BodyPreference;
use crate::http::query;
use crate::mapping::calendar::{self, CalendarOptions};
use crate::mapping::contacts::{self, ContactOptions};
use crate::mapping::email::{self, ConvertOptions, compose};
use crate::mapping::tasks;

pub use crate::wbxml::fuzz::decode_roundtrip as wbxml_decode;

/// What a target runs on one input.
pub type Target = fn(&[u8]);

/// The target names, each with its function: what the regression test iterates.
pub const TARGETS: &[(&str, Target)] = &[
    ("wbxml_decode", wbxml_decode),
    ("request_line", request_line),
    ("mime_to_email", mime_to_email),
    ("pim_to_eas", pim_to_eas),
];

fn version(b: u8) -> ProtocolVersion {
    ProtocolVersion::ALL[b as usize % ProtocolVersion::ALL.len()]
}

/// Splits off `n` option bytes (zeros when the input is shorter).
fn options<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut opts = [0u8; N];
    let n = data.len().min(N);
    opts[..n].copy_from_slice(&data[..n]);
    (opts, &data[n..])
}

/// The request line (MS-ASHTTP 2.2.1.1.1): the bytes as a query string when they are
/// UTF-8 (plain or base64 form, as the server decides), and the bytes base64-encoded,
/// so that the fuzzer reaches every field of the binary form directly.
pub fn request_line(data: &[u8]) {
    use base64::Engine;
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = query::parse(text);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(line) = query::parse(&encoded) {
        assert!(!line.device_id.is_empty(), "{line:?}");
        assert!(!line.device_type.is_empty(), "{line:?}");
    }
}

/// A message as an IMAP server would hand it out → Email ApplicationData for every
/// body preference; its attachments, Message-ID, From and calendar part; and the same
/// bytes as a SendMail / SmartReply / SmartForward from the device.
/// Option bytes: version, body type, truncation, MIMESupport and the compose mode.
pub fn mime_to_email(data: &[u8]) {
    let ([v, body, trunc, mime, mode], raw) = options::<5>(data);
    let opts = ConvertOptions {
        version: version(v),
        body_preferences: vec![BodyPreference {
            body_type: body % 4 + 1,
            truncation_size: (trunc != 0).then_some(u32::from(trunc) * 8),
            all_or_none: body & 0x10 != 0,
            preview: (body & 0x20 != 0).then_some(u32::from(trunc)),
        }],
        mime_support: mime % 3,
        mime_truncation: (mime & 0x10 != 0).then_some(u32::from(trunc) * 16),
        server_id: "5:17".into(),
    };
    let meta = airsync_model::MessageMeta {
        uid: 17,
        flags: match mode % 3 {
            0 => vec![],
            1 => vec!["\\Seen".into(), "\\Flagged".into()],
            _ => vec!["$Forwarded".into(), "\\Answered".into(), "Work".into()],
        },
        internal_date: 1_700_000_000,
        size: Some(raw.len() as u64),
        modseq: Some(1),
    };
    let _ = email::to_application_data(raw, &meta, &opts);
    for index in 0..4 {
        let _ = email::attachment(raw, index);
    }
    let _ = email::message_id(raw);
    let from = email::from_address(raw);
    let _ = email::calendar_part(raw);

    let original = match mode % 3 {
        0 => compose::Original::None,
        1 => compose::Original::Reply(raw),
        _ => compose::Original::Forward(raw),
    };
    let allowed: Vec<String> = from.into_iter().collect();
    let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let _ = compose::prepare(raw, original, &allowed, "fuzz@example.org", now);
}

/// An iCalendar event or task, or a vCard, as Radicale would serve it → EAS
/// ApplicationData; what converts is written back (the device's unchanged item as a
/// Change onto the stored one), and what airsync writes must convert again.
/// Option bytes: kind (event, task, contact, meeting request) and version.
pub fn pim_to_eas(data: &[u8]) {
    let ([kind, v], doc) = options::<2>(data);
    let version = version(v);
    let mut cal = CalendarOptions::new(version);
    cal.default_zone = (v & 0x80 != 0).then_some(chrono_tz::Europe::Berlin);
    cal.user_emails = vec!["fuzz@example.org".into()];
    match kind % 4 {
        0 => {
            let _ = calendar::event_uid(doc);
            let _ = calendar::event_overlaps(doc, 1_600_000_000, Some(1_800_000_000));
            if let Ok(app) = calendar::event_to_eas(doc, &cal) {
                let written = calendar::eas_to_event(&app, Some(doc), &cal);
                if let Ok(ics) = written {
                    calendar::event_to_eas(&ics, &cal)
                        .expect("an event airsync wrote must convert again");
                }
                let _ = calendar::eas_to_event(&app, None, &cal);
            }
        }
        1 => {
            if let Ok(app) = tasks::task_to_eas(doc, &cal) {
                if let Ok(ics) = tasks::eas_to_task(&app, Some(doc), &cal) {
                    tasks::task_to_eas(&ics, &cal)
                        .expect("a task airsync wrote must convert again");
                }
                let _ = tasks::eas_to_task(&app, None, &cal);
            }
        }
        2 => {
            let opts = ContactOptions::new(version);
            let _ = contacts::contact_uid(doc);
            if let Ok(app) = contacts::contact_to_eas(doc, &opts) {
                if let Ok(vcf) = contacts::eas_to_contact(&app, Some(doc), &opts) {
                    contacts::contact_to_eas(&vcf, &opts)
                        .expect("a contact airsync wrote must convert again");
                }
                let _ = contacts::eas_to_contact(&app, None, &opts);
            }
        }
        _ => {
            let _ = calendar::meeting::meeting_request_element(doc, &cal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_inputs() {
        for (_, run) in TARGETS {
            run(b"");
            run(b"\x01");
            run(b"\x01\x02\x03\x04\x05\x06");
        }
    }
}
