//! WBXML 1.1–1.3 decoder: bytes → [`Event`]s ([`Events`]) → [`Element`] tree
//! ([`decode`]).
//!
//! Iterative (a count of open elements, no recursion), bounds-checked (every length is
//! checked against the remaining input before anything is allocated) and limited by
//! [`Limits`]. It never panics on any input. A reader that wants a few values out of a
//! large document (a client counting the items of a Sync answer) takes the events
//! without building the tree.

use std::borrow::Cow;

use super::error::{Feature, WbxmlError};
use super::{Element, Limits, Node, Tag};

// Global tokens, WBXML 1.3 §7.1.
const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const ENTITY: u8 = 0x02;
const STR_I: u8 = 0x03;
const LITERAL: u8 = 0x04;
const EXT_I_0: u8 = 0x40;
const EXT_I_2: u8 = 0x42;
const PI: u8 = 0x43;
const LITERAL_C: u8 = 0x44;
const EXT_T_0: u8 = 0x80;
const EXT_T_2: u8 = 0x82;
const STR_T: u8 = 0x83;
const LITERAL_A: u8 = 0x84;
const EXT_0: u8 = 0xC0;
const EXT_2: u8 = 0xC2;
const OPAQUE: u8 = 0xC3;
const LITERAL_AC: u8 = 0xC4;

/// Tag token bits, WBXML 1.3 §5.8.2.
const TAG_ATTRIBUTES: u8 = 0x80;
const TAG_CONTENT: u8 = 0x40;
const TAG_TOKEN_MASK: u8 = 0x3F;

/// Charsets (IANA MIBenum) whose bytes are read as UTF-8.
const CHARSET_UNKNOWN: u32 = 0;
const CHARSET_US_ASCII: u32 = 3;
const CHARSET_UTF8: u32 = 106;

/// A cursor over the input with checked reads.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, WbxmlError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(WbxmlError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// mb_u_int32, WBXML 1.3 §5.1: big-endian groups of 7 bits, high bit = continue.
    /// At most 5 bytes and at most 32 bits of value.
    fn mb_u_int32(&mut self) -> Result<u32, WbxmlError> {
        let start = self.pos;
        let mut value: u32 = 0;
        for _ in 0..5 {
            let b = self.byte()?;
            if value > (u32::MAX >> 7) {
                return Err(WbxmlError::BadMbUInt32 { offset: start });
            }
            value = (value << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WbxmlError::BadMbUInt32 { offset: start })
    }

    /// `len` bytes, checked against the remaining input before slicing.
    fn take(&mut self, len: u32) -> Result<&'a [u8], WbxmlError> {
        let remaining = self.input.len().saturating_sub(self.pos);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > remaining {
            return Err(WbxmlError::Truncated {
                offset: self.input.len(),
            });
        }
        let s = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(s)
    }

    /// A NUL-terminated inline string (`STR_I`, WBXML 1.3 §5.8.4.1), without the NUL.
    fn c_str(&mut self) -> Result<&'a [u8], WbxmlError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(WbxmlError::Truncated {
                offset: self.input.len(),
            })?;
        let s = &rest[..nul];
        self.pos += nul + 1;
        Ok(s)
    }
}

fn utf8(bytes: &[u8], offset: usize) -> Result<&str, WbxmlError> {
    std::str::from_utf8(bytes).map_err(|_| WbxmlError::InvalidUtf8 { offset })
}

/// The NUL-terminated string at `index` in the string table (WBXML 1.3 §5.7).
fn table_str(table: &[u8], index: u32, offset: usize) -> Result<&[u8], WbxmlError> {
    let bad = WbxmlError::BadStringTableRef { offset, index };
    let start = usize::try_from(index).map_err(|_| bad.clone())?;
    let rest = table.get(start..).ok_or(bad.clone())?;
    let nul = rest.iter().position(|&b| b == 0).ok_or(bad)?;
    Ok(&rest[..nul])
}

/// Decodes one WBXML document and returns its root element. See the module docs of
/// [`crate::wbxml`] for what is accepted and refused.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Element, WbxmlError> {
    let mut events = Events::new(input, limits)?;
    // The open elements, innermost last; `Events` pairs every End with a Start and
    // puts content inside the root only.
    let mut open: Vec<Element> = Vec::new();
    let mut root = None;
    while let Some(event) = events.next()? {
        let closed = match event {
            Event::Start { tag, content: true } => {
                open.push(Element::new(tag));
                None
            }
            Event::Start {
                tag,
                content: false,
            } => Some(Element::new(tag)),
            Event::End => open.pop(),
            Event::Text(text) => {
                if let Some(parent) = open.last_mut() {
                    parent.children.push(Node::Text(text.into_owned()));
                }
                None
            }
            Event::Opaque(data) => {
                if let Some(parent) = open.last_mut() {
                    parent.children.push(Node::Opaque(data.to_vec()));
                }
                None
            }
        };
        if let Some(element) = closed {
            match open.last_mut() {
                Some(parent) => parent.children.push(Node::Element(element)),
                None => root = Some(element),
            }
        }
    }
    root.ok_or(WbxmlError::Truncated {
        offset: input.len(),
    })
}

