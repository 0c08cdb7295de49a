//! RFC 5322 headers → the Email / Email2 header fields (MS-ASEMAIL 2.2.2).

use chrono::{DateTime, SecondsFormat, Utc};
use mail_parser::{Address, HeaderValue, Message, MimeHeaders};
use sha2::{Digest, Sha256};

/// One mailbox of an address header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

/// The mailboxes of an address header; groups are flattened (EAS has no groups) and
/// entries without an address (an empty group's name) are dropped.
pub(crate) fn mailboxes(addr: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(addr) = addr else {
        return Vec::new();
    };
    let list: Vec<&mail_parser::Addr<'_>> = match addr {
        Address::List(list) => list.iter().collect(),
        Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).collect(),
    };
    list.into_iter()
        .filter_map(|a| {
            let address = a.address.as_deref()?.trim();
            if address.is_empty() {
                return None;
            }
            let name = a
                .name
                .as_deref()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty() && *n != address)
                .map(str::to_string);
            Some(Mailbox {
                name,
                address: address.to_string(),
            })
        })
        .collect()
}

/// RFC 5322 `atext`, plus space and non-ASCII (RFC 6532): what a display name may hold
/// without quotes.
fn phrase_needs_quotes(name: &str) -> bool {
    name.chars().any(|c| {
        !(c.is_ascii_alphanumeric()
            || c == ' '
            || !c.is_ascii() && !c.is_control()
            || "!#$%&'*+-/=?^_`{|}~".contains(c))
    }) || name.contains("  ")
}

fn format_mailbox(m: &Mailbox) -> String {
    match &m.name {
        None => m.address.clone(),
        Some(name) if phrase_needs_quotes(name) => {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\" <{}>", m.address)
        }
        Some(name) => format!("{name} <{}>", m.address),
    }
}

/// An address list as MS-ASEMAIL wants it in To/Cc/From/ReplyTo (2.2.2.79 etc.): the
/// decoded RFC 5322 form, comma-separated.
pub(crate) fn format_address_list(list: &[Mailbox]) -> String {
    list.iter()
        .map(format_mailbox)
        .collect::<Vec<_>>()
        .join(", ")
}

