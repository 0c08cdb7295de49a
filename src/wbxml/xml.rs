//! Debug rendering of an element tree as indented XML, in the style of libwbxml's
//! `wbxml2xml -m 1 -i 1` (same DOCTYPE, `xmlns="AirSync:"` style namespaces declared
//! where the code page changes from the parent's, one space of indent per level), so
//! logs can be compared with libwbxml output by eye. Not meant to be parsed back.

use std::fmt::Write;

use base64::Engine;

use super::{Element, Node};

/// Opaque data up to this size is shown as base64; longer data only by its length.
const OPAQUE_SHOWN_MAX: usize = 1024;

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn opaque(out: &mut String, data: &[u8]) {
    if data.len() <= OPAQUE_SHOWN_MAX {
        let b64 = base64::engine::general_purpose::STANDARD.encode(data);
        let _ = write!(out, "[opaque {} bytes: {b64}]", data.len());
    } else {
        let _ = write!(out, "[opaque {} bytes]", data.len());
    }
}

/// Writes `<Name xmlns="Ns:"` (namespace only if the page differs from the parent's).
fn open_tag(out: &mut String, element: &Element, parent_page: Option<u8>) {
    let tag = element.tag;
    match tag.name() {
        Some(name) => {
            let _ = write!(out, "<{name}");
        }
        None => {
            let _ = write!(out, "<unknown token=\"0x{:02X}\"", tag.token);
        }
    }
    if parent_page != Some(tag.page) {
        match tag.namespace() {
            Some(ns) => {
                let _ = write!(out, " xmlns=\"{ns}:\"");
            }
            None => {
                let _ = write!(out, " xmlns=\"Page{}:\"", tag.page);
            }
        }
    }
}

fn close_tag(out: &mut String, element: &Element) {
    match element.tag.name() {
        Some(name) => {
            let _ = write!(out, "</{name}>");
        }
        None => out.push_str("</unknown>"),
    }
}

fn indent(out: &mut String, depth: usize) {
    out.extend(std::iter::repeat_n(' ', depth));
}

/// Renders `root` as indented XML for logs and test failure messages.
pub fn to_xml(root: &Element) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" \"http://www.microsoft.com/\">\n",
    );
    render(&mut out, root, 0, None);
    out
}

/// Renders `root` at indent `depth`, below an element of page `parent_page`.
fn render(out: &mut String, root: &Element, depth: usize, parent_page: Option<u8>) {
    // Frames of open elements that have element children: (element, remaining children).
    let mut stack: Vec<(&Element, std::slice::Iter<'_, Node>)> = Vec::new();
    let mut pending = Some((root, parent_page));
    loop {
        if let Some((element, parent_page)) = pending.take() {
            indent(out, depth + stack.len());
            open_tag(out, element, parent_page);
            let has_elements = element
                .children
                .iter()
                .any(|n| matches!(n, Node::Element(_) | Node::Encoded(_)));
            if element.children.is_empty() {
                out.push_str("/>\n");
            } else if !has_elements {
                out.push('>');
                for child in &element.children {
                    match child {
                        Node::Text(t) => escape(out, t),
                        Node::Opaque(d) => opaque(out, d),
                        Node::Element(_) | Node::Encoded(_) => {}
                    }
                }
                close_tag(out, element);
                out.push('\n');
            } else {
                out.push_str(">\n");
                stack.push((element, element.children.iter()));
            }
        }
        let level = depth + stack.len();
        let Some((parent, children)) = stack.last_mut() else {
            break;
        };
        match children.next() {
            Some(Node::Element(child)) => pending = Some((child, Some(parent.tag.page))),
            Some(Node::Text(t)) => {
                indent(out, level);
                escape(out, t);
                out.push('\n');
            }
            Some(Node::Opaque(d)) => {
                indent(out, level);
                opaque(out, d);
                out.push('\n');
            }
            // Never nested: decoding makes no Encoded nodes.
            Some(Node::Encoded(done)) => match done.decode() {
                Ok(element) => render(out, &element, level, Some(parent.tag.page)),
                Err(e) => {
                    indent(out, level);
                    let _ = writeln!(out, "[encoded element that does not decode: {e}]");
                }
            },
            None => {
                let element = *parent;
                stack.pop();
                indent(out, depth + stack.len());
                close_tag(out, element);
                out.push('\n');
            }
        }
    }
}
