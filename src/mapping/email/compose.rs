//! Outgoing mail (SendMail, SmartReply, SmartForward): the device's RFC 5322 message →
//! what is submitted and what is kept in Sent. Pure: no I/O.
//!
//! # Decisions
//!
//! * **From control**: every From (and Sender) address must be one of the account's
//!   addresses; a message without From gets the login address. Anything else is
//!   refused before anything is sent.
//! * **Recipients** are To, Cc and Bcc (groups flattened, duplicates dropped). The
//!   submitted message carries no Bcc header; the Sent copy keeps it, as every mail
//!   client's Sent copy does, so the sender can still see whom they blind-copied.
//! * **Date** and **Message-ID** are added when the device left them out.
//! * **SmartReply / SmartForward** without ReplaceMime: the device sends only its new
//!   text; the message is rebuilt as `multipart/mixed` (when it has attachments) of a
//!   `multipart/alternative` plain + HTML body, where the original follows the new
//!   text below an Outlook-style "Original Message" header block (plain text quoted
//!   with `> ` on reply; the HTML original inside a `<blockquote>`). A forward also
//!   carries the original's attachments, as Exchange does. A reply gets In-Reply-To
//!   and References when the device did not set them.
//! * **A forwarded meeting** ([`Original::ForwardMeeting`]) also carries its iTIP
//!   REQUEST as the last alternative, `text/calendar; method=REQUEST` beside the plain
//!   and HTML text (RFC 6047 2.4), so the recipients' clients show a meeting request.

use base64::Engine;
use chrono::{DateTime, Utc};
use mail_parser::Message;

use super::{attachments, body, fields, parse};

/// What to submit and what to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// MAIL FROM: the From address.
    pub envelope_from: String,
    /// RCPT TO: To, Cc and Bcc.
    pub recipients: Vec<String>,
    /// The message as submitted (no Bcc header).
    pub wire: Vec<u8>,
    /// The message as kept in Sent (with Bcc).
    pub sent_copy: Vec<u8>,
}

/// Why a message cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("the message is not RFC 5322")]
    Unreadable,
    #[error("the message has no recipient")]
    NoRecipients,
    #[error("{0} is not an address of this account")]
    FromNotAllowed(String),
}

