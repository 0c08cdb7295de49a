//! WBXML codec for Exchange ActiveSync: bytes ⇄ element tree.
//!
//! This module knows WBXML 1.3 (W3C NOTE-wbxml-19990624 / OMA WBXML 1.3) and the
//! ActiveSync code pages ([MS-ASWBXML] §2.1.2.1, pages 0–25, protocol 16.1). It knows
//! nothing about EAS commands or status codes.
//!
//! ```
//! use airsync::wbxml::{self, pages::AirSync, Element, Limits};
//!
//! let doc = Element::new(AirSync::Sync).child(
//!     Element::new(AirSync::Collections).child(
//!         Element::new(AirSync::Collection).text_child(AirSync::SyncKey, "0"),
//!     ),
//! );
//! let bytes = wbxml::encode(&doc);
//! let back = wbxml::decode(&bytes, &Limits::default()).unwrap();
//! assert_eq!(back, doc);
//! let key = back
//!     .first(AirSync::Collections)
//!     .and_then(|c| c.first(AirSync::Collection))
//!     .and_then(|c| c.child_text(AirSync::SyncKey));
//! assert_eq!(key.as_deref(), Some("0"));
//! ```
//!
//! # Decoding ([`decode`], [`Events`])
//!
//! [`Events`] reads a document as a sequence of [`Event`]s (an element opens, closes,
//! a text piece, opaque data), text borrowed from the input; [`decode`] builds the tree
//! from them. Both check everything below.
//!
//! * Header: versions 1.1–1.3 (bytes 0x01–0x03); public id as mb_u_int32, including the
//!   literal form (0 followed by a string-table index, which is bounds-checked); charset
//!   UTF-8 (106), US-ASCII (3) or unknown (0), all read as UTF-8; any string table.
//! * Body tokens: tags (any page 0–255, any token 0x05–0x3F), `SWITCH_PAGE`, `END`,
//!   `STR_I`, `STR_T` (into the string table, bounds-checked), `OPAQUE`, `ENTITY`
//!   (becomes a one-character text piece; U+0000 and non-scalar values are refused).
//! * Refused with [`WbxmlError::Unsupported`]: attributes, `PI`, `EXT_*`, `LITERAL*`.
//!   ActiveSync uses none of them.
//! * Tokens that no table names (unknown token on a known page, or an unknown page)
//!   are decoded anyway: [`Tag`] carries page and token and [`Tag::name`] is `None`.
//!   The codec is a byte/tree mapper; rejecting a tag is the command handler's call,
//!   and keeping it lets any document round-trip byte for byte.
//! * Text is kept in the pieces it came in: every `STR_I`, `STR_T` and `ENTITY` is its
//!   own [`Node::Text`], every `OPAQUE` its own [`Node::Opaque`]. Hence
//!   `encode(decode(x)) == x` for every document that uses only inline strings, opaque
//!   data and page switches where the page changes, with content bits only on elements
//!   that have content — which is what libwbxml, Exchange and the clients we have traces
//!   of produce. Documents using a string table or entities re-encode as `STR_I`
//!   (same tree, different bytes).
//! * Limits ([`Limits`]): input size, nesting depth and node count give typed errors.
//!   Every length is checked against the remaining input before allocating; the parser
//!   is iterative and never panics.
//!
//! # Encoding ([`encode`])
//!
//! WBXML 1.3, public id 1, charset UTF-8, empty string table, inline strings only.
//! Text containing NUL (which `STR_I` cannot carry) is written as `OPAQUE` holding the
//! same bytes. See [`encode`] for the page-switch rule.

mod decode;
mod encode;
mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod pages;
mod xml;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

pub use decode::{Event, Events, decode};
pub use encode::encode;
pub use error::{Feature, WbxmlError};
pub use xml::to_xml;

/// A tag: code page and token. The token is without the content (0x40) and attribute
/// (0x80) bits. Constants for every ActiveSync tag are in [`pages`].
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Tag {
    pub page: u8,
    pub token: u8,
}

impl Tag {
    pub const fn new(page: u8, token: u8) -> Tag {
        Tag { page, token }
    }

    /// The MS-ASWBXML tag name, e.g. `"SyncKey"`; `None` for a token no table names.
    /// For the one token with two names (Provision 0x10) this is
    /// `"DeviceEncryptionEnabled"`.
    pub fn name(self) -> Option<&'static str> {
        pages::tag_name(self.page, self.token)
    }

    /// The code page's XML namespace name, e.g. `"AirSync"`, `"FolderHierarchy"`.
    /// Page 6 is `"GetItemEstimate"` (module [`pages::ItemEstimate`]) and page 16 is
    /// `"Gal"` (module [`pages::GAL`]).
    pub fn namespace(self) -> Option<&'static str> {
        pages::page(self.page).map(|p| p.namespace)
    }

    /// Looks a tag up by namespace and spec name. The namespace may carry libwbxml's
    /// trailing colon (`"AirSync:"`) and may also be the module name (`ItemEstimate`,
    /// `GAL`). Names are case-sensitive.
    pub fn from_name(namespace: &str, name: &str) -> Option<Tag> {
        let page = pages::page_by_namespace(namespace)?;
        page.tags
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(token, _)| Tag::new(page.number, *token))
    }
}

