//! The `[imap] url` setting: `imap://host:143`, `imaps://host:993`,
//! `imap://host:143?tls=starttls`.

use std::fmt;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP (`imap://`), for an upstream on the same host or a trusted network.
    Plain,
    /// STARTTLS on the plain port (`imap://…?tls=starttls`, RFC 3501 §6.2.1).
    StartTls,
    /// TLS from the first byte (`imaps://`, RFC 8314).
    Implicit,
}

/// A parsed upstream IMAP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// Host name or IP address (IPv6 without brackets); also the TLS server name.
    pub host: String,
    /// TCP port; defaults to 143 for `imap`, 993 for `imaps`.
    pub port: u16,
    /// Transport security.
    pub security: Security,
}

/// An `[imap] url` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid IMAP url: {}", self.0)
    }
}

impl std::error::Error for UrlError {}

impl ImapUrl {
    /// Parses `imap[s]://host[:port][/][?tls=starttls]`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let err = |why: &str| UrlError(format!("{url:?}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| err("missing scheme"))?;
        let (mut security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "imap" => (Security::Plain, 143),
            "imaps" => (Security::Implicit, 993),
            _ => return Err(err("scheme must be imap or imaps")),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        if authority.contains(['/', '@']) {
            return Err(err("no path or user info allowed"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| err("bad host or port"))?;
        if host.is_empty() {
            return Err(err("missing host"));
        }
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("tls", v)) if v.eq_ignore_ascii_case("starttls") => {
                    if security == Security::Implicit {
                        return Err(err("imaps:// already uses TLS; drop ?tls=starttls"));
                    }
                    security = Security::StartTls;
                }
                _ => return Err(err(&format!("unknown query parameter {pair:?}"))),
            }
        }
        Ok(Self {
            host: host.to_string(),
            port: port.unwrap_or(default_port),
            security,
        })
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p != 0)?),
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (String, u16, Security) {
        let u = ImapUrl::parse(url).unwrap();
        (u.host, u.port, u.security)
    }

    #[test]
    fn the_three_documented_forms() {
        assert_eq!(
            ok("imap://127.0.0.1:143"),
            ("127.0.0.1".into(), 143, Security::Plain)
        );
        assert_eq!(
            ok("imaps://mail.example.org:993"),
            ("mail.example.org".into(), 993, Security::Implicit)
        );
        assert_eq!(
            ok("imap://mail.example.org:143?tls=starttls"),
            ("mail.example.org".into(), 143, Security::StartTls)
        );
    }

    #[test]
    fn default_ports_ipv6_and_trailing_slash() {
        assert_eq!(ok("imap://h"), ("h".into(), 143, Security::Plain));
        assert_eq!(ok("IMAPS://h/"), ("h".into(), 993, Security::Implicit));
        assert_eq!(
            ok("imap://[::1]:1143"),
            ("::1".into(), 1143, Security::Plain)
        );
        assert_eq!(ok("imaps://[::1]"), ("::1".into(), 993, Security::Implicit));
    }

    #[test]
    fn rejects_what_it_cannot_honour() {
        for bad in [
            "127.0.0.1:143",
            "http://h",
            "imap://",
            "imap://h:0",
            "imap://h:99999",
            "imap://h:x",
            "imap://user@h",
            "imap://h/INBOX",
            "imap://h?tls=none",
            "imaps://h?tls=starttls",
            "imap://[::1",
        ] {
            assert!(ImapUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