/// The message a SmartReply / SmartForward refers to.
#[derive(Debug, Clone, Copy)]
pub enum Original<'a> {
    /// SendMail, or ReplaceMime: the device's message is complete.
    None,
    Reply(&'a [u8]),
    Forward(&'a [u8]),
    /// A calendar item forwarded: `original` is quoted as on a forward and `request`
    /// (an iTIP REQUEST) rides along as the `text/calendar; method=REQUEST` alternative,
    /// so that the recipients get a meeting request (RFC 6047 2.4).
    ForwardMeeting {
        original: &'a [u8],
        request: &'a [u8],
    },
}

/// One header field, folded lines included (without the final CRLF).
#[derive(Debug, Clone)]
struct Field {
    name: String,
    text: String,
}

/// Splits a message into its header fields and its body. None when there is no
/// header section at all.
fn split(raw: &[u8]) -> Option<(Vec<Field>, &[u8])> {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = 0;
    loop {
        let end = raw[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i);
        let Some(end) = end else {
            // Headers only, no body.
            let line = String::from_utf8_lossy(&raw[pos..])
                .trim_end_matches('\r')
                .to_string();
            if !line.is_empty() {
                push_line(&mut fields, line)?;
            }
            return (!fields.is_empty()).then_some((fields, &raw[raw.len()..]));
        };
        let line = String::from_utf8_lossy(&raw[pos..end])
            .trim_end_matches('\r')
            .to_string();
        pos = end + 1;
        if line.is_empty() {
            return (!fields.is_empty()).then_some((fields, &raw[pos..]));
        }
        push_line(&mut fields, line)?;
    }
}

fn push_line(fields: &mut Vec<Field>, line: String) -> Option<()> {
    if line.starts_with([' ', '\t']) {
        let last = fields.last_mut()?;
        last.text.push_str("\r\n");
        last.text.push_str(&line);
        return Some(());
    }
    let (name, _) = line.split_once(':')?;
    if name.is_empty() || name.contains([' ', '\t']) {
        return None;
    }
    fields.push(Field {
        name: name.to_string(),
        text: line,
    });
    Some(())
}

fn has(fields: &[Field], name: &str) -> bool {
    fields.iter().any(|f| f.name.eq_ignore_ascii_case(name))
}

fn render(fields: &[Field], skip: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 1024);
    for f in fields
        .iter()
        .filter(|f| !skip.iter().any(|s| f.name.eq_ignore_ascii_case(s)))
    {
        out.extend_from_slice(f.text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn header(name: &str, value: &str) -> Field {
    Field {
        name: name.to_string(),
        text: format!("{name}: {value}"),
    }
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

fn message_id_of(msg: &Message<'_>) -> Option<String> {
    msg.message_id()
        .map(|id| format!("<{}>", id.trim_matches(['<', '>', ' '])))
}

/// To, Cc and Bcc addresses, groups flattened, each once.
fn recipients_of(msg: &Message<'_>) -> Vec<String> {
    let mut recipients: Vec<String> = Vec::new();
    for m in [msg.to(), msg.cc(), msg.bcc()]
        .into_iter()
        .flat_map(fields::mailboxes)
    {
        if !recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&m.address))
        {
            recipients.push(m.address);
        }
    }
    recipients
}

/// The device's message of a 16.x SmartForward that names its recipients in Forwardees
/// and its new text in airsyncbase:Body instead of sending MIME (MS-ASCMD 2.2.3.169):
/// To the forwardees (`(name, address)`; an address that could break the header is
/// left out), Subject "FW: " and the original's subject, the text as a plain or HTML
/// body. [`prepare`] then completes it like any other forward.
pub fn forward_message(
    forwardees: &[(Option<String>, String)],
    original: &[u8],
    text: &str,
    html: bool,
) -> Vec<u8> {
    let plain_address = |a: &str| {
        !a.is_empty()
            && a.contains('@')
            && !a
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c))
    };
    let to: Vec<String> = forwardees
        .iter()
        .filter(|(_, address)| plain_address(address))
        .map(|(name, address)| match name {
            Some(n) if !n.trim().is_empty() => {
                let n: String = n.trim().chars().filter(|c| !c.is_control()).collect();
                if n.is_ascii() {
                    let quoted = n.replace('\\', "\\\\").replace('"', "\\\"");
                    format!("\"{quoted}\" <{address}>")
                } else {
                    // RFC 2047 §5: an encoded word stands alone, never inside quotes.
                    format!("{} <{address}>", encode_word(&n))
                }
            }
            _ => address.clone(),
        })
        .collect();
    let subject = parse(original)
        .and_then(|m| m.subject().map(|s| s.replace(['\r', '\n'], " ")))
        .unwrap_or_default();
    let kind = if html { "html" } else { "plain" };
    let mut out = String::new();
    if !to.is_empty() {
        out.push_str(&format!("To: {}\r\n", to.join(", ")));
    }
    out.push_str(&format!(
        "Subject: {}\r\n",
        encode_word(&format!("FW: {subject}"))
    ));
    out.push_str(&format!(
        "MIME-Version: 1.0\r\nContent-Type: text/{kind}; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    ));
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The addresses a device's message goes to (To, Cc, Bcc); empty when it cannot be read.
pub fn recipients(raw: &[u8]) -> Vec<String> {
    parse(raw).map(|m| recipients_of(&m)).unwrap_or_default()
}

/// Prepares a message for sending. `allowed_from` are the account's addresses
/// (compared without regard to case); `login_address` fills a missing From.
pub fn prepare(
    raw: &[u8],
    original: Original<'_>,
    allowed_from: &[String],
    login_address: &str,
    now: DateTime<Utc>,
) -> Result<Prepared, ComposeError> {
    let (mut fields, body) = split(raw).ok_or(ComposeError::Unreadable)?;
    let msg = parse(raw).ok_or(ComposeError::Unreadable)?;
    let allowed = |a: &str| allowed_from.iter().any(|x| x.eq_ignore_ascii_case(a));

    let from = fields::mailboxes(msg.from());
    let sender = fields::mailboxes(msg.sender());
    if let Some(bad) = from
        .iter()
        .chain(sender.iter())
        .find(|m| !allowed(&m.address))
    {
        return Err(ComposeError::FromNotAllowed(bad.address.clone()));
    }
    if has(&fields, "From") && from.is_empty() {
        // A From header whose address cannot be read is not the account's.
        return Err(ComposeError::FromNotAllowed("(unreadable From)".into()));
    }
    let envelope_from = match from.first() {
        Some(m) => m.address.clone(),
        None => {
            fields.insert(0, header("From", login_address));
            login_address.to_string()
        }
    };
    let recipients = recipients_of(&msg);
    if recipients.is_empty() {
        return Err(ComposeError::NoRecipients);
    }
    if !has(&fields, "Date") {
        fields.push(header(
            "Date",
            &now.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        ));
    }
    if !has(&fields, "Message-ID") {
        let domain = envelope_from.rsplit_once('@').map_or("airsync", |(_, d)| d);
        let id = format!(
            "<{:016x}{:08x}.airsync@{domain}>",
            rand::random::<u64>(),
            now.timestamp() as u32
        );
        fields.push(header("Message-ID", &id));
    }

    let rebuilt;
    let body = match original {
        Original::None => body,
        Original::Reply(orig)
        | Original::Forward(orig)
        | Original::ForwardMeeting { original: orig, .. } => {
            let forward = !matches!(original, Original::Reply(_));
            let request = match original {
                Original::ForwardMeeting { request, .. } => Some(request),
                _ => None,
            };
            let orig_msg = parse(orig).ok_or(ComposeError::Unreadable)?;
            if !forward && let Some(id) = message_id_of(&orig_msg) {
                if !has(&fields, "In-Reply-To") {
                    fields.push(header("In-Reply-To", &id));
                }
                if !has(&fields, "References") {
                    let refs = orig_msg
                        .references()
                        .as_text_list()
                        .map(|l| {
                            l.iter()
                                .map(|r| format!("<{}>", r.trim_matches(['<', '>', ' '])))
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .filter(|s| !s.is_empty());
                    let value = match refs {
                        Some(r) => format!("{r} {id}"),
                        None => id,
                    };
                    fields.push(header("References", &value));
                }
            }
            let (content_fields, new_body) = combine(raw, &msg, orig, &orig_msg, forward, request);
            fields.retain(|f| {
                !["Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
                    .iter()
                    .any(|n| f.name.eq_ignore_ascii_case(n))
            });
            fields.push(header("MIME-Version", "1.0"));
            fields.extend(content_fields);
            rebuilt = new_body;
            &rebuilt[..]
        }
    };
    Ok(Prepared {
        envelope_from,
        recipients,
        wire: render(&fields, &["Bcc"], body),
        sent_copy: render(&fields, &[], body),
    })
}

/// The "Original Message" block in plain text and HTML.
fn original_header(orig: &Message<'_>) -> (String, String) {
    let list = |a| fields::format_address_list(&fields::mailboxes(a));
    let date = orig.date().map(|d| d.to_rfc822()).unwrap_or_default();
    let mut rows: Vec<(&str, String)> = vec![
        ("From", list(orig.from())),
        ("Sent", date),
        ("To", list(orig.to())),
    ];
    let cc = list(orig.cc());
    if !cc.is_empty() {
        rows.push(("Cc", cc));
    }
    rows.push(("Subject", orig.subject().unwrap_or("").to_string()));
    let mut plain = String::from("-----Original Message-----\r\n");
    let mut html = String::from("<hr><div>");
    for (k, v) in rows {
        plain.push_str(&format!("{k}: {v}\r\n"));
        html.push_str(&format!("<b>{k}:</b> {}<br>", escape_html(&v)));
    }
    html.push_str("</div>");
    (plain, html)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The inside of an HTML document's `<body>` (the whole text when it has none).
fn body_inner(html: &str) -> &str {
    let lower = html.to_ascii_lowercase();
    let start = lower
        .find("<body")
        .and_then(|i| lower[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let end = lower
        .rfind("</body>")
        .filter(|&e| e >= start)
        .unwrap_or(html.len());
    &html[start..end]
}

/// Appends `tail` inside the `<body>` of `html` (or at its end).
fn append_html(html: &str, tail: &str) -> String {
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(i) => format!("{}{tail}{}", &html[..i], &html[i..]),
        None => format!("{html}{tail}"),
    }
}

struct Part {
    content_type: String,
    name: Option<String>,
    content_id: Option<String>,
    inline: bool,
    data: Vec<u8>,
}

fn attachment_parts(raw: &[u8], msg: &Message<'_>) -> Vec<Part> {
    let html = super::bodies(Some(msg), raw).html;
    attachments::list(msg, html.as_deref())
        .into_iter()
        .filter_map(|info| {
            let part = msg.parts.get(info.part_id)?;
            Some(Part {
                data: attachments::decoded(msg, part),
                content_type: info.content_type,
                name: Some(info.display_name),
                content_id: info.content_id,
                inline: info.is_inline,
            })
        })
        .collect()
}

/// The new text above the original, and a meeting request as the last alternative
/// when there is one; returns (the Content-* header fields, body bytes).
fn combine(
    raw: &[u8],
    msg: &Message<'_>,
    orig_raw: &[u8],
    orig: &Message<'_>,
    forward: bool,
    request: Option<&[u8]>,
) -> (Vec<Field>, Vec<u8>) {
    let new = super::bodies(Some(msg), raw);
    let old = super::bodies(Some(orig), orig_raw);
    let (head_plain, head_html) = original_header(orig);
    let old_plain = old.as_plain().into_owned();
    let quoted = if forward {
        old_plain
    } else {
        old_plain
            .lines()
            .map(|l| {
                if l.is_empty() {
                    ">".to_string()
                } else {
                    format!("> {l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let plain = format!(
        "{}\r\n\r\n{head_plain}\r\n{quoted}\r\n",
        new.as_plain().trim_end()
    );
    let html = (new.html.is_some() || old.html.is_some()).then(|| {
        let old_html = old.html.as_deref().map(|h| body_inner(h).to_string()).unwrap_or_else(|| body::text_to_html(&old.as_plain()));
        let tail = format!("{head_html}<blockquote style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex\">{old_html}</blockquote>");
        append_html(&new.as_html(), &tail)
    });
    let mut attached = attachment_parts(raw, msg);
    if forward {
        attached.extend(attachment_parts(orig_raw, orig));
    }
    let text_part = |ct: &str, s: &str| Part {
        content_type: ct.into(),
        name: None,
        content_id: None,
        inline: false,
        data: s.as_bytes().to_vec(),
    };
    let mut alternatives = vec![text_part("text/plain", &plain)];
    if let Some(h) = html {
        alternatives.push(text_part("text/html", &h));
    }
    if let Some(ics) = request {
        alternatives.push(Part {
            content_type: "text/calendar; method=REQUEST".into(),
            name: None,
            content_id: None,
            inline: false,
            data: ics.to_vec(),
        });
    }
    let alternative = match alternatives.as_slice() {
        [only] => leaf(only),
        all => multipart("alternative", all),
    };
    if attached.is_empty() {
        return split_entity(alternative);
    }
    let mut out = Vec::new();
    let boundary = new_boundary();
    for bytes in std::iter::once(alternative).chain(attached.iter().map(leaf)) {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(&bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (
        vec![header(
            "Content-Type",
            &format!("multipart/mixed; boundary=\"{boundary}\""),
        )],
        out,
    )
}

fn new_boundary() -> String {
    format!(
        "=_airsync_{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

/// A leaf MIME entity (headers + base64 body).
fn leaf(p: &Part) -> Vec<u8> {
    let mut ct = p.content_type.clone();
    if ct.starts_with("text/") {
        ct.push_str("; charset=utf-8");
    }
    let mut out = String::new();
    if let Some(name) = &p.name {
        let name = encode_word(&name.replace(['"', '\\', '\r', '\n'], "_"));
        out.push_str(&format!("Content-Type: {ct}; name=\"{name}\"\r\n"));
        let disposition = if p.inline { "inline" } else { "attachment" };
        out.push_str(&format!(
            "Content-Disposition: {disposition}; filename=\"{name}\"\r\n"
        ));
    } else {
        out.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if let Some(cid) = p
        .content_id
        .as_deref()
        .filter(|c| !c.contains(['\r', '\n']))
    {
        out.push_str(&format!("Content-ID: <{cid}>\r\n"));
    }
    out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&p.data);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn multipart(subtype: &str, parts: &[Part]) -> Vec<u8> {
    let boundary = new_boundary();
    let mut out =
        format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    for p in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(&leaf(p));
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// One of our own entities as the message's Content-* header fields and body.
fn split_entity(entity: Vec<u8>) -> (Vec<Field>, Vec<u8>) {
    match split(&entity) {
        Some((fields, body)) => (fields, body.to_vec()),
        None => (Vec::new(), entity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["alice@example.org".into(), "Sales@example.org".into()]
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn from_control_and_recipients() {
        let raw = b"From: Alice <alice@example.org>\r\nTo: bob@example.org, Carol <carol@x.org>\r\nCc: bob@example.org\r\nBcc: dave@y.org\r\nSubject: hi\r\n\r\nbody\r\n";
        let p = prepare(raw, Original::None, &allowed(), "alice@example.org", now()).unwrap();
        assert_eq!(p.envelope_from, "alice@example.org");
        assert_eq!(
            p.recipients,
            vec!["bob@example.org", "carol@x.org", "dave@y.org"]
        );
        let wire = String::from_utf8(p.wire).unwrap();
        assert!(!wire.contains("Bcc") && !wire.contains("dave@"), "{wire}");
        assert!(
            wire.contains("Message-ID: <")
                && wire.contains("Date: ")
                && wire.ends_with("\r\n\r\nbody\r\n"),
            "{wire}"
        );
        assert!(
            String::from_utf8(p.sent_copy)
                .unwrap()
                .contains("Bcc: dave@y.org")
        );

        let alias = b"From: sales@EXAMPLE.org\r\nTo: b@x.org\r\n\r\nx";
        assert!(
            prepare(
                alias,
                Original::None,
                &allowed(),
                "alice@example.org",
                now()
            )
            .is_ok()
        );
        let forged = b"From: Boss <boss@example.org>\r\nTo: b@x.org\r\n\r\nx";
        assert_eq!(
            prepare(
                forged,
                Original::None,
                &allowed(),
                "alice@example.org",
                now()
            ),
            Err(ComposeError::FromNotAllowed("boss@example.org".into()))
        );
        let sender = b"From: alice@example.org\r\nSender: boss@example.org\r\nTo: b@x.org\r\n\r\nx";
        assert!(matches!(
            prepare(
                sender,
                Original::None,
                &allowed(),
                "alice@example.org",
                now()
            ),
            Err(ComposeError::FromNotAllowed(_))
        ));
        let none = b"From: alice@example.org\r\nSubject: x\r\n\r\nx";
        assert_eq!(
            prepare(none, Original::None, &allowed(), "alice@example.org", now()),
            Err(ComposeError::NoRecipients)
        );
        let missing = b"To: b@x.org\nSubject: x\n\nx";
        let p = prepare(
            missing,
            Original::None,
            &allowed(),
            "alice@example.org",
            now(),
        )
        .unwrap();
        assert!(
            String::from_utf8(p.wire)
                .unwrap()
                .starts_with("From: alice@example.org\r\nTo: b@x.org\r\n")
        );
        assert_eq!(
            prepare(b"no headers here", Original::None, &allowed(), "a@x", now()),
            Err(ComposeError::Unreadable)
        );
    }

    const ORIGINAL: &[u8] = b"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: Plans\r\nMessage-ID: <orig-1@x>\r\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Original <b>text</b></p></body></html>\r\n\
--b\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n--b--\r\n";

    #[test]
    fn forward_message_from_forwardees() {
        let original = b"Subject: Budget review\r\n\r\nx";
        let to = vec![
            (
                Some("Dave \"D\" Dee".to_string()),
                "dave@example.org".to_string(),
            ),
            (Some("Jürgen".to_string()), "j@example.org".to_string()),
            (None, "erin@example.org".to_string()),
            // Would add a header, or a second recipient: left out.
            (None, "x@example.org\r\nBcc: evil@example.org".to_string()),
            (None, "a@example.org, b@example.org".to_string()),
        ];
        let raw = forward_message(&to, original, "Please join.", false);
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(
            text.starts_with(
                "To: \"Dave \\\"D\\\" Dee\" <dave@example.org>, =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>, erin@example.org\r\nSubject: FW: Budget review\r\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("evil") && !text.contains("b@example.org"),
            "{text}"
        );
        assert_eq!(
            recipients(&raw),
            vec!["dave@example.org", "j@example.org", "erin@example.org"]
        );
        let msg = parse(&raw).unwrap();
        assert_eq!(msg.body_text(0).unwrap().trim_end(), "Please join.");
        let html =
            String::from_utf8(forward_message(&to[2..3], original, "<p>x</p>", true)).unwrap();
        assert!(
            html.contains("Content-Type: text/html; charset=utf-8"),
            "{html}"
        );
    }

    #[test]
    fn reply_quotes_and_threads() {
        let reply = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: RE: Plans\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSounds good.\r\n";
        let p = prepare(
            reply,
            Original::Reply(ORIGINAL),
            &allowed(),
            "alice@example.org",
            now(),
        )
        .unwrap();
        let msg = parse(&p.wire).unwrap();
        let plain = msg.body_text(0).unwrap().to_string();
        assert!(plain.starts_with("Sounds good."), "{plain}");
        assert!(
            plain.contains("-----Original Message-----") && plain.contains("> Original text"),
            "{plain}"
        );
        let html = msg.body_html(0).unwrap().to_string();
        assert!(
            html.contains("<blockquote") && html.contains("<b>text</b>"),
            "{html}"
        );
        assert_eq!(msg.in_reply_to().as_text(), Some("orig-1@x"));
        assert!(
            msg.attachments().next().is_none(),
            "a reply carries no attachment of the original"
        );
    }

    #[test]
    fn forward_carries_attachments() {
        let fwd = b"From: alice@example.org\r\nTo: carol@x.org\r\nSubject: FW: Plans\r\n\r\nSee below.\r\n";
        let p = prepare(
            fwd,
            Original::Forward(ORIGINAL),
            &allowed(),
            "alice@example.org",
            now(),
        )
        .unwrap();
        let msg = parse(&p.wire).unwrap();
        let plain = msg.body_text(0).unwrap().to_string();
        assert!(
            plain.starts_with("See below.")
                && plain.contains("Original text")
                && !plain.contains("> "),
            "{plain}"
        );
        let att: Vec<_> = msg.attachments().collect();
        assert_eq!(att.len(), 1);
        assert_eq!(att[0].contents(), &[0, 1, 2, 0xff]);
        assert_eq!(
            crate::mapping::email::attachment(&p.wire, 0).unwrap().name,
            "data.bin"
        );
    }
}