/// One step through a WBXML body (WBXML 1.3 §5.8), as [`Events`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// An element opens. With `content`, its content and an [`Event::End`] follow;
    /// without, it is closed already.
    Start { tag: Tag, content: bool },
    /// The innermost open element closes.
    End,
    /// A text piece: one `STR_I`, `STR_T` or `ENTITY`.
    Text(Cow<'a, str>),
    /// One `OPAQUE`.
    Opaque(&'a [u8]),
}

/// The events of one WBXML document, in order: [`Events::next`] gives `Ok(None)` once
/// the root element has closed at the end of the input. Checks everything [`decode`]
/// does (header, tokens, strings, [`Limits`], nothing after the root).
pub struct Events<'a, 'l> {
    r: Reader<'a>,
    table: &'a [u8],
    limits: &'l Limits,
    /// Current tag code page; stays in effect across elements until the next SWITCH_PAGE
    /// (§5.8.4.7.2).
    page: u8,
    nodes: usize,
    /// Elements open now.
    depth: usize,
    /// The root element has closed.
    done: bool,
}

impl<'a, 'l> Events<'a, 'l> {
    /// Reads the header (§5.3–§5.7); the body's events follow from [`Events::next`].
    pub fn new(input: &'a [u8], limits: &'l Limits) -> Result<Self, WbxmlError> {
        if input.len() > limits.max_input {
            return Err(WbxmlError::TooLarge {
                size: input.len(),
                limit: limits.max_input,
            });
        }
        let mut r = Reader { input, pos: 0 };
        let version = r.byte()?;
        if !(0x01..=0x03).contains(&version) {
            return Err(WbxmlError::BadVersion(version));
        }
        let public_id_offset = r.pos;
        let public_id = r.mb_u_int32()?;
        // publicid 0 means "literal": an index into the string table follows (§5.5).
        let literal_public_id = if public_id == 0 {
            Some(r.mb_u_int32()?)
        } else {
            None
        };
        let charset = r.mb_u_int32()?;
        if !matches!(charset, CHARSET_UNKNOWN | CHARSET_US_ASCII | CHARSET_UTF8) {
            return Err(WbxmlError::UnsupportedCharset(charset));
        }
        let table_len = r.mb_u_int32()?;
        let table = r.take(table_len)?;
        if let Some(index) = literal_public_id {
            table_str(table, index, public_id_offset)?;
        }
        Ok(Events {
            r,
            table,
            limits,
            page: 0,
            nodes: 0,
            depth: 0,
            done: false,
        })
    }

    /// The next event; `Ok(None)` after the root element has closed and the input ended.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Event<'a>>, WbxmlError> {
        if self.done {
            // The root is closed: nothing may follow (EAS uses no trailing PIs).
            return match self.r.at_end() {
                true => Ok(None),
                false => Err(WbxmlError::TrailingData { offset: self.r.pos }),
            };
        }
        loop {
            let offset = self.r.pos;
            let token = self.r.byte()?;
            let event = match token {
                SWITCH_PAGE => {
                    self.page = self.r.byte()?;
                    continue;
                }
                END => {
                    self.depth = self
                        .depth
                        .checked_sub(1)
                        .ok_or(WbxmlError::UnexpectedEnd { offset })?;
                    self.done = self.depth == 0;
                    Event::End
                }
                ENTITY => {
                    // §5.8.4.3: a character entity, kept as a text piece of its own.
                    let value = self.r.mb_u_int32()?;
                    let c = char::from_u32(value)
                        .filter(|&c| c != '\0')
                        .ok_or(WbxmlError::InvalidEntity { offset, value })?;
                    self.content(offset)?;
                    Event::Text(Cow::Owned(c.to_string()))
                }
                STR_I => {
                    let s = self.r.c_str()?;
                    let text = utf8(s, offset + 1)?;
                    self.content(offset)?;
                    Event::Text(Cow::Borrowed(text))
                }
                STR_T => {
                    let index = self.r.mb_u_int32()?;
                    let s = table_str(self.table, index, offset)?;
                    let text = utf8(s, offset)?;
                    self.content(offset)?;
                    Event::Text(Cow::Borrowed(text))
                }
                OPAQUE => {
                    // §5.8.4.6: length checked against the input before copying.
                    let len = self.r.mb_u_int32()?;
                    let data = self.r.take(len)?;
                    self.content(offset)?;
                    Event::Opaque(data)
                }
                PI => {
                    return Err(WbxmlError::Unsupported {
                        offset,
                        feature: Feature::ProcessingInstruction,
                    });
                }
                LITERAL | LITERAL_C | LITERAL_A | LITERAL_AC => {
                    return Err(WbxmlError::Unsupported {
                        offset,
                        feature: Feature::LiteralTag,
                    });
                }
                EXT_I_0..=EXT_I_2 | EXT_T_0..=EXT_T_2 | EXT_0..=EXT_2 => {
                    return Err(WbxmlError::Unsupported {
                        offset,
                        feature: Feature::Extension,
                    });
                }
                _ if token & TAG_ATTRIBUTES != 0 => {
                    return Err(WbxmlError::Unsupported {
                        offset,
                        feature: Feature::Attributes,
                    });
                }
                _ => self.tag(token)?,
            };
            return Ok(Some(event));
        }
    }

    fn count_node(&mut self) -> Result<(), WbxmlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_elements {
            return Err(WbxmlError::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        Ok(())
    }

    /// A text or opaque node: counted, and only inside the root.
    fn content(&mut self, offset: usize) -> Result<(), WbxmlError> {
        self.count_node()?;
        match self.depth {
            0 => Err(WbxmlError::ContentOutsideRoot { offset }),
            _ => Ok(()),
        }
    }

    /// A tag token (0x05–0x3F, optionally with the content bit).
    fn tag(&mut self, token: u8) -> Result<Event<'a>, WbxmlError> {
        self.count_node()?;
        if self.depth >= self.limits.max_depth {
            return Err(WbxmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let tag = Tag::new(self.page, token & TAG_TOKEN_MASK);
        let content = token & TAG_CONTENT != 0;
        if content {
            self.depth += 1;
        } else {
            self.done = self.depth == 0;
        }
        Ok(Event::Start { tag, content })
    }
}
