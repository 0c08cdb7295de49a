//! Mail items: an RFC 5322 / MIME message with its IMAP metadata → the EAS Email class
//! (MS-ASEMAIL, MS-ASAIRS Body and Attachments, Email2), and a client's flag changes →
//! IMAP flag changes. Pure: no I/O, no store. Sync, ItemOperations and Search call
//! [`to_application_data`], [`attachment`] and [`flag_change`].
//!
//! # Decisions
//!
//! * **Parsing** is mail-parser's (every charset it knows is decoded to UTF-8; headers
//!   and encoded words per RFC 2047/2231). A message it cannot parse, or that makes it
//!   panic, still converts: no headers (empty fields), the raw bytes as the plain body,
//!   no attachments. A single bad item never fails a Sync; [`ConvertError`] exists for
//!   callers' signatures but [`to_application_data`] only returns it for empty input.
//! * **DateReceived** is the IMAP INTERNALDATE (delivery time, as Exchange reports it);
//!   the Date header only when INTERNALDATE is 0.
//! * **Element order**: the order Exchange uses and MS-ASEMAIL's examples show: To, Cc,
//!   From, Subject, ReplyTo, DateReceived, DisplayTo, ThreadTopic, Importance, Read,
//!   Attachments, Body, MessageClass, InternetCPID, Flag, ContentClass, NativeBodyType,
//!   ConversationId, ConversationIndex, LastVerbExecuted, Sender, Categories, IsDraft.
//!   To, From, Subject, DisplayTo and ThreadTopic are always sent (empty when the header
//!   is missing); Cc and ReplyTo only when present.
//! * **Versions**: AirSyncBase Body/Attachments from 12.0 (airsync serves no 2.5).
//!   NativeBodyType, Preview, Categories and all Email2 elements from 14.0; IsDraft from
//!   16.0.
//! * **InternetCPID** is 65001: bodies are always sent as UTF-8.
//! * **Flag** completion, **Categories** storage and **LastVerbExecuted**: see
//!   [`flags`](self::flags) — `$Completed` marks a completed follow-up, category names
//!   are stored as IMAP keywords with a modified UTF-7 escape, reply wins over forward.
//!   The flag's status is token 0x3B of the Email page: `Email::Status` in our tables
//!   (MS-ASEMAIL 2.2.2.74 Status), `FlagStatus` in libwbxml's.
//! * **ReceivedAsBcc** is never sent: without the envelope recipient we cannot know it,
//!   and the header heuristic ("the account is in neither To nor Cc") is wrong for every
//!   mailing-list message and alias.
//! * **Body**: see [`body`](self::body) — no BodyPreference means plain text, not
//!   truncated; MIME Data is an inline string when it is valid UTF-8 without NUL, else
//!   OPAQUE with the exact bytes.
//! * **Meeting requests** (a text/calendar part with METHOD REQUEST / CANCEL) are
//!   IPM.Schedule.Meeting.Request / IPM.Schedule.Meeting.Canceled with the
//!   Email:MeetingRequest element, built by `mapping::calendar::meeting` (times in
//!   UTC, TimeZone of the event's own zone, GlobalObjId from the UID). A calendar part
//!   that cannot be read leaves the message an IPM.Note.

mod attachments;
pub(crate) mod body;
pub mod compose;
mod fields;
mod flags;
mod single_part;

use airsync_model::{FlagChange, MessageMeta};
use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};

use crate::eas::ProtocolVersion;
use crate::wbxml::pages::{AirSync, AirSyncBase, Email, Email2};
use crate::wbxml::{Element, Node};

pub use attachments::{METHOD_EMBEDDED_MESSAGE, METHOD_NORMAL};
pub use body::{MAX_PREVIEW, TYPE_HTML, TYPE_MIME, TYPE_PLAIN, TYPE_RTF};

/// One airsync:BodyPreference (MS-ASAIRS 2.2.2.7), as the EAS layer parses it.
pub use crate::eas::sync::BodyPreference;