/// DisplayTo (MS-ASEMAIL 2.2.2.28): the display names of the To recipients, separated
/// by semicolons; the address stands in for a missing name.
pub(crate) fn display_to(to: &[Mailbox]) -> String {
    to.iter()
        .map(|m| m.name.clone().unwrap_or_else(|| m.address.clone()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// MS-ASDTYPE 2.3 dateTime: `YYYY-MM-DDTHH:MM:SS.MSSZ` in UTC.
pub(crate) fn eas_datetime(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The Date header as Unix seconds, when present and sane.
pub(crate) fn header_date(msg: &Message<'_>) -> Option<i64> {
    let d = msg.date()?;
    if d.year < 1970 || d.month == 0 || d.month > 12 || d.day == 0 || d.day > 31 {
        return None;
    }
    Some(d.to_timestamp())
}

/// DateReceived (MS-ASEMAIL 2.2.2.22: when the message was received by the server).
/// Decision: the IMAP INTERNALDATE, which is the delivery time as Exchange reports it;
/// the Date header (the sender's clock) only when the INTERNALDATE is unknown (0).
pub(crate) fn date_received(msg: Option<&Message<'_>>, internal_date: i64) -> i64 {
    if internal_date > 0 {
        internal_date
    } else {
        msg.and_then(header_date).unwrap_or(0)
    }
}

/// Subject prefixes that replies and forwards add, in the languages clients commonly use.
const SUBJECT_PREFIXES: &[&str] = &["re", "fwd", "fw", "aw", "wg", "sv", "vs", "tr", "antw"];

/// The subject without leading Re:/Fwd:/AW:/WG: (also "Re[2]:" and repeats).
pub(crate) fn strip_subject_prefixes(subject: &str) -> String {
    let mut s = subject.trim();
    'outer: loop {
        for p in SUBJECT_PREFIXES {
            if s.len() > p.len()
                && s.is_char_boundary(p.len())
                && s[..p.len()].eq_ignore_ascii_case(p)
            {
                let mut rest = &s[p.len()..];
                // "Re[2]:" / "Re(2):"
                if let Some(r) = rest.strip_prefix('[').or_else(|| rest.strip_prefix('(')) {
                    let digits = r.chars().take_while(char::is_ascii_digit).count();
                    if digits > 0 && matches!(r[digits..].chars().next(), Some(']' | ')')) {
                        rest = &r[digits + 1..];
                    }
                }
                let rest = rest.trim_start_matches(' ');
                if let Some(after) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('：')) {
                    s = after.trim_start();
                    continue 'outer;
                }
            }
        }
        break;
    }
    s.to_string()
}

/// ThreadTopic (MS-ASEMAIL 2.2.2.77): the Thread-Topic header, else the subject without
/// reply and forward prefixes.
pub(crate) fn thread_topic(msg: &Message<'_>) -> String {
    if let Some(t) = header_text(msg, "Thread-Topic").filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    strip_subject_prefixes(msg.subject().unwrap_or(""))
}

/// The text of the first header called `name` (any case; mail-parser knows some of
/// these names, e.g. Importance, and not others).
fn header_text<'a>(msg: &'a Message<'_>, name: &str) -> Option<&'a str> {
    msg.headers()
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .and_then(|h| h.value.as_text())
        .map(str::trim)
}

/// Importance (MS-ASEMAIL 2.2.2.40): 0 low, 1 normal, 2 high. From `Importance`
/// (RFC 2156), else `X-Priority` (1–2 high, 4–5 low), else `Priority` (RFC 2156:
/// urgent / non-urgent).
pub(crate) fn importance(msg: &Message<'_>) -> u8 {
    if let Some(v) = header_text(msg, "Importance") {
        let v = v.to_ascii_lowercase();
        if v.starts_with("high") {
            return 2;
        }
        if v.starts_with("low") {
            return 0;
        }
        if v.starts_with("normal") {
            return 1;
        }
    }
    if let Some(v) = header_text(msg, "X-Priority") {
        match v.chars().next() {
            Some('1' | '2') => return 2,
            Some('3') => return 1,
            Some('4' | '5') => return 0,
            _ => {}
        }
    }
    if let Some(v) = header_text(msg, "Priority") {
        let v = v.to_ascii_lowercase();
        if v.starts_with("urgent") {
            return 2;
        }
        if v.starts_with("non-urgent") {
            return 0;
        }
    }
    1
}

/// What kind of item the message is, for MessageClass (MS-ASEMAIL 2.2.2.49) and, later,
/// for the meeting-request fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MessageKind {
    Note,
    /// application/pkcs7-mime: encrypted (or opaque-signed) S/MIME.
    Smime,
    /// multipart/signed: clear-signed.
    SmimeSigned,
    /// A text/calendar part with METHOD REQUEST or CANCEL: IPM.Schedule.Meeting.Request
    /// / .Canceled with an Email:MeetingRequest element (see `meeting_request_element`).
    Meeting {
        method: String,
    },
}

impl MessageKind {
    pub(crate) fn message_class(&self) -> &'static str {
        match self {
            MessageKind::Note => "IPM.Note",
            MessageKind::Meeting { method } if method == "CANCEL" => {
                "IPM.Schedule.Meeting.Canceled"
            }
            MessageKind::Meeting { .. } => "IPM.Schedule.Meeting.Request",
            MessageKind::Smime => "IPM.Note.SMIME",
            MessageKind::SmimeSigned => "IPM.Note.SMIME.MultipartSigned",
        }
    }

    pub(crate) fn is_smime(&self) -> bool {
        matches!(self, MessageKind::Smime | MessageKind::SmimeSigned)
    }
}

pub(crate) fn message_kind(msg: &Message<'_>) -> MessageKind {
    let root = msg.root_part();
    if let Some(ct) = root.content_type() {
        let sub = ct.subtype().unwrap_or("");
        if ct.ctype().eq_ignore_ascii_case("multipart") && sub.eq_ignore_ascii_case("signed") {
            return MessageKind::SmimeSigned;
        }
        if ct.ctype().eq_ignore_ascii_case("application")
            && (sub.eq_ignore_ascii_case("pkcs7-mime") || sub.eq_ignore_ascii_case("x-pkcs7-mime"))
        {
            return MessageKind::Smime;
        }
    }
    for part in &msg.parts {
        if part.is_content_type("text", "calendar") {
            let method = part
                .content_type()
                .and_then(|ct| ct.attribute("method"))
                .map(str::to_ascii_uppercase)
                .or_else(|| {
                    part.text_contents().and_then(|t| {
                        t.lines()
                            .find_map(|l| l.trim().strip_prefix("METHOD:"))
                            .map(|m| m.trim().to_ascii_uppercase())
                    })
                });
            if let Some(method) = method.filter(|m| m == "REQUEST" || m == "CANCEL") {
                return MessageKind::Meeting { method };
            }
        }
    }
    MessageKind::Note
}

/// Email2:Sender (MS-ASEMAIL 2.2.2.71) when the Sender header names someone other than
/// From.
pub(crate) fn sender(msg: &Message<'_>) -> Option<String> {
    let sender = mailboxes(msg.sender());
    let first = sender.first()?;
    let from = mailboxes(msg.from());
    if from
        .iter()
        .any(|f| f.address.eq_ignore_ascii_case(&first.address))
    {
        return None;
    }
    Some(format_address_list(&sender[..1]))
}

