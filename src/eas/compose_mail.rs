//! SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17–19), typed: the 14.0+
//! ComposeMail WBXML document, or (12.x) the raw `message/rfc822` body with the
//! request line's SaveInSent, ItemId, CollectionId and LongId.

use crate::wbxml::Element;
use crate::wbxml::pages::{AirSyncBase as B, ComposeMail as C};

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

/// A recipient of a forwarded meeting (MS-ASCMD 2.2.3.78 Forwardee, 16.0+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwardee {
    pub name: Option<String>,
    pub email: String,
}

/// The new text of a 16.x SmartForward of a calendar item (airsyncbase:Body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeBody {
    /// airsyncbase:Type: 1 plain text, 2 HTML.
    pub kind: u8,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeRequest {
    pub client_id: Option<String>,
    pub save_in_sent: bool,
    pub replace_mime: bool,
    pub source: Option<Source>,
    /// Empty in the 16.x SmartForward form that has Forwardees and/or a Body instead.
    pub mime: Vec<u8>,
    pub forwardees: Vec<Forwardee>,
    pub body: Option<ComposeBody>,
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
    let forwardees: Vec<Forwardee> = root
        .first(C::Forwardees)
        .map(|f| {
            f.all(C::Forwardee)
                .filter_map(|one| {
                    Some(Forwardee {
                        name: text(one, C::ForwardeeName),
                        email: text(one, C::ForwardeeEmail)?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let body = root.first(B::Body).map(|b| ComposeBody {
        kind: text(b, B::Type).and_then(|t| t.parse().ok()).unwrap_or(1),
        data: b.child_text(B::Data).unwrap_or_default().to_string(),
    });
    // MS-ASCMD 2.2.3.169: with Forwardees or a Body (16.x, forwarding a calendar
    // item) there is no Mime; the server writes the message.
    let without_mime =
        command == Command::SmartForward && (!forwardees.is_empty() || body.is_some());
    let mime = match root.first(C::Mime).and_then(|m| m.bytes()) {
        Some(b) => b.into_owned(),
        None if without_mime => Vec::new(),
        None => return Err(EasError::Missing("Mime")),
    };
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
        forwardees,
        body,
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
        forwardees: Vec::new(),
        body: None,
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

    /// MS-ASCMD 2.2.3.169 (16.x): forwarding a calendar item with Forwardees and a Body
    /// instead of a MIME message.
    #[test]
    fn forwardees_and_body_instead_of_mime() {
        let forwardee = |name: Option<&str>, email: &str| {
            let mut f = Element::new(C::Forwardee).text_child(C::ForwardeeEmail, email);
            if let Some(n) = name {
                f = f.text_child(C::ForwardeeName, n);
            }
            f
        };
        let doc = Element::new(C::SmartForward)
            .text_child(C::ClientId, "c-2")
            .child(
                Element::new(C::Source)
                    .text_child(C::FolderId, "1")
                    .text_child(C::ItemId, "1:3"),
            )
            .child(
                Element::new(C::Forwardees)
                    .child(forwardee(Some("Dave D"), "dave@example.org"))
                    .child(forwardee(None, "erin@example.org"))
                    .child(Element::new(C::Forwardee).text_child(C::ForwardeeName, "no address")),
            )
            .child(
                Element::new(B::Body)
                    .text_child(B::Type, "1")
                    .text_child(B::Data, "Please join."),
            );
        let r = parse(Command::SmartForward, &doc).unwrap();
        assert!(r.mime.is_empty());
        assert_eq!(
            r.forwardees,
            vec![
                Forwardee {
                    name: Some("Dave D".into()),
                    email: "dave@example.org".into()
                },
                Forwardee {
                    name: None,
                    email: "erin@example.org".into()
                },
            ]
        );
        assert_eq!(
            r.body,
            Some(ComposeBody {
                kind: 1,
                data: "Please join.".into()
            })
        );
        // Only a SmartForward may leave the MIME out.
        let reply = Element::new(C::SmartReply)
            .child(Element::new(C::Source).text_child(C::ItemId, "1:3"))
            .child(Element::new(B::Body).text_child(B::Data, "x"));
        assert!(parse(Command::SmartReply, &reply).is_err());
    }
}
