//! SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17–19), typed: the 14.0+
//! ComposeMail WBXML document, or (12.x) the raw `message/rfc822` body with the
//! request line's SaveInSent, ItemId, CollectionId and LongId.

use crate::wbxml::Element;
use crate::wbxml::pages::ComposeMail as C;

use super::{Command, EasError, require_root};

/// The message a SmartReply / SmartForward refers to (ComposeMail:Source).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub folder_id: Option<String>,
    pub item_id: Option<String>,
    pub long_id: Option<String>,
    /// A recurring meeting's instance; the series' message is used.
    pub instance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeRequest {
    pub client_id: Option<String>,
    pub save_in_sent: bool,
    pub replace_mime: bool,
    pub source: Option<Source>,
    pub mime: Vec<u8>,
}

fn text(el: &Element, tag: crate::wbxml::Tag) -> Option<String> {
    el.child_text(tag)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Parses the 14.0+ document of `command`.
pub fn parse(command: Command, root: &Element) -> Result<ComposeRequest, EasError> {
    let tag = match command {
        Command::SmartReply => C::SmartReply,
        Command::SmartForward => C::SmartForward,
        _ => C::SendMail,
    };
    require_root(root, tag)?;
    let mime = root
        .first(C::Mime)
        .and_then(|m| m.bytes())
        .map(|b| b.into_owned())
        .ok_or(EasError::Missing("Mime"))?;
    let source = root.first(C::Source).map(|s| Source {
        folder_id: text(s, C::FolderId),
        item_id: text(s, C::ItemId),
        long_id: text(s, C::LongId),
        instance_id: text(s, C::InstanceId),
    });
    if command != Command::SendMail && source.is_none() {
        return Err(EasError::Missing("Source"));
    }
    Ok(ComposeRequest {
        client_id: text(root, C::ClientId),
        // MS-ASCMD 2.2.3.157: an empty SaveInSentItems element means "save".
        save_in_sent: root.first(C::SaveInSentItems).is_some(),
        replace_mime: root.first(C::ReplaceMime).is_some(),
        source,
        mime,
    })
}

/// The 12.x form: the body is the MIME message, the rest is in the request line.
pub fn from_request_line(
    command: Command,
    line: &crate::http::query::RequestLine,
    raw: Vec<u8>,
) -> Result<ComposeRequest, EasError> {
    if raw.is_empty() {
        return Err(EasError::Missing("a message/rfc822 body"));
    }
    let source = (command != Command::SendMail).then(|| Source {
        folder_id: line.collection_id.clone(),
        item_id: line.item_id.clone(),
        long_id: line.long_id.clone(),
        instance_id: line.occurrence.clone(),
    });
    Ok(ComposeRequest {
        client_id: None,
        save_in_sent: line.save_in_sent,
        replace_mime: false,
        source,
        mime: raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let doc = Element::new(C::SmartForward)
            .text_child(C::ClientId, "c-1")
            .child(Element::new(C::SaveInSentItems))
            .child(
                Element::new(C::Source)
                    .text_child(C::FolderId, "5")
                    .text_child(C::ItemId, "5:12"),
            )
            .child(Element::with_opaque(C::Mime, b"To: a@b\r\n\r\nx".to_vec()));
        let r = parse(Command::SmartForward, &doc).unwrap();
        assert_eq!(r.client_id.as_deref(), Some("c-1"));
        assert!(r.save_in_sent && !r.replace_mime);
        assert_eq!(r.source.unwrap().item_id.as_deref(), Some("5:12"));
        assert_eq!(r.mime, b"To: a@b\r\n\r\nx");
        let no_source = Element::new(C::SmartReply).child(Element::with_text(C::Mime, "x"));
        assert!(parse(Command::SmartReply, &no_source).is_err());
        assert!(parse(Command::SendMail, &Element::new(C::SendMail)).is_err());
    }
}
