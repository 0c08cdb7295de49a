//! A small ManageSieve client (RFC 5804) and the Out-of-Office script airsync keeps
//! for a user (RFC 5230 vacation, RFC 5260 date/currentdate, RFC 6609 include).
//!
//! # The script
//!
//! airsync writes one script of its own (`[sieve] script`, default `airsync`) with the
//! user's own credentials, and makes it the active one. It runs the vacation action when
//! Out-of-Office is on (within StartTime–EndTime for a scheduled Oof, compared in UTC
//! with `currentdate :zone "+0000"`), then `include :personal` of the script that was
//! active before, so every rule the user had (fileinto, …) keeps working. The Oof
//! settings themselves are kept in a comment line of the script (`# airsync-oof: {json}`)
//! so that Settings Oof Get answers exactly what was set. Turning Oof off makes the
//! previous script active again (or none, if there was none) and deletes airsync's.
//!
//! Internal senders are those whose From address is in the user's own domain;
//! everybody else is external (Sieve cannot tell "known" external senders: the
//! ExternalKnown message is used for all external senders when enabled, else the
//! ExternalUnknown one).

use std::time::Duration;

use airsync_model::{BackendError, Credentials};
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Out-of-Office as EAS states it (MS-ASCMD 2.2.3.119 ff.).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Oof {
    /// 0 disabled, 1 global, 2 time-based.
    pub state: u8,
    /// Unix seconds (state 2).
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub internal: Option<OofMessage>,
    pub external_known: Option<OofMessage>,
    pub external_unknown: Option<OofMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct OofMessage {
    pub enabled: bool,
    pub reply: String,
    /// "Text" or "HTML".
    pub body_type: String,
}

const MARK: &str = "# airsync-oof: ";
const PREVIOUS: &str = "# airsync-previous: ";

/// A Sieve quoted string (RFC 5228 §2.4.2): `\` and `"` escaped.
fn sieve_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `2026-01-01T10:00:00`, the UTC form compared against `currentdate :zone "+0000"`
/// (whose value is longer, so an equal prefix compares as later: start inclusive, end
/// exclusive).
fn utc(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn vacation(msg: &OofMessage, addresses: &[String]) -> String {
    let addrs = addresses
        .iter()
        .map(|a| sieve_string(a))
        .collect::<Vec<_>>()
        .join(", ");
    let html = msg.body_type.eq_ignore_ascii_case("HTML");
    let body = if html {
        format!(
            "Content-Type: text/html; charset=utf-8\r\n\r\n{}",
            msg.reply
        )
    } else {
        msg.reply.clone()
    };
    format!(
        "vacation :days 1 :subject \"Out of Office\" :addresses [{addrs}]{} {};",
        if html { " :mime" } else { "" },
        sieve_string(&body)
    )
}

/// The whole script for `oof` (state 1 or 2), including `previous` when given.
pub fn script(oof: &Oof, addresses: &[String], domain: &str, previous: Option<&str>) -> String {
    let mut require = vec!["\"vacation\""];
    if previous.is_some() {
        require.push("\"include\"");
    }
    if oof.state == 2 {
        require.extend(["\"date\"", "\"relational\""]);
    }
    let mut s = format!("require [{}];\r\n", require.join(", "));
    s.push_str(&format!(
        "{MARK}{}\r\n",
        serde_json::to_string(oof).unwrap_or_default()
    ));
    if let Some(p) = previous {
        s.push_str(&format!(
            "{PREVIOUS}{}\r\n",
            serde_json::to_string(p).unwrap_or_default()
        ));
    }
    let internal = oof.internal.as_ref().filter(|m| m.enabled);
    let external = oof
        .external_known
        .as_ref()
        .filter(|m| m.enabled)
        .or(oof.external_unknown.as_ref().filter(|m| m.enabled));
    let mut actions = String::new();
    match (internal, external) {
        (Some(i), Some(e)) => actions.push_str(&format!(
            "if address :domain :is \"from\" {} {{ {} }} else {{ {} }}",
            sieve_string(domain),
            vacation(i, addresses),
            vacation(e, addresses)
        )),
        (Some(i), None) => actions.push_str(&format!(
            "if address :domain :is \"from\" {} {{ {} }}",
            sieve_string(domain),
            vacation(i, addresses)
        )),
        (None, Some(e)) => actions.push_str(&format!(
            "if not address :domain :is \"from\" {} {{ {} }}",
            sieve_string(domain),
            vacation(e, addresses)
        )),
        (None, None) => {}
    }
    if !actions.is_empty() {
        match (oof.state, oof.start, oof.end) {
            (2, start, end) => {
                let mut tests = Vec::new();
                if let Some(t) = start {
                    tests.push(format!(
                        "currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" {}",
                        sieve_string(&utc(t))
                    ));
                }
                if let Some(t) = end {
                    tests.push(format!(
                        "currentdate :zone \"+0000\" :value \"lt\" \"iso8601\" {}",
                        sieve_string(&utc(t))
                    ));
                }
                if tests.is_empty() {
                    s.push_str(&format!("{actions}\r\n"));
                } else {
                    s.push_str(&format!(
                        "if allof({}) {{\r\n  {actions}\r\n}}\r\n",
                        tests.join(", ")
                    ));
                }
            }
            _ => s.push_str(&format!("{actions}\r\n")),
        }
    }
    if let Some(p) = previous {
        s.push_str(&format!("include :personal {};\r\n", sieve_string(p)));
    }
    s
}

/// The Oof settings and previous script recorded in one of airsync's scripts.
pub fn parse_script(text: &str) -> (Option<Oof>, Option<String>) {
    let mut oof = None;
    let mut prev = None;
    for line in text.lines() {
        if let Some(j) = line.strip_prefix(MARK) {
            oof = serde_json::from_str(j.trim()).ok();
        } else if let Some(j) = line.strip_prefix(PREVIOUS) {
            prev = serde_json::from_str(j.trim()).ok();
        }
    }
    (oof, prev)
}

// ---------------------------------------------------------------------------------------
// ManageSieve.
// ---------------------------------------------------------------------------------------

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct ManageSieve {
    io: BufReader<Box<dyn Io>>,
}

/// The final response of a command: OK, NO or BYE with its text.
#[derive(Debug)]
struct Done {
    ok: bool,
    text: String,
}

fn transient(e: impl std::fmt::Display) -> BackendError {
    BackendError::Transient(format!("managesieve: {e}"))
}

const TIMEOUT: Duration = Duration::from_secs(20);

impl ManageSieve {
    /// Connects to `cfg.url` (`sieve://host:port`, `?tls=starttls` to require
    /// STARTTLS; STARTTLS is used whenever the server offers it) and logs in as `creds`.
    pub async fn connect(
        cfg: &crate::settings::Sieve,
        creds: &Credentials,
    ) -> Result<ManageSieve, BackendError> {
        tokio::time::timeout(TIMEOUT, Self::connect_in(cfg, creds))
            .await
            .map_err(|_| transient("timed out"))?
    }

    async fn connect_in(
        cfg: &crate::settings::Sieve,
        creds: &Credentials,
    ) -> Result<ManageSieve, BackendError> {
        let rest = cfg.url.strip_prefix("sieve://").ok_or_else(|| {
            BackendError::Permanent(format!(
                "[sieve] url {:?}: expected sieve://host:port",
                cfg.url
            ))
        })?;
        let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
        let hostport = hostport.trim_end_matches('/');
        let require_tls = query.contains("tls=starttls");
        let host = hostport
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(hostport)
            .trim_matches(['[', ']'])
            .to_string();
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:4190")
        };
        let tcp = TcpStream::connect(&addr).await.map_err(transient)?;
        let mut s = ManageSieve {
            io: BufReader::new(Box::new(tcp)),
        };
        let (caps, _) = s.read_response().await?;
        let has = |c: &str| {
            caps.iter()
                .any(|l| l.to_ascii_uppercase().starts_with(&format!("\"{c}\"")))
        };
        if has("STARTTLS") || require_tls {
            s.send("STARTTLS\r\n").await?;
            let (_, done) = s.read_response().await?;
            if !done.ok {
                return Err(transient(format!("STARTTLS refused: {}", done.text)));
            }
            let connector = airsync_imap::tls_connector(cfg.ca_file.as_deref())
                .map_err(|e| BackendError::Permanent(e.to_string()))?;
            let name = rustls_pki_types::ServerName::try_from(host)
                .map_err(|e| BackendError::Permanent(e.to_string()))?;
            let inner = s.io.into_inner();
            let tls = connector.connect(name, inner).await.map_err(transient)?;
            s = ManageSieve {
                io: BufReader::new(Box::new(tls)),
            };
            // RFC 5804 §2.2: the server re-sends its capabilities after STARTTLS.
            s.read_response().await?;
        }
        let plain = base64::engine::general_purpose::STANDARD
            .encode(format!("\0{}\0{}", creds.login, creds.password));
        s.send(&format!("AUTHENTICATE \"PLAIN\" \"{plain}\"\r\n"))
            .await?;
        let (_, done) = s.read_response().await?;
        if !done.ok {
            return Err(BackendError::Auth);
        }
        Ok(s)
    }

    async fn send(&mut self, text: &str) -> Result<(), BackendError> {
        self.io
            .get_mut()
            .write_all(text.as_bytes())
            .await
            .map_err(transient)?;
        self.io.get_mut().flush().await.map_err(transient)
    }

    /// Reads response lines up to the final OK/NO/BYE; literals `{n}` are read whole and
    /// appended to their line.
    async fn read_response(&mut self) -> Result<(Vec<String>, Done), BackendError> {
        let mut lines = Vec::new();
        loop {
            let mut line = self.read_line().await?;
            // A line ending in a literal announcement carries n bytes next.
            while let Some(n) = literal_len(&line) {
                let mut buf = vec![0u8; n];
                tokio::io::AsyncReadExt::read_exact(&mut self.io, &mut buf)
                    .await
                    .map_err(transient)?;
                let cut = line.rfind('{').unwrap_or(line.len());
                line.truncate(cut);
                line.push_str(&String::from_utf8_lossy(&buf));
                line.push_str(&self.read_line().await?);
            }
            let upper = line.to_ascii_uppercase();
            for (word, ok) in [("OK", true), ("NO", false), ("BYE", false)] {
                if upper == word || upper.starts_with(&format!("{word} ")) {
                    return Ok((
                        lines,
                        Done {
                            ok,
                            text: line[word.len()..].trim().to_string(),
                        },
                    ));
                }
            }
            lines.push(line);
        }
    }

    async fn read_line(&mut self) -> Result<String, BackendError> {
        let mut line = String::new();
        let n = self.io.read_line(&mut line).await.map_err(transient)?;
        if n == 0 {
            return Err(transient("connection closed"));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    async fn command(&mut self, text: &str) -> Result<(Vec<String>, Done), BackendError> {
        tokio::time::timeout(TIMEOUT, async {
            self.send(text).await?;
            self.read_response().await
        })
        .await
        .map_err(|_| transient("timed out"))?
    }

    /// Every script with whether it is the active one.
    pub async fn list_scripts(&mut self) -> Result<Vec<(String, bool)>, BackendError> {
        let (lines, done) = self.command("LISTSCRIPTS\r\n").await?;
        if !done.ok {
            return Err(BackendError::Permanent(format!(
                "LISTSCRIPTS: {}",
                done.text
            )));
        }
        Ok(lines
            .iter()
            .filter_map(|l| {
                let l = l.trim();
                let name = l.strip_prefix('"')?;
                let end = name.find('"')?;
                Some((
                    name[..end].to_string(),
                    l[end + 2..].trim().eq_ignore_ascii_case("ACTIVE"),
                ))
            })
            .collect())
    }

    /// A script's text, `None` when it does not exist.
    pub async fn get_script(&mut self, name: &str) -> Result<Option<String>, BackendError> {
        let (lines, done) = self
            .command(&format!("GETSCRIPT {}\r\n", sieve_string(name)))
            .await?;
        Ok(done.ok.then(|| lines.join("\r\n")))
    }

    pub async fn put_script(&mut self, name: &str, text: &str) -> Result<(), BackendError> {
        let (_, done) = self
            .command(&format!(
                "PUTSCRIPT {} {{{}+}}\r\n{text}\r\n",
                sieve_string(name),
                text.len()
            ))
            .await?;
        if done.ok {
            Ok(())
        } else {
            Err(BackendError::Permanent(format!("PUTSCRIPT: {}", done.text)))
        }
    }

    /// Makes `name` the active script; `""` deactivates every script.
    pub async fn set_active(&mut self, name: &str) -> Result<(), BackendError> {
        let (_, done) = self
            .command(&format!("SETACTIVE {}\r\n", sieve_string(name)))
            .await?;
        if done.ok {
            Ok(())
        } else {
            Err(BackendError::Permanent(format!("SETACTIVE: {}", done.text)))
        }
    }

    pub async fn delete_script(&mut self, name: &str) -> Result<(), BackendError> {
        let (_, done) = self
            .command(&format!("DELETESCRIPT {}\r\n", sieve_string(name)))
            .await?;
        if done.ok {
            Ok(())
        } else {
            Err(BackendError::Permanent(format!(
                "DELETESCRIPT: {}",
                done.text
            )))
        }
    }

    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT\r\n").await;
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let l = line.strip_suffix('}')?;
    let open = l.rfind('{')?;
    l[open + 1..].trim_end_matches('+').parse().ok()
}

/// The user's Oof as recorded in airsync's script when that script is active.
pub async fn get_oof(
    cfg: &crate::settings::Sieve,
    creds: &Credentials,
) -> Result<Oof, BackendError> {
    let mut s = ManageSieve::connect(cfg, creds).await?;
    let scripts = s.list_scripts().await?;
    let active = scripts.iter().any(|(n, a)| *a && *n == cfg.script);
    let oof = if active {
        s.get_script(&cfg.script)
            .await?
            .and_then(|t| parse_script(&t).0)
    } else {
        None
    };
    s.logout().await;
    Ok(oof.unwrap_or_default())
}

/// Writes (state 1/2) or removes (state 0) the Out-of-Office script.
pub async fn set_oof(
    cfg: &crate::settings::Sieve,
    creds: &Credentials,
    oof: &Oof,
    addresses: &[String],
    domain: &str,
) -> Result<(), BackendError> {
    let mut s = ManageSieve::connect(cfg, creds).await?;
    let scripts = s.list_scripts().await?;
    let active = scripts.iter().find(|(_, a)| *a).map(|(n, _)| n.clone());
    let ours_exists = scripts.iter().any(|(n, _)| *n == cfg.script);
    // The user's own script: the active one, or the one ours includes.
    let previous = match &active {
        Some(n) if *n == cfg.script => s.get_script(n).await?.and_then(|t| parse_script(&t).1),
        Some(n) => Some(n.clone()),
        None if ours_exists => s
            .get_script(&cfg.script)
            .await?
            .and_then(|t| parse_script(&t).1),
        None => None,
    };
    let previous = previous.filter(|p| scripts.iter().any(|(n, _)| n == p));
    if oof.state == 0 {
        if active.as_deref() == Some(cfg.script.as_str()) {
            s.set_active(previous.as_deref().unwrap_or("")).await?;
        }
        if ours_exists {
            s.delete_script(&cfg.script).await?;
        }
    } else {
        let text = script(oof, addresses, domain, previous.as_deref());
        s.put_script(&cfg.script, &text).await?;
        s.set_active(&cfg.script).await?;
    }
    s.logout().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_script_round_trips() {
        let oof = Oof {
            state: 2,
            start: Some(1_767_225_600),
            end: Some(1_767_312_000),
            internal: Some(OofMessage {
                enabled: true,
                reply: "Away \"inside\"".into(),
                body_type: "Text".into(),
            }),
            external_known: None,
            external_unknown: Some(OofMessage {
                enabled: true,
                reply: "Away".into(),
                body_type: "Text".into(),
            }),
        };
        let s = script(
            &oof,
            &["a@example.org".into()],
            "example.org",
            Some("rules"),
        );
        assert!(
            s.starts_with("require [\"vacation\", \"include\", \"date\", \"relational\"];"),
            "{s}"
        );
        assert!(
            s.contains(
                "currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" \"2026-01-01T00:00:00\""
            ),
            "{s}"
        );
        assert!(
            s.contains("\"lt\" \"iso8601\" \"2026-01-02T00:00:00\""),
            "{s}"
        );
        assert!(s.contains("Away \\\"inside\\\""), "{s}");
        assert!(
            s.trim_end().ends_with("include :personal \"rules\";"),
            "{s}"
        );
        assert_eq!(parse_script(&s), (Some(oof), Some("rules".to_string())));
        assert_eq!(literal_len("{12}"), Some(12));
        assert_eq!(literal_len("\"x\" {3+}"), Some(3));
    }
}
