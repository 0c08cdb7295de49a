//! AirSyncBase:Body (MS-ASAIRS 2.2.2.9): which body type to send, conversion between
//! plain text and HTML, truncation and preview.
//!
//! Rules:
//! * Type choice: MIMESupport 2, or 1 for an S/MIME message (MS-ASCMD 2.2.3.100.3),
//!   forces MIME (type 4). Otherwise the first BodyPreference, in the client's order,
//!   whose type airsync can produce: 1 plain, 2 HTML and 4 MIME always can (HTML is made
//!   from plain text and plain text from HTML when the message lacks that part); RTF (3)
//!   never can and is skipped. No usable BodyPreference: plain text, not truncated
//!   (what Exchange does for a request without one).
//! * TruncationSize counts bytes of UTF-8 (MS-ASAIRS 2.2.2.40.1); a cut never splits a
//!   UTF-8 sequence and, in HTML, backs off to before a tag it would split. MIME is cut
//!   at a byte count on the raw message; a multi-byte sequence is not split when the
//!   cut lands in valid UTF-8.
//! * AllOrNone (2.2.2.3): a body larger than TruncationSize is sent without Data and
//!   with Truncated 1.
//! * EstimatedDataSize is the size in bytes of the whole body in the type sent.
//! * Preview (2.2.2.37.2, 14.0+): only when the chosen preference asks for one; plain
//!   text, whitespace collapsed, at most that many characters (and at most 255).
//! * Data is a string (MS-ASDTYPE 2.7: inline string, no NUL). Text bodies are UTF-8
//!   after decoding, with NUL characters removed. MIME bytes go as an inline string
//!   when they are valid UTF-8 without NUL, else as OPAQUE holding the exact bytes —
//!   the only way to carry 8-bit MIME intact; EAS parsers (libwbxml, Android's, ours)
//!   read OPAQUE content as the element's value.

use std::borrow::Cow;

use crate::eas::ProtocolVersion;
use crate::wbxml::Element;
use crate::wbxml::pages::AirSyncBase;

use super::{BodyPreference, ConvertOptions};

pub const TYPE_PLAIN: u8 = 1;
pub const TYPE_HTML: u8 = 2;
pub const TYPE_RTF: u8 = 3;
pub const TYPE_MIME: u8 = 4;

/// MS-ASAIRS 2.2.2.37.2: Preview is at most 255 characters.
pub const MAX_PREVIEW: u32 = 255;

/// The bodies a message offers natively, decoded to UTF-8.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bodies {
    pub plain: Option<String>,
    pub html: Option<String>,
}

impl Bodies {
    /// NativeBodyType (MS-ASAIRS 2.2.2.33): 2 when there is an HTML part, else 1.
    pub(crate) fn native_type(&self) -> u8 {
        if self.html.is_some() {
            TYPE_HTML
        } else {
            TYPE_PLAIN
        }
    }

    /// The plain-text body, made from the HTML one when the message has none.
    pub(crate) fn as_plain(&self) -> Cow<'_, str> {
        match (&self.plain, &self.html) {
            (Some(p), _) => Cow::Borrowed(p),
            (None, Some(h)) => Cow::Owned(html_to_text(h)),
            (None, None) => Cow::Borrowed(""),
        }
    }

    /// The HTML body, made from the plain-text one when the message has none.
    pub(crate) fn as_html(&self) -> Cow<'_, str> {
        match (&self.html, &self.plain) {
            (Some(h), _) => Cow::Borrowed(h),
            (None, Some(p)) => Cow::Owned(text_to_html(p)),
            (None, None) => Cow::Borrowed(""),
        }
    }
}

/// The chosen body type and the preference it came from (None: the default).
pub(crate) fn choose(opts: &ConvertOptions, is_smime: bool) -> (u8, Option<BodyPreference>) {
    let mime_pref = opts
        .body_preferences
        .iter()
        .find(|p| p.body_type == TYPE_MIME)
        .cloned();
    if opts.mime_support == 2 || (opts.mime_support == 1 && is_smime) {
        let pref = mime_pref.unwrap_or(BodyPreference {
            body_type: TYPE_MIME,
            truncation_size: opts.mime_truncation,
            all_or_none: false,
            preview: None,
        });
        return (TYPE_MIME, Some(pref));
    }
    for p in &opts.body_preferences {
        if matches!(p.body_type, TYPE_PLAIN | TYPE_HTML | TYPE_MIME) {
            return (p.body_type, Some(p.clone()));
        }
    }
    (TYPE_PLAIN, None)
}

