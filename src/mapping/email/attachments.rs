//! Attachments: which MIME parts are listed (MS-ASAIRS 2.2.2.7 Attachment), in which
//! order (that order defines the FileReference index), and their decoded bytes.
//!
//! Listed: the message's top-level attachments as mail-parser classifies them, i.e.
//! every leaf part that is not one of the displayed text/HTML bodies (inline images,
//! files, a calendar part, an S/MIME signature), and every `message/rfc822` part as one
//! attachment (Method 5, embedded message). Parts inside an attached message are not
//! listed separately.
//!
//! IsInline is sent (as 1) only when the part is shown inside the HTML body: its
//! Content-ID is referenced by a `cid:` URL of the HTML and its Content-Disposition is
//! not `attachment`, or its Content-Disposition is `inline` and it is not text. A
//! cid-referenced part without any Content-Disposition counts as inline too, since the
//! HTML body shows it.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use crate::wbxml::Element;
use crate::wbxml::pages::AirSyncBase;

use super::file_reference;

/// MS-ASAIRS 2.2.2.31 Method values.
pub const METHOD_NORMAL: u8 = 1;
pub const METHOD_EMBEDDED_MESSAGE: u8 = 5;

/// One listed attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachmentInfo {
    /// Index into `Message::parts`.
    pub part_id: usize,
    pub display_name: String,
    pub content_type: String,
    pub method: u8,
    /// Decoded size in bytes.
    pub size: u64,
    pub content_id: Option<String>,
    pub content_location: Option<String>,
    pub is_inline: bool,
}

fn content_type_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if part.is_message() => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

fn fallback_name(index: usize, content_type: &str) -> String {
    let ext = match content_type {
        "message/rfc822" => "eml",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => "p7m",
        _ => "bin",
    };
    format!("attachment{}.{ext}", index + 1)
}

/// File names must not carry path separators or control characters into a client.
fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || c == '/' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

fn strip_angle(id: &str) -> String {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(id)
        .trim()
        .to_string()
}

/// `html_lower` is the HTML body in ASCII lower case.
fn html_references_cid(html_lower: &str, cid: &str) -> bool {
    !cid.is_empty() && html_lower.contains(&format!("cid:{cid}").to_ascii_lowercase())
}

/// The attachments of `msg`, in FileReference order. `html` is the message's HTML body
/// (for the inline test).
pub(crate) fn list(msg: &Message<'_>, html: Option<&str>) -> Vec<AttachmentInfo> {
    let html_lower = html.map(str::to_ascii_lowercase);
    let mut out = Vec::new();
    for &part_id in &msg.attachments {
        let part_id = part_id as usize;
        let Some(part) = msg.parts.get(part_id) else {
            continue;
        };
        if part.is_multipart() {
            continue;
        }
        let index = out.len();
        let content_type = content_type_of(part);
        let is_message = part.is_message() || content_type == "message/rfc822";
        let display_name = part
            .attachment_name()
            .map(clean_name)
            .filter(|n| !n.is_empty())
            .or_else(|| {
                part.message()
                    .and_then(|m| m.subject())
                    .map(clean_name)
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("{s}.eml"))
            })
            .unwrap_or_else(|| fallback_name(index, &content_type));
        let content_id = part.content_id().map(strip_angle).filter(|c| !c.is_empty());
        let disposition = part.content_disposition();
        let disp_attachment = disposition.is_some_and(|d| d.is_attachment());
        let disp_inline = disposition.is_some_and(|d| d.is_inline());
        let referenced = content_id.as_deref().is_some_and(|cid| {
            html_lower
                .as_deref()
                .is_some_and(|h| html_references_cid(h, cid))
        });
        let is_inline =
            !disp_attachment && (referenced || (disp_inline && !part.is_text() && !is_message));
        out.push(AttachmentInfo {
            part_id,
            size: decoded(msg, part).len() as u64,
            display_name,
            content_type,
            method: if is_message {
                METHOD_EMBEDDED_MESSAGE
            } else {
                METHOD_NORMAL
            },
            content_id,
            content_location: part
                .content_location()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
            is_inline,
        });
    }
    out
}

/// The transfer-decoded bytes of a part, exactly as they were before encoding: binary
/// parts as mail-parser decoded them; text and message parts re-decoded from the raw
/// message so that their original charset and bytes are kept.
pub(crate) fn decoded(msg: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
        PartType::Multipart(_) => Vec::new(),
        PartType::Text(_) | PartType::Html(_) | PartType::Message(_) => {
            let raw = msg.raw_message();
            let slice = raw.get(part.offset_body as usize..part.offset_end as usize);
            let from_raw = slice.and_then(|s| match part.encoding {
                Encoding::Base64 => base64_decode(s),
                Encoding::QuotedPrintable => quoted_printable_decode(s),
                Encoding::None => Some(s.to_vec()),
            });
            from_raw.unwrap_or_else(|| part.contents().to_vec())
        }
    }
}

/// `<AirSyncBase:Attachments>`, or None when there are none.
pub(crate) fn attachments_element(list: &[AttachmentInfo], server_id: &str) -> Option<Element> {
    if list.is_empty() {
        return None;
    }
    let mut el = Element::new(AirSyncBase::Attachments);
    for (index, a) in list.iter().enumerate() {
        let mut att = Element::new(AirSyncBase::Attachment)
            .text_child(AirSyncBase::DisplayName, a.display_name.clone())
            .text_child(AirSyncBase::FileReference, file_reference(server_id, index))
            .text_child(AirSyncBase::Method, a.method.to_string())
            .text_child(AirSyncBase::EstimatedDataSize, a.size.to_string());
        if let Some(cid) = &a.content_id {
            att = att.text_child(AirSyncBase::ContentId, cid.clone());
        }
        if let Some(loc) = &a.content_location {
            att = att.text_child(AirSyncBase::ContentLocation, loc.clone());
        }
        if a.is_inline {
            att = att.text_child(AirSyncBase::IsInline, "1");
        }
        el.push(att);
    }
    Some(el)
}