fn strip_angle(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(id)
        .trim()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![strip_angle(t).to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| strip_angle(t).to_string()).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

/// The Message-ID of the thread's root: the first of References, else In-Reply-To, else
/// the message's own Message-ID.
pub(crate) fn thread_root_id(msg: &Message<'_>) -> Option<String> {
    id_list(msg.references())
        .into_iter()
        .next()
        .or_else(|| id_list(msg.in_reply_to()).into_iter().next())
        .or_else(|| {
            msg.message_id()
                .map(strip_angle)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
}

/// Email2:ConversationId (MS-ASEMAIL 2.2.2.20, a 16-byte array): the first 16 bytes of
/// SHA-256 over the thread root's Message-ID, so every message of a thread gets the same
/// id and the id is stable. Without any Message-ID, the subject, sender and date stand
/// in (such a message is its own conversation). `rooted`: the id of the thread's root,
/// when the message names one (`root_conversation_id` of [`thread_root_id`]), which the
/// caller works out once: a Sync also keeps it beside the ApplicationData.
pub(crate) fn conversation_id(
    rooted: Option<[u8; 16]>,
    msg: Option<&Message<'_>>,
    internal_date: i64,
) -> [u8; 16] {
    if let Some(id) = rooted {
        return id;
    }
    let (subject, from) = msg
        .map(|m| {
            (
                m.subject().unwrap_or("").to_string(),
                format_address_list(&mailboxes(m.from())),
            )
        })
        .unwrap_or_default();
    let date = msg.and_then(header_date).unwrap_or(internal_date);
    id_of(&format!("noid:{subject}\u{0}{from}\u{0}{date}"))
}

/// The ConversationId of a thread whose root has the Message-ID `root`.
pub(crate) fn root_conversation_id(root: &str) -> [u8; 16] {
    id_of(&format!("mid:{root}"))
}

fn id_of(seed: &str) -> [u8; 16] {
    let digest = Sha256::digest(seed.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// Email2:ConversationIndex (MS-ASEMAIL 2.2.2.21, layout in MS-ASCON 2.2.2.4): the
/// 5-byte header only — the upper 40 bits of the FILETIME of the message's date (the Date
/// header, else INTERNALDATE), big-endian (MS-OXOMSG 2.2.1.3). We add no response levels:
/// we do not know the reply chain's times.
pub(crate) fn conversation_index(msg: Option<&Message<'_>>, internal_date: i64) -> [u8; 5] {
    let unix = msg.and_then(header_date).unwrap_or(internal_date).max(0);
    // FILETIME: 100 ns ticks since 1601-01-01.
    let filetime = (unix as u64 + 11_644_473_600).saturating_mul(10_000_000);
    let top = filetime >> 24;
    let b = top.to_be_bytes();
    [b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Message<'_> {
        super::super::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn address_formatting() {
        let m = parse(
            "From: \"Doe, John\" <john@example.org>\r\n\
             To: Jane Roe <jane@example.org>, bare@example.org, \"Q \\\"x\\\" R\" <q@example.org>\r\n\
             Cc: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>, Team: a@x.org, b@x.org;\r\n\
             Subject: s\r\n\r\nbody",
        );
        assert_eq!(
            format_address_list(&mailboxes(m.from())),
            "\"Doe, John\" <john@example.org>"
        );
        let to = mailboxes(m.to());
        assert_eq!(
            format_address_list(&to),
            "Jane Roe <jane@example.org>, bare@example.org, \"Q \\\"x\\\" R\" <q@example.org>"
        );
        assert_eq!(display_to(&to), "Jane Roe; bare@example.org; Q \"x\" R");
        let cc = format_address_list(&mailboxes(m.cc()));
        assert!(cc.starts_with("Jürgen Müller <jm@example.de>"), "{cc}");
        assert!(cc.contains("a@x.org") && cc.contains("b@x.org"), "{cc}");
    }

    #[test]
    fn subject_prefixes() {
        assert_eq!(strip_subject_prefixes("Re: Fwd: AW: WG: Hello"), "Hello");
        assert_eq!(strip_subject_prefixes("RE[2]: re : Hello"), "Hello");
        assert_eq!(strip_subject_prefixes("Report: ready"), "Report: ready");
        assert_eq!(strip_subject_prefixes("Re:"), "");
        assert_eq!(strip_subject_prefixes("Ärger: ü"), "Ärger: ü");
        let m = parse("Subject: Re: x\r\nThread-Topic: The topic\r\n\r\n");
        assert_eq!(thread_topic(&m), "The topic");
        let m = parse("Subject: Re: Fw: x\r\n\r\n");
        assert_eq!(thread_topic(&m), "x");
    }

    #[test]
    fn importance_headers() {
        let imp = |h: &str| importance(&parse(&format!("{h}\r\nSubject: x\r\n\r\n")));
        assert_eq!(imp("Importance: High"), 2);
        assert_eq!(imp("Importance: low"), 0);
        assert_eq!(imp("X-Priority: 1 (Highest)"), 2);
        assert_eq!(imp("X-Priority: 5"), 0);
        assert_eq!(imp("X-Priority: 3"), 1);
        assert_eq!(imp("Priority: urgent"), 2);
        assert_eq!(imp("Priority: non-urgent"), 0);
        assert_eq!(imp("X-Other: 1"), 1);
        assert_eq!(imp("Importance: normal\r\nX-Priority: 1"), 1);
    }

    #[test]
    fn dates() {
        assert_eq!(eas_datetime(1_706_704_496), "2024-01-31T12:34:56.000Z");
        let m = parse("Date: Wed, 31 Jan 2024 13:34:56 +0100\r\n\r\n");
        assert_eq!(header_date(&m), Some(1_706_704_496));
        assert_eq!(date_received(Some(&m), 1_700_000_000), 1_700_000_000);
        assert_eq!(date_received(Some(&m), 0), 1_706_704_496);
        assert_eq!(date_received(None, 0), 0);
    }

    #[test]
    fn conversation_ids_follow_the_thread_root() {
        let root = parse("Message-ID: <root@x>\r\n\r\n");
        let reply = parse("Message-ID: <r1@x>\r\nIn-Reply-To: <root@x>\r\n\r\n");
        let reply2 = parse(
            "Message-ID: <r2@x>\r\nIn-Reply-To: <r1@x>\r\nReferences: <root@x> <r1@x>\r\n\r\n",
        );
        let other = parse("Message-ID: <other@x>\r\n\r\n");
        let id_of = |m: &Message<'_>, date| {
            let rooted = thread_root_id(m).map(|r| root_conversation_id(&r));
            conversation_id(rooted, Some(m), date)
        };
        let id = id_of(&root, 0);
        assert_eq!(id_of(&reply, 5), id);
        assert_eq!(id_of(&reply2, 7), id);
        assert_ne!(id_of(&other, 0), id);
        // Without any Message-ID: subject, sender and date.
        let lone = parse("Subject: x\r\nFrom: a@example.org\r\n\r\nbody");
        assert_eq!(id_of(&lone, 5), conversation_id(None, Some(&lone), 5));
        assert_ne!(id_of(&lone, 5), id_of(&lone, 6));
    }

    #[test]
    fn conversation_index_is_filetime_top_40_bits() {
        // 2024-01-31T12:34:56Z → FILETIME 133511780960000000 = 0x01DA_5446_0A2D_4800
        let idx = conversation_index(None, 1_706_704_496);
        let ft: u64 = (1_706_704_496u64 + 11_644_473_600) * 10_000_000;
        let expect = (ft >> 24).to_be_bytes();
        assert_eq!(idx, [expect[3], expect[4], expect[5], expect[6], expect[7]]);
        assert_eq!(idx[0], 0x01);
    }

    #[test]
    fn kinds() {
        let signed = parse(
            "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
             Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\r\nxx\r\n--b--\r\n",
        );
        assert_eq!(
            message_kind(&signed).message_class(),
            "IPM.Note.SMIME.MultipartSigned"
        );
        let enc = parse(
            "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n",
        );
        assert_eq!(message_kind(&enc).message_class(), "IPM.Note.SMIME");
        let invite = parse(
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nInvite\r\n--b\r\n\
             Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n\
             BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n--b--\r\n",
        );
        let kind = message_kind(&invite);
        assert_eq!(
            kind,
            MessageKind::Meeting {
                method: "REQUEST".into()
            }
        );
        assert_eq!(kind.message_class(), "IPM.Schedule.Meeting.Request");
        assert_eq!(
            message_kind(&parse("Subject: x\r\n\r\nx")),
            MessageKind::Note
        );
    }

    #[test]
    fn sender_only_when_different() {
        let m = parse("From: a@x.org\r\nSender: A <A@X.org>\r\n\r\n");
        assert_eq!(sender(&m), None);
        let m = parse("From: a@x.org\r\nSender: Sec <sec@x.org>\r\n\r\n");
        assert_eq!(sender(&m).as_deref(), Some("Sec <sec@x.org>"));
        let m = parse("From: a@x.org\r\n\r\n");
        assert_eq!(sender(&m), None);
    }
}