/// Builds the Body element.
pub(crate) fn body_element(
    raw: &[u8],
    bodies: &Bodies,
    opts: &ConvertOptions,
    is_smime: bool,
) -> Element {
    let (body_type, pref) = choose(opts, is_smime);
    let limit = pref.as_ref().and_then(|p| p.truncation_size);
    let all_or_none = pref.as_ref().is_some_and(|p| p.all_or_none);

    let mut el =
        Element::new(AirSyncBase::Body).text_child(AirSyncBase::Type, body_type.to_string());
    match body_type {
        TYPE_MIME => {
            let cut = match limit {
                Some(n) if (n as usize) < raw.len() => Some(mime_cut(raw, n as usize)),
                _ => None,
            };
            push_size_and_truncated(&mut el, raw.len(), cut.is_some());
            match cut {
                Some(_) if all_or_none => {}
                Some(n) => el.push(mime_data(&raw[..n])),
                None => el.push(mime_data(raw)),
            }
        }
        _ => {
            let full = if body_type == TYPE_HTML {
                bodies.as_html()
            } else {
                bodies.as_plain()
            };
            let full = if full.contains('\0') {
                Cow::Owned(full.replace('\0', ""))
            } else {
                full
            };
            let cut = match limit {
                Some(n) if (n as usize) < full.len() => Some(if body_type == TYPE_HTML {
                    html_cut(&full, n as usize)
                } else {
                    utf8_cut(&full, n as usize)
                }),
                _ => None,
            };
            push_size_and_truncated(&mut el, full.len(), cut.is_some());
            match cut {
                Some(_) if all_or_none => {}
                Some(n) => el.push(Element::with_text(AirSyncBase::Data, &full[..n])),
                None => el.push(Element::with_text(AirSyncBase::Data, full.into_owned())),
            }
        }
    }
    if opts.version >= ProtocolVersion::V14_0
        && let Some(n) = pref.as_ref().and_then(|p| p.preview)
    {
        el.push(Element::with_text(
            AirSyncBase::Preview,
            preview(&bodies.as_plain(), n),
        ));
    }
    el
}

fn push_size_and_truncated(el: &mut Element, size: usize, truncated: bool) {
    el.push(Element::with_text(
        AirSyncBase::EstimatedDataSize,
        size.to_string(),
    ));
    if truncated {
        el.push(Element::with_text(AirSyncBase::Truncated, "1"));
    }
}

fn mime_data(bytes: &[u8]) -> Element {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => Element::with_text(AirSyncBase::Data, s),
        _ => Element::with_opaque(AirSyncBase::Data, bytes.to_vec()),
    }
}

/// The largest cut ≤ `max` that does not split a UTF-8 sequence.
pub(crate) fn utf8_cut(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut n = max;
    while n > 0 && !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

/// Like [`utf8_cut`], and backs off to before a tag the cut would split.
pub(crate) fn html_cut(s: &str, max: usize) -> usize {
    let n = utf8_cut(s, max);
    let head = &s[..n];
    match (head.rfind('<'), head.rfind('>')) {
        (Some(open), Some(close)) if open > close => open,
        (Some(open), None) => open,
        _ => n,
    }
}

/// Cut point for raw MIME: `max` bytes, moved back so as not to split a UTF-8 sequence
/// when the bytes around the cut are UTF-8 (8-bit legacy charsets are cut as is).
fn mime_cut(raw: &[u8], max: usize) -> usize {
    let mut n = max.min(raw.len());
    // A continuation byte at the cut means we are inside a sequence; back off at most 3.
    let mut back = 0;
    while n > 0 && back < 3 && n < raw.len() && (raw[n] & 0xC0) == 0x80 {
        n -= 1;
        back += 1;
    }
    if n < raw.len() && (raw[n] & 0xC0) == 0x80 {
        max.min(raw.len()) // not UTF-8 around here: plain byte cut
    } else {
        n
    }
}

/// Preview text: whitespace collapsed, at most `chars` characters (≤ 255).
pub(crate) fn preview(plain: &str, chars: u32) -> String {
    let limit = chars.min(MAX_PREVIEW) as usize;
    let collapsed = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(limit).collect()
}

/// Plain text → minimal HTML: escaped, line breaks kept.
pub(crate) fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8 + 64);
    out.push_str("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>");
    let text = text.replace("\r\n", "\n");
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br>\n");
        }
        for c in line.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                _ => out.push(c),
            }
        }
    }
    out.push_str("</body></html>");
    out
}

