//! A content-line model shared by iCalendar (RFC 5545) and vCard (RFC 2426 / 6350):
//! components holding properties that remember the exact line they were read from.
//!
//! This is the base of the lossless rule: a client Change rewrites only the properties
//! EAS carries. Every other property, parameter and component is written back as the
//! very line it was read from (unfolded, then folded again at 75 octets), so X-
//! properties, unknown parameters, ATTACH, extra VALARMs and the like survive byte for
//! byte apart from line folding. A property that we change loses its remembered line
//! and is written from its parts; its parameters are kept unless we change them.
//!
//! Parsing is tolerant (LF or CRLF, folded with space or tab, lower-case names, a
//! vCard group prefix `item1.TEL`), but refuses input that is not one well-nested
//! `BEGIN`/`END` object: that is garbage to the callers and becomes a `ConvertError`.
//! No recursion on input depth beyond a fixed limit, no panics.

/// Nesting deeper than this is refused (VCALENDAR > VEVENT > VALARM is 3).
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    /// vCard group (`item1` in `item1.TEL`), as written.
    pub group: Option<String>,
    /// Upper case.
    pub name: String,
    /// Parameter names upper case, values as written (quotes removed).
    pub params: Vec<(String, Vec<String>)>,
    /// The raw value, still escaped.
    pub value: String,
    /// The unfolded line this property was read from; `None` once changed.
    raw: Option<String>,
}

impl Prop {
    pub fn new(name: &str, value: impl Into<String>) -> Prop {
        Prop {
            group: None,
            name: name.to_ascii_uppercase(),
            params: Vec::new(),
            value: value.into(),
            raw: None,
        }
    }

    /// A property with a text value (escaped here).
    pub fn text(name: &str, value: &str) -> Prop {
        Prop::new(name, escape(value))
    }

    pub fn with_param(mut self, name: &str, value: &str) -> Prop {
        self.set_param(name, value);
        self
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// All values of every parameter `name` (TYPE=work,voice;TYPE=pref → 3 values).
    pub fn param_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.iter().flat_map(|s| s.split(',')))
            .map(str::trim)
    }

    pub fn has_type(&self, t: &str) -> bool {
        self.param_values("TYPE").any(|v| v.eq_ignore_ascii_case(t))
    }

    pub fn set_param(&mut self, name: &str, value: &str) {
        self.raw = None;
        let name = name.to_ascii_uppercase();
        if let Some(p) = self.params.iter_mut().find(|(n, _)| *n == name) {
            p.1 = vec![value.to_string()];
        } else {
            self.params.push((name, vec![value.to_string()]));
        }
    }

    pub fn remove_param(&mut self, name: &str) {
        if self
            .params
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            self.raw = None;
            self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
    }

    /// Replaces the (escaped) value; keeps the parameters.
    pub fn set_value(&mut self, value: impl Into<String>) {
        let value = value.into();
        if value != self.value {
            self.raw = None;
            self.value = value;
        }
    }

    /// The value unescaped as TEXT.
    pub fn text_value(&self) -> String {
        unescape(&self.value)
    }

    /// The value split at unescaped `sep` and unescaped (structured / list values).
    pub fn parts(&self, sep: char) -> Vec<String> {
        split_escaped(&self.value, sep)
            .into_iter()
            .map(|p| unescape(&p))
            .collect()
    }

    fn write(&self, out: &mut String) {
        let line = match &self.raw {
            Some(raw) => raw.clone(),
            None => {
                let mut l = String::new();
                if let Some(g) = &self.group {
                    l.push_str(g);
                    l.push('.');
                }
                l.push_str(&self.name);
                for (n, vals) in &self.params {
                    l.push(';');
                    l.push_str(n);
                    l.push('=');
                    for (i, v) in vals.iter().enumerate() {
                        if i > 0 {
                            l.push(',');
                        }
                        if v.contains([':', ';', ',']) {
                            l.push('"');
                            l.push_str(&v.replace('"', "'"));
                            l.push('"');
                        } else {
                            l.push_str(v);
                        }
                    }
                }
                l.push(':');
                l.push_str(&self.value);
                l
            }
        };
        fold(&line, out);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Upper case.
    pub name: String,
    pub props: Vec<Prop>,
    pub children: Vec<Component>,
}