/// What the client asked for, for one item.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    pub version: ProtocolVersion,
    /// In the client's order.
    pub body_preferences: Vec<BodyPreference>,
    /// AirSync:MIMESupport 0/1/2 (2 = always send MIME, i.e. type 4; 1 = for S/MIME).
    pub mime_support: u8,
    /// AirSync:MIMETruncation as bytes, already decoded from the enum (12.x).
    pub mime_truncation: Option<u32>,
    /// `"{folder}:{uid}"`, used to build FileReference values.
    pub server_id: String,
}

/// Input that cannot be converted at all.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    /// There is no message: zero bytes.
    #[error("empty message")]
    Empty,
}

/// The decoded content of one attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentData {
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// The name shown as DisplayName.
    pub name: String,
    /// Transfer-decoded bytes.
    pub data: Vec<u8>,
}

/// MS-ASEMAIL 2.2.2.39 InternetCPID of UTF-8.
const CPID_UTF8: &str = "65001";
const CONTENT_CLASS: &str = "urn:content-classes:message";

/// The one mail-parser configuration, built once: building it fills a map of header
/// parsers, which cost as much as parsing a short message.
static PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .header_text(HeaderName::Comments)
        // Thread-Topic, Importance, X-Priority…: unstructured, RFC 2047 decoded.
        .default_header_text()
});

/// Parses with mail-parser; a lone plain-text part without mail-parser's decoding of
/// its body (`single_part.rs`). A panic inside the parser (it has debug assertions and
/// index arithmetic on hostile input) is caught and treated as unparseable.
fn parse(raw: &[u8]) -> Option<Message<'_>> {
    let parser: &MessageParser = &PARSER;
    let full = || {
        std::panic::catch_unwind(move || parser.parse(raw))
            .ok()
            .flatten()
    };
    match std::panic::catch_unwind(move || single_part::parse(parser, raw)) {
        Ok(Some(quick)) => {
            debug_assert_eq!(Some(&quick), full().as_ref(), "single_part::parse differs");
            Some(quick)
        }
        _ => full(),
    }
}