/// Elements after which (or before which) text continues on a new line.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "dt",
    "dd",
];
/// Elements whose content is not text to show.
const SKIP_CONTENT_TAGS: &[&str] = &["script", "style", "head", "title"];

/// HTML → plain text: drops tags, comments, scripts and styles, decodes entities, turns
/// br/p/div/li and friends into line breaks, collapses other whitespace. Linear time,
/// no recursion, never panics.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut pending_space = false;
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < html.len() {
        let c = bytes[i];
        if c == b'<' {
            // Comment.
            if html[i..].starts_with("<!--") {
                i = html[i + 4..]
                    .find("-->")
                    .map_or(html.len(), |p| i + 4 + p + 3);
                continue;
            }
            let Some(end) = tag_end(html, i) else {
                // A '<' that opens no tag is text.
                push_text_char(&mut out, '<', &mut pending_space);
                i += 1;
                continue;
            };
            let inner = &html[i + 1..end];
            let closing = inner.starts_with('/');
            let name: String = inner
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            i = end + 1;
            if !closing && SKIP_CONTENT_TAGS.contains(&name.as_str()) && !inner.ends_with('/') {
                // Skip to the matching close tag (case-insensitive).
                let close = format!("</{name}");
                i = match find_ascii_ci(&html[i..], &close) {
                    Some(p) => {
                        let after = i + p;
                        tag_end(html, after).map_or(html.len(), |e| e + 1)
                    }
                    None => html.len(),
                };
                continue;
            }
            if BLOCK_TAGS.contains(&name.as_str()) {
                pending_space = false;
                if name == "br" || !out.ends_with('\n') {
                    out.push('\n');
                }
                if name == "li" && !closing {
                    out.push_str("- ");
                }
            } else if name == "td" || name == "th" {
                pending_space = !out.is_empty() && !out.ends_with('\n');
            }
            continue;
        }
        if c == b'&'
            && let Some((decoded, len)) = decode_entity(&html[i..])
        {
            push_text_char(&mut out, decoded, &mut pending_space);
            i += len;
            continue;
        }
        let ch = html[i..].chars().next().unwrap_or(' ');
        if ch.is_whitespace() && ch != '\u{a0}' {
            pending_space = !out.is_empty() && !out.ends_with('\n');
        } else {
            push_text_char(&mut out, ch, &mut pending_space);
        }
        i += ch.len_utf8();
    }
    // At most one empty line in a row, no trailing whitespace.
    let mut result = String::with_capacity(out.len());
    let mut newlines = 0;
    for ch in out.trim().chars() {
        if ch == '\n' {
            newlines += 1;
            if newlines > 2 {
                continue;
            }
        } else {
            newlines = 0;
        }
        result.push(ch);
    }
    result
}

/// Byte offset of `needle` (ASCII) in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn push_text_char(out: &mut String, ch: char, pending_space: &mut bool) {
    if *pending_space {
        out.push(' ');
        *pending_space = false;
    }
    out.push(if ch == '\u{a0}' { ' ' } else { ch });
}

/// Index of the '>' closing the tag that starts at `start`, honouring quoted attribute
/// values; None when `start` does not open a tag.
fn tag_end(html: &str, start: usize) -> Option<usize> {
    let bytes = html.as_bytes();
    let next = *bytes.get(start + 1)?;
    if !(next.is_ascii_alphabetic() || next == b'/' || next == b'!' || next == b'?') {
        return None;
    }
    let mut quote: Option<u8> = None;
    for (off, &b) in bytes[start + 1..].iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(start + 1 + off),
            None => {}
        }
    }
    None
}

