//! WBXML 1.3 encoder: [`Element`] tree → bytes.
//!
//! Output: version 1.3, public id 0x01 (unknown/“missing DTD”, as every EAS peer sends),
//! charset UTF-8 (MIBenum 106), empty string table, then the body with inline strings
//! only. The same choices as libwbxml's `xml2wbxml -v 1.3 -n -a`, so re-encoding what
//! either produced gives the same bytes.

use super::{Element, Encoded, Node};

const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const STR_I: u8 = 0x03;
const OPAQUE: u8 = 0xC3;
const TAG_CONTENT: u8 = 0x40;

/// The fixed header: version 1.3, public id 1, charset 106 (UTF-8), string table length 0.
pub(crate) const HEADER: [u8; 4] = [0x03, 0x01, 0x6A, 0x00];

/// mb_u_int32, WBXML 1.3 §5.1.
fn push_mb_u_int32(out: &mut Vec<u8>, mut value: u32) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = (value & 0x7F) as u8 | if i == buf.len() - 1 { 0 } else { 0x80 };
        value >>= 7;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_opaque(out: &mut Vec<u8>, data: &[u8]) {
    out.push(OPAQUE);
    // EAS bodies are far below 4 GiB; a longer payload cannot be expressed in WBXML at all.
    let len = u32::try_from(data.len()).expect("OPAQUE data longer than u32::MAX bytes");
    push_mb_u_int32(out, len);
    out.extend_from_slice(data);
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    if text.as_bytes().contains(&0) {
        // STR_I is NUL-terminated (§5.8.4.1), so a NUL cannot be inlined. The bytes go
        // out unchanged as OPAQUE instead (decoders that read opaque as text, like
        // libwbxml and our Element::text, see the same string).
        push_opaque(out, text.as_bytes());
    } else {
        out.push(STR_I);
        out.extend_from_slice(text.as_bytes());
        out.push(0);
    }
}

/// Writes the body of a document: tokens only, the header is the caller's.
struct Writer {
    out: Vec<u8>,
    /// The code page in effect.
    page: u8,
}

impl Writer {
    /// Switches to `page` unless it is in effect.
    fn switch_to(&mut self, page: u8) {
        if page != self.page {
            self.out.push(SWITCH_PAGE);
            self.out.push(page);
            self.page = page;
        }
    }

    /// Writes the (optional) SWITCH_PAGE and the tag token of `element`; returns whether
    /// it has content (and so needs an END later).
    fn open_tag(&mut self, element: &Element) -> bool {
        debug_assert!(
            (0x05..=0x3F).contains(&element.tag.token),
            "tag token {:#04X} is outside 0x05..=0x3F",
            element.tag.token
        );
        self.switch_to(element.tag.page);
        let has_content = !element.children.is_empty();
        self.out
            .push((element.tag.token & 0x3F) | if has_content { TAG_CONTENT } else { 0 });
        has_content
    }

    /// Writes `root` and everything below it. Iterative: deep trees cannot overflow
    /// the stack here.
    fn element(&mut self, root: &Element) {
        let mut stack: Vec<std::slice::Iter<'_, Node>> = Vec::new();
        if self.open_tag(root) {
            stack.push(root.children.iter());
        }
        while let Some(children) = stack.last_mut() {
            match children.next() {
                None => {
                    self.out.push(END);
                    stack.pop();
                }
                Some(Node::Text(text)) => push_text(&mut self.out, text),
                Some(Node::Opaque(data)) => push_opaque(&mut self.out, data),
                Some(Node::Encoded(done)) => {
                    // The same bytes as writing its element here: the fragment was
                    // written starting in its element's page, and leaves `last_page`
                    // in effect.
                    self.switch_to(done.first_page);
                    self.out.extend_from_slice(&done.bytes);
                    self.page = done.last_page;
                }
                Some(Node::Element(child)) => {
                    if self.open_tag(child) {
                        stack.push(child.children.iter());
                    }
                }
            }
        }
    }
}

/// Encodes `root` as a WBXML 1.3 document.
///
/// SWITCH_PAGE is emitted only when an element's page differs from the page currently
/// in effect; the current page carries over END tokens (WBXML 1.3 §5.8.4.7.2), exactly
/// as libwbxml tracks it. Elements without children get no content bit. Each `Text`
/// child becomes one `STR_I` (or `OPAQUE` if it contains NUL), each `Opaque` one
/// `OPAQUE`; an [`Encoded`] child is copied, giving the same bytes as its element would.
///
/// # Panics
/// Only if an `Opaque` or text node is longer than `u32::MAX` bytes, which WBXML
/// cannot express.
pub fn encode(root: &Element) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&HEADER);
    let mut writer = Writer { out, page: 0 };
    writer.element(root);
    writer.out
}

impl Encoded {
    /// `element` encoded now, to be placed in a document later as a [`Node::Encoded`].
    /// A Sync window's items are converted ahead of the request that sends them; their
    /// trees, encoded while still in the CPU's caches and dropped by the task that built
    /// them, cost the response a copy instead of a walk over cold memory.
    pub fn new(element: &Element) -> Encoded {
        let first_page = element.tag.page;
        let mut writer = Writer {
            out: Vec::new(),
            page: first_page,
        };
        writer.element(element);
        Encoded {
            bytes: writer.out,
            first_page,
            last_page: writer.page,
        }
    }

    /// The element back as a tree (for [`super::to_xml`]).
    pub fn decode(&self) -> Result<Element, super::WbxmlError> {
        let mut doc = Vec::with_capacity(HEADER.len() + 2 + self.bytes.len());
        doc.extend_from_slice(&HEADER);
        // A document starts in page 0.
        if self.first_page != 0 {
            doc.extend_from_slice(&[SWITCH_PAGE, self.first_page]);
        }
        doc.extend_from_slice(&self.bytes);
        super::decode(&doc, &super::Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb_u_int32_encoding() {
        let enc = |v| {
            let mut o = Vec::new();
            push_mb_u_int32(&mut o, v);
            o
        };
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(0x7F), [0x7F]);
        assert_eq!(enc(0x80), [0x81, 0x00]);
        assert_eq!(enc(0xA0), [0x81, 0x20]);
        assert_eq!(enc(u32::MAX), [0x8F, 0xFF, 0xFF, 0xFF, 0x7F]);
    }
}