impl Component {
    pub fn new(name: &str) -> Component {
        Component {
            name: name.to_ascii_uppercase(),
            props: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    pub fn prop_mut(&mut self, name: &str) -> Option<&mut Prop> {
        self.props.iter_mut().find(|p| p.name == name)
    }

    pub fn props_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Prop> {
        self.props.iter().filter(move |p| p.name == name)
    }

    /// Unescaped text of the first `name` property.
    pub fn text(&self, name: &str) -> Option<String> {
        self.prop(name).map(Prop::text_value)
    }

    pub fn remove(&mut self, name: &str) {
        self.props.retain(|p| p.name != name);
    }

    /// Sets the first `name` property's value (keeping its parameters and position) and
    /// removes any further ones; appends when there is none.
    pub fn set(&mut self, prop: Prop) {
        let mut seen = false;
        let name = prop.name.clone();
        let mut new = Some(prop);
        self.props.retain_mut(|p| {
            if p.name != name {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            if let Some(n) = new.take() {
                p.set_value(n.value);
                for (pn, pv) in n.params {
                    if p.param(&pn) != pv.first().map(String::as_str) {
                        p.set_param(&pn, pv.first().map(String::as_str).unwrap_or(""));
                    }
                }
            }
            true
        });
        if let Some(n) = new {
            self.props.push(n);
        }
    }

    /// Sets a TEXT property when `value` is Some and non-empty, removes it otherwise.
    /// An unchanged value keeps the original line.
    pub fn set_text(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) if !v.is_empty() => {
                if self.text(name).as_deref() != Some(v) {
                    self.set(Prop::text(name, v));
                }
            }
            _ => self.remove(name),
        }
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Component> {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        fold(&format!("BEGIN:{}", self.name), out);
        for p in &self.props {
            p.write(out);
        }
        for c in &self.children {
            c.write(out);
        }
        fold(&format!("END:{}", self.name), out);
    }
}

/// Folds at 75 octets without splitting a UTF-8 sequence; CRLF line ends.
fn fold(line: &str, out: &mut String) {
    let mut rest = line;
    let mut first = true;
    loop {
        let max = if first { 75 } else { 74 };
        if rest.len() <= max {
            if !first {
                out.push(' ');
            }
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if !first {
            out.push(' ');
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n");
        rest = &rest[cut..];
        first = false;
    }
}

/// Unfolds and splits into logical lines.
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let l = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = l.strip_prefix([' ', '\t'])
            && let Some(last) = lines.last_mut()
        {
            last.push_str(cont);
            continue;
        }
        if !l.trim().is_empty() {
            lines.push(l.to_string());
        }
    }
    lines
}

/// One content line → property. None when there is no `:` or no name.
fn parse_line(line: &str) -> Option<Prop> {
    // name and params end at the first ':' outside double quotes
    let mut in_quote = false;
    let mut colon = None;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            ':' if !in_quote => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon?;
    let head = &line[..colon];
    let value = &line[colon + 1..];
    let mut pieces = split_params(head).into_iter();
    let full_name = pieces.next()?;
    let full_name = full_name.trim_start_matches('\u{feff}');
    let (group, name) = match full_name.rsplit_once('.') {
        Some((g, n)) => (Some(g.to_string()), n),
        None => (None, full_name),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let mut params = Vec::new();
    for p in pieces {
        let (n, v) = match p.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_uppercase(), v),
            // vCard 2.1 bare parameter ("TEL;WORK;VOICE:") means TYPE=
            None => ("TYPE".to_string(), p.as_str()),
        };
        let vals = split_param_values(v);
        params.push((n, vals));
    }
    Some(Prop {
        group,
        name: name.to_ascii_uppercase(),
        params,
        value: value.to_string(),
        raw: Some(line.to_string()),
    })
}

fn split_params(head: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in head.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            ';' if !in_quote => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn split_param_values(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in v.chars() {
        match c {
            '"' => in_quote = !in_quote,
            ',' if !in_quote => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses one object (`BEGIN:VCALENDAR` … or `BEGIN:VCARD` …). Lines after its END are
/// ignored; anything malformed inside is an error.
pub fn parse(input: &[u8]) -> Option<Component> {
    let text = std::str::from_utf8(input).ok()?;
    let mut stack: Vec<Component> = Vec::new();
    for line in unfold(text) {
        let prop = parse_line(&line)?;
        if prop.name == "BEGIN" && prop.params.is_empty() {
            if stack.len() >= MAX_DEPTH {
                return None;
            }
            let n = prop.value.trim();
            if n.is_empty() {
                return None;
            }
            stack.push(Component::new(n));
        } else if prop.name == "END" && prop.params.is_empty() {
            let done = stack.pop()?;
            if !done.name.eq_ignore_ascii_case(prop.value.trim()) {
                return None;
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(done),
                None => return Some(done),
            }
        } else {
            stack.last_mut()?.props.push(prop);
        }
    }
    None
}

/// RFC 5545 3.3.11 / RFC 6350 3.4 TEXT escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits at `sep` not preceded by a backslash; the parts stay escaped.
pub fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Joins parts with `sep`, escaping each part as TEXT.
pub fn join_escaped<S: AsRef<str>>(parts: &[S], sep: char) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(&escape(p.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write_keep_unknown_lines() {
        let src = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nX-FOO;X-P=\"a:b\":v\r\nSUMMARY:a\\, b\r\n DE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let c = parse(src.as_bytes()).unwrap();
        let ev = &c.children[0];
        assert_eq!(ev.text("SUMMARY").unwrap(), "a, bDE");
        assert_eq!(ev.prop("X-FOO").unwrap().param("X-P"), Some("a:b"));
        let out = c.to_text();
        assert!(out.contains("X-FOO;X-P=\"a:b\":v\r\n"));
        assert!(out.contains("SUMMARY:a\\, bDE\r\n"));
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse(b"hello").is_none());
        assert!(parse(b"BEGIN:VCARD\r\nFN:x\r\n").is_none());
        assert!(parse(b"BEGIN:A\r\nEND:B\r\n").is_none());
        assert!(parse(&[0xff, 0xfe]).is_none());
        let deep = "BEGIN:X\n".repeat(100);
        assert!(parse(deep.as_bytes()).is_none());
    }

    #[test]
    fn folding_respects_utf8() {
        let mut c = Component::new("VCARD");
        c.props.push(Prop::text("NOTE", &"é".repeat(100)));
        let out = c.to_text();
        for l in out.split("\r\n") {
            assert!(l.len() <= 75);
        }
        let back = parse(out.as_bytes()).unwrap();
        assert_eq!(back.text("NOTE").unwrap(), "é".repeat(100));
    }
}