/// Decodes the entity at the start of `s` ("&amp;", "&#233;", "&#xE9;").
fn decode_entity(s: &str) -> Option<(char, usize)> {
    // Entity names are short: look for the ';' in the next few bytes only.
    let end = s
        .bytes()
        .take(12)
        .position(|b| b == b';')
        .filter(|&p| p > 1)?;
    let name = &s[1..end];
    let ch = if let Some(num) = name.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse::<u32>().ok()?
        };
        match char::from_u32(code) {
            Some('\0') | None => '\u{fffd}',
            Some(c) => c,
        }
    } else {
        match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            "copy" => '©',
            "reg" => '®',
            "trade" => '™',
            "hellip" => '…',
            "mdash" => '—',
            "ndash" => '–',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "laquo" => '«',
            "raquo" => '»',
            "bull" => '•',
            "euro" => '€',
            "pound" => '£',
            "yen" => '¥',
            "cent" => '¢',
            "sect" => '§',
            "deg" => '°',
            "middot" => '·',
            "times" => '×',
            "shy" => '\u{ad}',
            "auml" => 'ä',
            "ouml" => 'ö',
            "uuml" => 'ü',
            "Auml" => 'Ä',
            "Ouml" => 'Ö',
            "Uuml" => 'Ü',
            "szlig" => 'ß',
            "eacute" => 'é',
            "egrave" => 'è',
            "agrave" => 'à',
            "ccedil" => 'ç',
            _ => return None,
        }
    };
    Some((ch, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_basics() {
        let html = "<html><head><title>T</title><style>p{color:red}</style>\
                    <script>alert('<p>x</p>')</script></head><body>\
                    <p>Hello&nbsp;<b>World</b> &amp; &lt;friends&gt;</p>\
                    <div>Line<br>break<BR/>again</div><!-- hidden <p> -->\
                    <ul><li>one</li><li>two</li></ul>\
                    <a href=\"x>y\">link</a>   spaced\n\n\n\ttext &#233;&#xE9; &bogus; 1 < 2\
                    </body></html>";
        let text = html_to_text(html);
        assert_eq!(
            text,
            "Hello World & <friends>\nLine\nbreak\nagain\n- one\n- two\nlink spaced text éé &bogus; 1 < 2"
        );
    }

    #[test]
    fn html_to_text_never_panics_on_junk() {
        for s in [
            "<",
            "<<<>",
            "<a",
            "<!--",
            "&",
            "&#",
            "&#x110000;",
            "<script>",
            "<p\"",
            "é<é>é",
            "&#0;",
        ] {
            let _ = html_to_text(s);
        }
        assert_eq!(html_to_text("&#0;"), "\u{fffd}");
    }

    #[test]
    fn text_to_html_escapes() {
        let h = text_to_html("a < b & \"c\"\nnext");
        assert!(h.contains("a &lt; b &amp; &quot;c&quot;<br>\nnext"), "{h}");
        assert!(!h.contains("a < b"));
    }

    #[test]
    fn cuts_respect_utf8_and_tags() {
        let s = "aé€😀";
        // a(1) é(2) €(3) 😀(4)
        assert_eq!(utf8_cut(s, 0), 0);
        assert_eq!(utf8_cut(s, 2), 1);
        assert_eq!(utf8_cut(s, 3), 3);
        assert_eq!(utf8_cut(s, 5), 3);
        assert_eq!(utf8_cut(s, 6), 6);
        assert_eq!(utf8_cut(s, 9), 6);
        assert_eq!(utf8_cut(s, 10), 10);
        let h = "<p>abc</p><img src=\"x\">";
        assert_eq!(html_cut(h, 14), 10); // inside <img: back to before it
        assert_eq!(html_cut(h, 10), 10);
        assert_eq!(html_cut(h, 5), 5);
        assert_eq!(mime_cut("aé".as_bytes(), 2), 1);
        assert_eq!(mime_cut(b"a\xe9b", 2), 2);
    }

    #[test]
    fn preview_collapses_and_limits() {
        assert_eq!(preview("  Hello \n\n  world\t!  ", 100), "Hello world !");
        assert_eq!(preview("äöü", 2), "äö");
        let long = "x".repeat(1000);
        assert_eq!(preview(&long, 1000).len(), 255);
    }
}
