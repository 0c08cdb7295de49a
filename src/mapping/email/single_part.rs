//! The commonest message parsed cheaply: one `text/plain` part, sent as it is (no
//! base64 or quoted-printable), in UTF-8 or US-ASCII. mail-parser walks such a body
//! byte by byte to find its end and then checks it with `String::from_utf8_lossy` —
//! together a tenth of converting a short message. Here its headers are parsed
//! by mail-parser as usual and the body is taken as it stands, checked with
//! `std::str::from_utf8`; the [`Message`] is the one `MessageParser::parse` gives
//! (debug builds compare the two on every message).

use std::borrow::Cow;

use mail_parser::{Encoding, GetHeader, HeaderName, HeaderValue, Message, MessageParser, PartType};

/// `raw` parsed as `parser.parse` would, when it is such a message; `None` otherwise
/// (the caller then parses it in full).
pub(super) fn parse<'x>(parser: &MessageParser, raw: &'x [u8]) -> Option<Message<'x>> {
    let mut msg = parser.parse_headers(raw)?;
    let [part] = msg.parts.as_mut_slice() else {
        return None;
    };
    let headers = &part.headers;
    if headers.is_empty()
        || headers
            .header_value(&HeaderName::ContentDisposition)
            .is_some()
    {
        return None;
    }
    // The same tests as mail-parser's, on the same (last) header of each name.
    let charset = match headers.header_value(&HeaderName::ContentType) {
        None => None,
        Some(value) => {
            let ct = value.as_content_type()?;
            if ct.ctype() != "text" || ct.subtype() != Some("plain") {
                return None;
            }
            ct.attribute("charset")
        }
    };
    if matches!(headers.header_value(&HeaderName::ContentTransferEncoding),
        Some(HeaderValue::Text(e))
            if e.eq_ignore_ascii_case("base64") || e.eq_ignore_ascii_case("quoted-printable"))
    {
        return None;
    }
    let start = body_start(raw)?;
    let body = &raw[start..];
    // Without a charset, or in UTF-8, mail-parser reads the bytes as UTF-8 (lossily:
    // valid ones come out unchanged); US-ASCII it decodes as Windows-1252, which
    // leaves ASCII unchanged. Anything else goes the long way.
    let as_is = charset.is_none_or(|c| {
        c.eq_ignore_ascii_case("utf-8")
            || c.eq_ignore_ascii_case("utf8")
            || (c.eq_ignore_ascii_case("us-ascii") && body.is_ascii())
    });
    if !as_is {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    part.body = PartType::Text(Cow::Borrowed(text));
    part.is_encoding_problem = false;
    part.encoding = Encoding::None;
    part.offset_body = u32::try_from(start).ok()?;
    part.offset_end = u32::try_from(raw.len()).ok()?;
    // A lone inline text part is both the text and the HTML body (mail-parser offers
    // it for either), and no attachment.
    msg.text_body = vec![0];
    msg.html_body = vec![0];
    msg.attachments = Vec::new();
    Some(msg)
}

/// Where the body starts: after the first empty line (CRLF or LF), or `None` when there
/// is none.
fn body_start(raw: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' {
            let line = &raw[line_start..i];
            if line.is_empty() || line == b"\r" {
                return (line_start > 0).then_some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> &'static MessageParser {
        &super::super::PARSER
    }

    /// Taken by the quick path, and exactly what mail-parser makes of it.
    fn quick(raw: &str) {
        let raw = raw.as_bytes();
        let got = parse(parser(), raw).unwrap_or_else(|| panic!("not taken: {raw:?}"));
        assert_eq!(Some(&got), parser().parse(raw).as_ref(), "{raw:?}");
    }

    fn refused(raw: &[u8]) {
        assert!(parse(parser(), raw).is_none(), "{raw:?}");
    }

    #[test]
    fn a_lone_plain_text_part_is_read_as_mail_parser_reads_it() {
        quick("From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\nworld\r\n");
        quick("From: a@example.org\nSubject: hi\n\nbare LF\n");
        quick("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, 日本\r\n");
        quick(
            "Subject: x\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\né\r\n",
        );
        quick(
            "Subject: x\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nplain\r\n",
        );
        quick(
            "Subject: folded\r\n header\r\nContent-Type: TEXT/Plain\r\n\r\n\r\nbody after a blank line\r\n",
        );
        quick("Subject: empty body\r\n\r\n");
    }

    #[test]
    fn everything_else_goes_the_long_way() {
        let h = "From: a@example.org\r\n";
        for headers in [
            "Content-Transfer-Encoding: base64\r\n",
            "Content-Transfer-Encoding: Quoted-Printable\r\n",
            "Content-Type: text/html\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n",
            "Content-Type: application/pdf\r\n",
            "Content-Disposition: attachment; filename=a.txt\r\n",
            "Content-Type: text/plain; charset=iso-8859-1\r\n",
        ] {
            refused(format!("{h}{headers}\r\nbody\r\n").as_bytes());
        }
        refused(b"From: a@example.org\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\ncaf\xc3\xa9\r\n");
        refused(b"From: a@example.org\r\n\r\ninvalid \xff UTF-8\r\n");
        refused(b"From: a@example.org\r\nSubject: no body, no blank line\r\n");
        refused(b"\r\nno headers\r\n");
    }
}
