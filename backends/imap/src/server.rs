//! What the backend knows about the upstream server: capabilities and namespaces, learnt
//! once after the first login and cached for the store's lifetime.

use std::collections::BTreeSet;

use crate::error::Error;
use crate::raw::{self, Session, Value};

/// The server's capabilities after login (RFC 3501 §7.2.1), upper-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(BTreeSet<String>);

impl Capabilities {
    /// Builds the set from capability names as the server wrote them.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        Self(
            names
                .into_iter()
                .map(|s| s.as_ref().to_ascii_uppercase())
                .collect(),
        )
    }

    /// Whether the server announced `name` (e.g. `"QRESYNC"`, `"AUTH=PLAIN"`), any case.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains(&name.to_ascii_uppercase())
    }

    /// The same set less `names` (any case).
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Self {
        let mut out = self.clone();
        for n in names {
            out.0.remove(&n.as_ref().to_ascii_uppercase());
        }
        out
    }

    /// All capability names, upper-cased and sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// One namespace (RFC 2342 §5): prefix as the server sends it (modified UTF-7) and
/// hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub prefix: String,
    pub delimiter: Option<char>,
}

impl Namespace {
    /// Whether the (modified UTF-7) mailbox name lies in this namespace. The prefix itself
    /// without its trailing delimiter (Dovecot lists `shared` as a placeholder) counts too.
    pub fn contains(&self, raw_name: &str) -> bool {
        if self.prefix.is_empty() {
            return true;
        }
        let bare = match self.delimiter {
            Some(d) => self.prefix.strip_suffix(d).unwrap_or(&self.prefix),
            None => &self.prefix,
        };
        raw_name.starts_with(&self.prefix) || raw_name == bare
    }
}

/// The three namespace groups of RFC 2342 §5.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub personal: Vec<Namespace>,
    pub other_users: Vec<Namespace>,
    pub shared: Vec<Namespace>,
}

impl Namespaces {
    /// Whether a (modified UTF-7) name lies in another user's or a shared namespace.
    pub fn is_shared(&self, raw_name: &str) -> bool {
        self.other_users
            .iter()
            .chain(&self.shared)
            .any(|ns| ns.contains(raw_name))
    }

    /// Parses the tokens after `* NAMESPACE`.
    fn parse(tokens: &[Value]) -> Self {
        let group = |i: usize| -> Vec<Namespace> {
            let Some(items) = tokens.get(i).and_then(Value::list) else {
                return Vec::new(); // NIL
            };
            items
                .iter()
                .filter_map(|ns| {
                    let ns = ns.list()?;
                    Some(Namespace {
                        prefix: ns.first()?.text()?.into_owned(),
                        delimiter: ns
                            .get(1)
                            .and_then(Value::text)
                            .and_then(|d| d.chars().next()),
                    })
                })
                .collect()
        };
        Self {
            personal: group(0),
            other_users: group(1),
            shared: group(2),
        }
    }
}

/// Capabilities and namespaces of the upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerInfo {
    pub capabilities: Capabilities,
    pub namespaces: Namespaces,
}

impl ServerInfo {
    /// Asks CAPABILITY and NAMESPACE in one round trip (pipelined).
    pub(crate) async fn fetch(session: &mut Session) -> Result<Self, Error> {
        let mut replies = raw::run_pipelined(session, &["CAPABILITY", "NAMESPACE"]).await?;
        let ns = replies.pop().expect("two replies");
        let caps = replies.pop().expect("two replies").ok()?;
        let capabilities = Capabilities::new(
            caps.data("CAPABILITY")
                .flatten()
                .filter_map(|v| v.text().map(|t| t.into_owned())),
        );
        // Without the NAMESPACE extension the command fails with BAD: no namespaces known.
        let namespaces = ns
            .data("NAMESPACE")
            .next()
            .map(Namespaces::parse)
            .unwrap_or_default();
        Ok(Self {
            capabilities,
            namespaces,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_ignore_case() {
        let caps = Capabilities::new(["IMAP4rev1", "list-status", "AUTH=PLAIN"]);
        assert!(caps.has("LIST-STATUS") && caps.has("auth=plain") && !caps.has("NOTIFY"));
        let less = caps.without(&["List-Status"]);
        assert!(!less.has("LIST-STATUS") && less.has("IMAP4REV1"));
    }

    #[test]
    fn dovecot_namespaces() {
        let s = |x: &str| Value::Str(x.as_bytes().to_vec());
        let ns = |p: &str| Value::List(vec![Value::List(vec![s(p), s("/")])]);
        let tokens = [ns(""), ns("shared/"), Value::Nil];
        let parsed = Namespaces::parse(&tokens);
        assert_eq!(parsed.personal[0].prefix, "");
        assert_eq!(parsed.other_users[0].delimiter, Some('/'));
        assert!(parsed.shared.is_empty());
        assert!(parsed.is_shared("shared/bob@example.org/INBOX"));
        assert!(parsed.is_shared("shared"));
        assert!(!parsed.is_shared("sharedstuff"));
        assert!(!parsed.is_shared("INBOX"));
    }
}
