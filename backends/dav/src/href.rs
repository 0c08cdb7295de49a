//! One form for every href this backend hands out or accepts.
//!
//! Servers send hrefs percent-encoded to different degrees (`/alice%40example.org/` and
//! `/alice@example.org/` are the same resource), sometimes as full URLs. The canonical form
//! is an absolute path with every escape decoded except `%25` (`%`) and `%2F` (a `/` inside
//! a segment), which stay encoded, in upper case. So in canonical form a literal `%`
//! always starts `%25` or `%2F`, and [`encode`] can turn it back into a request path
//! without ambiguity. Hrefs that do not decode to UTF-8 keep their escapes (upper-cased).

use percent_encoding::{AsciiSet, CONTROLS, percent_encode};

/// Bytes escaped when a canonical path goes on the wire: everything but unreserved
/// characters, sub-delims, `:`, `@`, `/` and `%` (which in canonical form already starts an
/// escape).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Canonical form of an href as a server sent it: a full URL is reduced to its path,
/// query and fragment are dropped. `None` for a relative reference or an empty one.
pub fn normalize(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let path = match raw.find("://") {
        Some(i)
            if raw[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+') =>
        {
            let rest = &raw[i + 3..];
            match rest.find('/') {
                Some(j) => &rest[j..],
                None => "/",
            }
        }
        _ => raw,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return None;
    }
    Some(decode(path))
}

fn decode(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut raw_upper = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            let v = h * 16 + l;
            let upper = [
                b'%',
                b[i + 1].to_ascii_uppercase(),
                b[i + 2].to_ascii_uppercase(),
            ];
            raw_upper.extend_from_slice(&upper);
            if v == b'%' || v == b'/' {
                out.extend_from_slice(&upper);
            } else {
                out.push(v);
            }
            i += 3;
            continue;
        }
        if b[i] == b'%' {
            // A stray `%` not starting an escape: make it `%25` so the form stays
            // unambiguous.
            out.extend_from_slice(b"%25");
            raw_upper.extend_from_slice(b"%25");
        } else {
            out.push(b[i]);
            raw_upper.push(b[i]);
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        // Not UTF-8 once decoded: keep the escapes.
        Err(_) => String::from_utf8(raw_upper).unwrap_or_default(),
    }
}

/// The wire form of a canonical path (also accepts a path that is already encoded).
pub fn encode(canonical: &str) -> String {
    percent_encode(canonical.as_bytes(), PATH).to_string()
}

/// The same path ending in `/`, as collection hrefs do.
pub fn as_collection(path: &str) -> String {
    if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    }
}

/// The canonical href of the member `name` (one path segment, not encoded) of a
/// collection. `None` when `name` is empty, `.`/`..` or contains `/`.
pub fn member(collection: &str, name: &str) -> Option<String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return None;
    }
    Some(format!(
        "{}{}",
        as_collection(collection),
        name.replace('%', "%25")
    ))
}

/// Whether two canonical paths name the same collection (a trailing `/` is optional).
pub fn same_collection(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_to_one_form() {
        assert_eq!(
            normalize("/alice%40example.org/calendar/").as_deref(),
            Some("/alice@example.org/calendar/")
        );
        assert_eq!(
            normalize("/alice@example.org/calendar/").as_deref(),
            Some("/alice@example.org/calendar/")
        );
        assert_eq!(
            normalize("http://127.0.0.1:5232/alice%40example.org/c/x%20y.ics").as_deref(),
            Some("/alice@example.org/c/x y.ics")
        );
        assert_eq!(normalize("https://dav.example.org").as_deref(), Some("/"));
        assert_eq!(normalize("/a/b.ics?x=1").as_deref(), Some("/a/b.ics"));
        assert_eq!(normalize("relative/path"), None);
        assert_eq!(normalize(""), None);
        // UTF-8 names decode; %2F and %25 stay encoded (upper case).
        assert_eq!(
            normalize("/u/K%C3%BCche/a%2fb%25c").as_deref(),
            Some("/u/Küche/a%2Fb%25c")
        );
        // A stray percent becomes %25; invalid UTF-8 keeps its escapes.
        assert_eq!(normalize("/u/50%").as_deref(), Some("/u/50%25"));
        assert_eq!(normalize("/u/%ff%fe").as_deref(), Some("/u/%FF%FE"));
    }

    #[test]
    fn normalize_is_idempotent_and_encode_round_trips() {
        for raw in [
            "/alice%40example.org/calendar/",
            "/u/K%C3%BCche/a%2fb%25c",
            "/u/x y/ä&b;c=d",
            "/u/50%",
            "/u/%ff%fe",
            "/u/a[1]{2}#?",
        ] {
            let once = normalize(raw).unwrap();
            assert_eq!(normalize(&once).unwrap(), once, "idempotent for {raw}");
            let wire = encode(&once);
            assert!(wire.is_ascii(), "{wire}");
            assert!(!wire.contains(' ') && !wire.contains('#') && !wire.contains('?'));
            assert_eq!(normalize(&wire).unwrap(), once, "round trip for {raw}");
        }
    }

    #[test]
    fn members_and_collections() {
        assert_eq!(
            member("/u/cal", "a b.ics").as_deref(),
            Some("/u/cal/a b.ics")
        );
        assert_eq!(
            member("/u/cal/", "100%.ics").as_deref(),
            Some("/u/cal/100%25.ics")
        );
        assert_eq!(member("/u/cal/", "a/b"), None);
        assert_eq!(member("/u/cal/", ".."), None);
        assert_eq!(as_collection("/u/cal"), "/u/cal/");
        assert!(same_collection("/u/cal", "/u/cal/"));
        assert!(!same_collection("/u/cal/x", "/u/cal/"));
    }
}