/// The displayed bodies, decoded. mail-parser lists an HTML-only message's HTML part
/// among the text bodies too (and the reverse), so the part types decide.
fn bodies(msg: Option<&Message<'_>>, raw: &[u8]) -> body::Bodies {
    let Some(msg) = msg else {
        return body::Bodies {
            plain: Some(String::from_utf8_lossy(raw).into_owned()),
            html: None,
        };
    };
    let collect = |ids: &[u32], want_html: bool| -> Option<String> {
        let texts: Vec<&str> = ids
            .iter()
            .filter_map(|&id| msg.parts.get(id as usize))
            .filter_map(|p| match (&p.body, want_html) {
                (PartType::Text(t), false) | (PartType::Html(t), true) => Some(t.as_ref()),
                _ => None,
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n"))
    };
    body::Bodies {
        plain: collect(&msg.text_body, false),
        html: collect(&msg.html_body, true),
    }
}

/// The text/calendar part of a message: (METHOD upper case, iCalendar bytes). The
/// METHOD comes from the Content-Type parameter, else from the object itself.
fn calendar_of(msg: &Message<'_>) -> Option<(String, Vec<u8>)> {
    let part = msg
        .parts
        .iter()
        .find(|p| p.is_content_type("text", "calendar"))?;
    let text = part.text_contents()?.as_bytes().to_vec();
    let method = part
        .content_type()
        .and_then(|ct| ct.attribute("method"))
        .map(str::to_ascii_uppercase)
        .or_else(|| {
            crate::mapping::ical::parse(&text)?
                .text("METHOD")
                .map(|m| m.to_ascii_uppercase())
        })
        .unwrap_or_default();
    Some((method, text))
}

/// The Message-ID of a message, without angle brackets.
pub fn message_id(raw: &[u8]) -> Option<String> {
    parse(raw)?.message_id().map(str::to_string)
}

/// The conversation a message belongs to: its Email2:ConversationId and the Message-ID
/// of the thread's root, which is what the id is a hash of. Only the header block is
/// parsed. None for a message with no Message-ID, References or In-Reply-To (such a
/// message is a conversation of its own that nothing else can join).
pub fn conversation(raw: &[u8]) -> Option<([u8; 16], String)> {
    let end = header_end(raw);
    let msg = parse(&raw[..end])?;
    let root = fields::thread_root_id(&msg)?;
    Some((fields::root_conversation_id(&root), root))
}

/// The length of the header block including the blank line that ends it (the whole
/// message when it has no body).
fn header_end(raw: &[u8]) -> usize {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(raw.len()),
    }
}

/// The first From address of a message.
pub fn from_address(raw: &[u8]) -> Option<String> {
    let msg = parse(raw)?;
    fields::mailboxes(msg.from())
        .into_iter()
        .next()
        .map(|m| m.address)
}

/// The iTIP object a message carries (iMIP, RFC 6047): (METHOD, iCalendar bytes).
pub fn calendar_part(raw: &[u8]) -> Option<(String, Vec<u8>)> {
    calendar_of(&parse(raw)?)
}

/// The Email:MeetingRequest element (MS-ASEMAIL 2.2.2.48) of a meeting message
/// (METHOD REQUEST or CANCEL); None for other messages and for calendar parts that
/// cannot be read (the message is then an ordinary IPM.Note).
fn meeting_request_element(
    kind: &fields::MessageKind,
    msg: &Message<'_>,
    version: ProtocolVersion,
) -> Option<Element> {
    if !matches!(kind, fields::MessageKind::Meeting { .. }) {
        return None;
    }
    let (_, ics) = calendar_of(msg)?;
    let opts = crate::mapping::calendar::CalendarOptions::new(version);
    crate::mapping::calendar::meeting::meeting_request_element(&ics, &opts).ok()
}

/// MIME → `<AirSync:ApplicationData>` with the Email / AirSyncBase / Email2 elements
/// in the order described in the module docs.
pub fn to_application_data(
    raw: &[u8],
    meta: &MessageMeta,
    opts: &ConvertOptions,
) -> Result<Element, ConvertError> {
    if raw.is_empty() {
        return Err(ConvertError::Empty);
    }
    let msg = parse(raw);
    application_data_of(
        msg.as_ref(),
        raw,
        meta,
        opts,
        rooted_conversation(msg.as_ref()),
    )
}

/// The ConversationId of the thread a message belongs to, when it names its root.
fn rooted_conversation(msg: Option<&Message<'_>>) -> Option<[u8; 16]> {
    msg.and_then(fields::thread_root_id)
        .map(|root| fields::root_conversation_id(&root))
}

/// What a mail Sync needs of a message it offers, read from one parse.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The `<AirSync:ApplicationData>` ([`to_application_data`]).
    pub data: Result<Element, ConvertError>,
    /// The ConversationId of the thread it belongs to, as [`conversation`] finds it.
    pub conversation: Option<[u8; 16]>,
    /// It carries an iTIP REPLY (a meeting answer for the organizer's calendar).
    pub itip_reply: bool,
}

/// [`to_application_data`], [`conversation`] and the iTIP METHOD of
/// [`calendar_part`] together, parsing the message once instead of three times.
pub fn convert(raw: &[u8], meta: &MessageMeta, opts: &ConvertOptions) -> Converted {
    if raw.is_empty() {
        return Converted {
            data: Err(ConvertError::Empty),
            conversation: None,
            itip_reply: false,
        };
    }
    let msg = parse(raw);
    let msg = msg.as_ref();
    let conversation = rooted_conversation(msg);
    Converted {
        data: application_data_of(msg, raw, meta, opts, conversation),
        conversation,
        itip_reply: msg
            .and_then(calendar_of)
            .is_some_and(|(method, _)| method == "REPLY"),
    }
}