impl std::fmt::Display for Tag {
    /// `Namespace:Name`, or `page N token 0xTT` when unnamed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.namespace(), self.name()) {
            (Some(ns), Some(name)) => write!(f, "{ns}:{name}"),
            _ => write!(f, "page {} token 0x{:02X}", self.page, self.token),
        }
    }
}

/// A child of an element.
#[derive(Clone, PartialEq, Debug)]
pub enum Node {
    Element(Element),
    /// One inline string (`STR_I`), table string (`STR_T`) or entity.
    Text(String),
    /// One `OPAQUE` block.
    Opaque(Vec<u8>),
    /// An element encoded ahead ([`Encoded::new`]); [`encode`] copies its bytes. Never
    /// made by [`decode`]. The tree's queries (`elements`, `first`, `text`…) do not look
    /// inside; [`to_xml`] does.
    Encoded(Encoded),
}

impl From<Element> for Node {
    fn from(element: Element) -> Node {
        Node::Element(element)
    }
}

/// The WBXML tokens of one element, without a document header, and the code pages in
/// effect before its first tag and after its last token.
#[derive(Clone, PartialEq, Debug)]
pub struct Encoded {
    bytes: Vec<u8>,
    first_page: u8,
    last_page: u8,
}

/// An element: a tag and its children in document order.
#[derive(Clone, PartialEq, Debug)]
pub struct Element {
    pub tag: Tag,
    pub children: Vec<Node>,
}

impl Element {
    pub fn new(tag: Tag) -> Element {
        Element {
            tag,
            children: Vec::new(),
        }
    }

    /// An element with one text child.
    pub fn with_text(tag: Tag, text: impl Into<String>) -> Element {
        Element {
            tag,
            children: vec![Node::Text(text.into())],
        }
    }

    /// An element with one opaque child.
    pub fn with_opaque(tag: Tag, data: Vec<u8>) -> Element {
        Element {
            tag,
            children: vec![Node::Opaque(data)],
        }
    }

    /// Builder: appends `child` and returns `self`.
    pub fn child(mut self, child: Element) -> Element {
        self.push(child);
        self
    }

    /// Builder: appends `<tag>text</tag>` and returns `self`.
    pub fn text_child(self, tag: Tag, text: impl Into<String>) -> Element {
        self.child(Element::with_text(tag, text))
    }

    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Element children only, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first element child with `tag`.
    pub fn first(&self, tag: Tag) -> Option<&Element> {
        self.elements().find(|e| e.tag == tag)
    }

    /// All element children with `tag`.
    pub fn all(&self, tag: Tag) -> impl Iterator<Item = &Element> {
        self.elements().filter(move |e| e.tag == tag)
    }

    /// The text content: all `Text` children concatenated, `Opaque` children included
    /// when they are valid UTF-8. `None` if there is no text or opaque child, or if an
    /// opaque child is not UTF-8 (use [`Element::bytes`] for binary data).
    pub fn text(&self) -> Option<Cow<'_, str>> {
        let mut pieces = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(Some(t.as_str())),
            Node::Opaque(d) => Some(std::str::from_utf8(d).ok()),
            Node::Element(_) | Node::Encoded(_) => None,
        });
        let first = pieces.next()??;
        let mut joined: Option<String> = None;
        for piece in pieces {
            joined
                .get_or_insert_with(|| first.to_owned())
                .push_str(piece?);
        }
        Some(match joined {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(first),
        })
    }

    /// Text of the first child element with `tag`.
    pub fn child_text(&self, tag: Tag) -> Option<Cow<'_, str>> {
        self.first(tag)?.text()
    }

    /// The content as bytes: all `Opaque` and `Text` (UTF-8) children concatenated.
    /// `None` if there is no text or opaque child.
    pub fn bytes(&self) -> Option<Cow<'_, [u8]>> {
        let mut pieces = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(t.as_bytes()),
            Node::Opaque(d) => Some(d.as_slice()),
            Node::Element(_) | Node::Encoded(_) => None,
        });
        let first = pieces.next()?;
        let mut joined: Option<Vec<u8>> = None;
        for piece in pieces {
            joined
                .get_or_insert_with(|| first.to_vec())
                .extend_from_slice(piece);
        }
        Some(match joined {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(first),
        })
    }
}

/// Resource limits for [`decode`].
///
/// The defaults:
/// * `max_input` 64 MiB — above the largest request body we accept over HTTP, with room
///   for big SendMail MIME attachments sent as OPAQUE.
/// * `max_depth` 64 — the deepest of our 262 fixture documents (real client traffic,
///   libwbxml's tests) nests 9 levels; Sync responses with calendar exceptions and
///   attendees or nested Search queries add a few more. The depth also
///   bounds recursion in the derived `Drop`/`PartialEq`/`Clone` of decoded trees, so keep
///   it in the hundreds at most.
/// * `max_elements` 500 000 — counts every node (elements *and* text/opaque pieces, since
///   each costs memory). A 512-item Sync response has a few tens of thousands; a decoded
///   node costs ~40–60 bytes, so the cap bounds the tree at a few tens of MiB beyond the
///   input itself.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_input: usize,
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_input: 64 * 1024 * 1024,
            max_depth: 64,
            max_elements: 500_000,
        }
    }
}
