//! A draft written on the phone (EAS 16.0+ client Add to Drafts, MS-ASEMAIL 3.1.5.3)
//! → an RFC 5322 message to APPEND upstream.

use base64::Engine;

use crate::wbxml::Element;
use crate::wbxml::pages::{AirSyncBase as B, Email as E, Email2 as E2};

/// Composes the message. `None` when the ApplicationData is not a usable draft.
pub fn compose(data: &Element, from: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Vec<u8>> {
    let text = |el: &Element, tag| {
        el.child_text(tag)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let body = data.first(B::Body);
    let body_type = body
        .and_then(|b| text(b, B::Type))
        .unwrap_or_else(|| "1".into());
    let body_data = body
        .and_then(|b| b.child_text(B::Data))
        .map(|s| s.into_owned())
        .unwrap_or_default();
    let content_type = match body_type.as_str() {
        "1" => "text/plain",
        "2" => "text/html",
        _ => return None,
    };
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        if !value.is_empty() && !value.contains(['\r', '\n']) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    };
    header("From", from);
    for (name, tag) in [("To", E::To), ("Cc", E::Cc), ("Bcc", E2::Bcc)] {
        if let Some(v) = text(data, tag) {
            header(name, &v);
        }
    }
    let subject = text(data, E::Subject).unwrap_or_default();
    header("Subject", &encode_word(&subject));
    header(
        "Date",
        &now.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
    );
    header(
        "Message-ID",
        &format!(
            "<{:016x}{:08x}@airsync>",
            rand::random::<u64>(),
            now.timestamp() as u32
        ),
    );
    match text(data, E::Importance).as_deref() {
        Some("0") => header("Importance", "low"),
        Some("2") => header("Importance", "high"),
        _ => {}
    }
    header("MIME-Version", "1.0");
    header("Content-Type", &format!("{content_type}; charset=utf-8"));
    header("Content-Transfer-Encoding", "base64");
    out.push_str("\r\n");
    let encoded = base64::engine::general_purpose::STANDARD.encode(body_data.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    Some(out.into_bytes())
}

/// RFC 2047 encoded word for non-ASCII header text.
fn encode_word(s: &str) -> String {
    if s.is_ascii() {
        s.to_string()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::pages::AirSync as A;

    #[test]
    fn draft_message() {
        let data = Element::new(A::ApplicationData)
            .text_child(E::To, "bob@example.org")
            .text_child(E::Subject, "Grüße")
            .child(
                Element::new(B::Body)
                    .text_child(B::Type, "1")
                    .text_child(B::Data, "Hallo Bob"),
            );
        let raw = compose(&data, "alice@example.org", chrono::Utc::now()).unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.starts_with("From: alice@example.org\r\nTo: bob@example.org\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: =?UTF-8?B?R3LDvMOfZQ==?="), "{text}");
        assert!(text.contains("\r\n\r\nSGFsbG8gQm9i\r\n"), "{text}");
        // Header injection through a field is refused, not written.
        let evil = Element::new(A::ApplicationData).text_child(E::To, "a@b\r\nBcc: x@y");
        let text = String::from_utf8(compose(&evil, "a@b", chrono::Utc::now()).unwrap()).unwrap();
        assert!(!text.contains("Bcc"));
        let rtf =
            Element::new(A::ApplicationData).child(Element::new(B::Body).text_child(B::Type, "3"));
        assert!(compose(&rtf, "a@b", chrono::Utc::now()).is_none());
    }
}