/// `conversation`: [`rooted_conversation`] of `msg`, worked out once by the caller.
fn application_data_of(
    msg: Option<&Message<'_>>,
    raw: &[u8],
    meta: &MessageMeta,
    opts: &ConvertOptions,
    conversation: Option<[u8; 16]>,
) -> Result<Element, ConvertError> {
    let v14 = opts.version >= ProtocolVersion::V14_0;
    let visible = flags::VisibleFlags::from_imap(&meta.flags);
    let bodies = bodies(msg, raw);
    let mut kind = msg.map_or(fields::MessageKind::Note, fields::message_kind);
    let meeting = msg.and_then(|m| meeting_request_element(&kind, m, opts.version));
    if meeting.is_none() && matches!(kind, fields::MessageKind::Meeting { .. }) {
        kind = fields::MessageKind::Note;
    }

    let mut app = Element::new(AirSync::ApplicationData);
    let text = |tag, value: String| {
        if value.is_empty() {
            Element::new(tag)
        } else {
            Element::with_text(tag, value)
        }
    };

    let to = msg.map(|m| fields::mailboxes(m.to())).unwrap_or_default();
    let cc = msg.map(|m| fields::mailboxes(m.cc())).unwrap_or_default();
    let from = msg.map(|m| fields::mailboxes(m.from())).unwrap_or_default();
    let reply_to = msg
        .map(|m| fields::mailboxes(m.reply_to()))
        .unwrap_or_default();

    app.push(text(Email::To, fields::format_address_list(&to)));
    if !cc.is_empty() {
        app.push(text(Email::Cc, fields::format_address_list(&cc)));
    }
    app.push(text(Email::From, fields::format_address_list(&from)));
    app.push(text(
        Email::Subject,
        msg.and_then(|m| m.subject()).unwrap_or("").to_string(),
    ));
    if !reply_to.is_empty() {
        app.push(text(Email::ReplyTo, fields::format_address_list(&reply_to)));
    }
    app.push(Element::with_text(
        Email::DateReceived,
        fields::eas_datetime(fields::date_received(msg, meta.internal_date)),
    ));
    app.push(text(Email::DisplayTo, fields::display_to(&to)));
    app.push(text(
        Email::ThreadTopic,
        msg.map(fields::thread_topic).unwrap_or_default(),
    ));
    app.push(Element::with_text(
        Email::Importance,
        msg.map_or(1, fields::importance).to_string(),
    ));
    app.push(flags::read_element(&visible));

    if let Some(m) = msg {
        let list = attachments::list(m, bodies.html.as_deref());
        if let Some(el) = attachments::attachments_element(&list, &opts.server_id) {
            app.push(el);
        }
    }
    app.push(body::body_element(raw, &bodies, opts, kind.is_smime()));

    app.push(Element::with_text(
        Email::MessageClass,
        kind.message_class(),
    ));
    if let Some(el) = meeting {
        app.push(el);
    }
    app.push(Element::with_text(Email::InternetCPID, CPID_UTF8));
    app.push(flags::flag_element(&visible));
    app.push(Element::with_text(Email::ContentClass, CONTENT_CLASS));

    if v14 {
        app.push(Element::with_text(
            AirSyncBase::NativeBodyType,
            bodies.native_type().to_string(),
        ));
        app.push(Element::with_opaque(
            Email2::ConversationId,
            fields::conversation_id(conversation, msg, meta.internal_date).to_vec(),
        ));
        app.push(Element::with_opaque(
            Email2::ConversationIndex,
            fields::conversation_index(msg, meta.internal_date).to_vec(),
        ));
        if let Some(el) = flags::last_verb_element(&visible) {
            app.push(el);
        }
        if let Some(sender) = msg.and_then(fields::sender) {
            app.push(Element::with_text(Email2::Sender, sender));
        }
        app.push(flags::categories_element(&visible));
    }
    if opts.version >= ProtocolVersion::V16_0 {
        app.push(flags::is_draft_element(&visible));
    }
    strip_nul(&mut app);
    Ok(app)
}

/// MS-ASDTYPE 2.7: a string is an inline string and holds no NUL. Headers and bodies can
/// carry NUL (decoded encoded-words, broken charsets), so text nodes lose it here. (MIME
/// Data that holds NUL is OPAQUE and not touched.)
fn strip_nul(el: &mut Element) {
    for node in &mut el.children {
        match node {
            Node::Text(t) if t.contains('\0') => t.retain(|c| c != '\0'),
            Node::Element(e) => strip_nul(e),
            _ => {}
        }
    }
}

/// The FileReference of attachment `index` (0-based, in the order
/// [`to_application_data`] lists them) of item `server_id`: `"{server_id}:{index}"`.
pub fn file_reference(server_id: &str, index: usize) -> String {
    format!("{server_id}:{index}")
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a FileReference made by [`file_reference`]: `(folder, uid, index)`. Folder
/// ids are digits only; uid and index are plain decimal numbers (no sign, no spaces)
/// in range. Anything else — extra colons, empty parts, forged text — is None.
pub fn parse_file_reference(s: &str) -> Option<(String, u32, usize)> {
    if s.len() > 64 {
        return None;
    }
    let mut parts = s.split(':');
    let folder = parts.next()?;
    let uid = parts.next()?;
    let index = parts.next()?;
    if parts.next().is_some() || !all_digits(folder) || !all_digits(uid) || !all_digits(index) {
        return None;
    }
    Some((folder.to_string(), uid.parse().ok()?, index.parse().ok()?))
}

/// The decoded bytes, content type and file name of attachment `index`, as listed by
/// [`to_application_data`]. None when there is no such attachment.
pub fn attachment(raw: &[u8], index: usize) -> Option<AttachmentData> {
    let msg = parse(raw)?;
    let html = bodies(Some(&msg), raw).html;
    let info = attachments::list(&msg, html.as_deref())
        .into_iter()
        .nth(index)?;
    let part = msg.parts.get(info.part_id)?;
    Some(AttachmentData {
        content_type: info.content_type,
        name: info.display_name,
        data: attachments::decoded(&msg, part),
    })
}

/// A client Change's ApplicationData (Email:Read, Email:Flag, Email:Categories) → the
/// IMAP flag change to make, given the message's current IMAP flags. Elements absent
/// from the Change leave their flags alone (MS-ASCMD 2.2.3.11: only sent fields
/// change); an empty `<Flag/>` clears the follow-up flag and an empty `<Categories/>`
/// clears all categories (MS-ASEMAIL 2.2.2.34, 2.2.2.16). The change is minimal: only
/// flags that actually need adding or removing.
pub fn flag_change(change: &Element, current_flags: &[String]) -> FlagChange {
    flags::flag_change(change, current_flags)
}

/// A 32-bit fingerprint of exactly the IMAP flag state EAS can see (Read, follow-up
/// flag, answered/forwarded, draft, categories); Sync uses it to decide whether a server
/// Change must be sent. Order- and case-insensitive for flags; ignores flags EAS cannot
/// see (`\Recent`, `\Deleted`, `$MDNSent`, junk markers…). Stable across builds.
pub fn visible_flags_signature(flags: &[String]) -> u32 {
    flags::visible_flags_signature(flags)
}

/// The flag-derived elements alone, for a server `<Change>`: Read and Flag; from 14.0
/// LastVerbExecuted (0 when none, so that a removed verb reaches the client) and
/// Categories (empty when none, which clears them); from 16.0 IsDraft.
pub fn change_application_data(meta: &MessageMeta, version: ProtocolVersion) -> Element {
    let mut app = Element::new(AirSync::ApplicationData);
    for el in flags::change_elements(&meta.flags, version) {
        app.push(el);
    }
    app
}

#[cfg(test)]
mod tests;
