//! SMTP submission (RFC 6409) for airsync, with lettre: one connection per message,
//! authenticated as the user (SMTP AUTH with the user's own login and password) or
//! as a configured relay account.
//!
//! URL forms: `smtp://host:587` (STARTTLS, required), `smtps://host:465` (implicit
//! TLS), `smtp://host:25?tls=none` (plain text: only for a relay on loopback).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use airsync_model::{BackendError, Credentials, Submitter};
use async_trait::async_trait;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// How to reach the submission server.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub url: String,
    /// An extra trust anchor (PEM) for the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Authenticate as this account instead of the user (a relay that trusts airsync).
    pub relay: Option<Credentials>,
    pub timeout: Duration,
}

impl SmtpConfig {
    pub fn new(url: impl Into<String>) -> SmtpConfig {
        SmtpConfig {
            url: url.into(),
            ca_file: None,
            relay: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "SMTP URL {0:?}: expected smtp://host[:port][?tls=starttls|none] or smtps://host[:port]"
    )]
    Url(String),
    #[error("SMTP ca_file {0}: {1}")]
    Ca(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    StartTls,
    Implicit,
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    security: Security,
}

fn parse_url(url: &str) -> Option<Endpoint> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = authority.trim_end_matches('/');
    let (mut security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (Security::StartTls, 587),
        "smtps" => (Security::Implicit, 465),
        _ => return None,
    };
    if let Some(q) = query {
        for pair in q.split('&') {
            match pair.to_ascii_lowercase().as_str() {
                "tls=starttls" if security == Security::StartTls => {}
                "tls=none" if security == Security::StartTls => security = Security::Plain,
                _ => return None,
            }
        }
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() || host.contains('@') {
        return None;
    }
    Some(Endpoint {
        host,
        port,
        security,
    })
}

/// The submission backend.
pub struct SmtpSubmitter {
    endpoint: Endpoint,
    tls: Option<TlsParameters>,
    relay: Option<Credentials>,
    timeout: Duration,
}

impl SmtpSubmitter {
    pub fn new(config: SmtpConfig) -> Result<SmtpSubmitter, ConfigError> {
        let endpoint =
            parse_url(&config.url).ok_or_else(|| ConfigError::Url(config.url.clone()))?;
        let tls = if endpoint.security == Security::Plain {
            None
        } else {
            let mut builder = TlsParameters::builder(endpoint.host.clone());
            if let Some(path) = &config.ca_file {
                let ca_err = |e: String| ConfigError::Ca(path.display().to_string(), e);
                let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
                builder = builder.add_root_certificate(
                    Certificate::from_pem(&pem).map_err(|e| ca_err(e.to_string()))?,
                );
            }
            Some(
                builder
                    .build_rustls()
                    .map_err(|e| ConfigError::Ca("(TLS set-up)".into(), e.to_string()))?,
            )
        };
        Ok(SmtpSubmitter {
            endpoint,
            tls,
            relay: config.relay,
            timeout: config.timeout,
        })
    }

    fn transport(&self, creds: &Credentials) -> AsyncSmtpTransport<Tokio1Executor> {
        let tls = match (&self.endpoint.security, &self.tls) {
            (Security::StartTls, Some(p)) => Tls::Required(p.clone()),
            (Security::Implicit, Some(p)) => Tls::Wrapper(p.clone()),
            _ => Tls::None,
        };
        let who = self.relay.as_ref().unwrap_or(creds);
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.endpoint.host.clone())
            .port(self.endpoint.port)
            .tls(tls)
            .timeout(Some(self.timeout))
            .credentials(SmtpCredentials::new(
                who.login.clone(),
                who.password.clone(),
            ))
            .build()
    }
}

/// lettre's error → the model's. Auth failures (RFC 4954 535/534/530, or a server
/// that offers no usable mechanism) are `Auth`; 4xx, timeouts, TLS and connection
/// failures `Transient`; other 5xx `Permanent`.
fn map_error(e: &lettre::transport::smtp::Error) -> BackendError {
    let code = e.status().map(u16::from);
    match code {
        Some(530 | 534 | 535) => BackendError::Auth,
        Some(c) if (400..500).contains(&c) => BackendError::Transient(e.to_string()),
        Some(_) => BackendError::Permanent(e.to_string()),
        None if e.is_client() => BackendError::Permanent(e.to_string()),
        None => BackendError::Transient(e.to_string()),
    }
}

#[async_trait]
impl Submitter for SmtpSubmitter {
    async fn submit(
        &self,
        creds: &Credentials,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<(), BackendError> {
        let bad = |a: &str| BackendError::Permanent(format!("invalid address {a:?}"));
        let from = Address::from_str(envelope_from).map_err(|_| bad(envelope_from))?;
        let to = recipients
            .iter()
            .map(|r| Address::from_str(r).map_err(|_| bad(r)))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope =
            Envelope::new(Some(from), to).map_err(|e| BackendError::Permanent(e.to_string()))?;
        match self.transport(creds).send_raw(&envelope, raw).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let mapped = map_error(&e);
                tracing::warn!(target: "airsync", login = %creds.login, error = %e, "SMTP submission failed");
                Err(mapped)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = parse_url("smtp://mail.example.org").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.security),
            ("mail.example.org", 587, Security::StartTls)
        );
        let e = parse_url("smtps://127.0.0.1:4465/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.security),
            ("127.0.0.1", 4465, Security::Implicit)
        );
        let e = parse_url("smtp://127.0.0.1:25?tls=none").unwrap();
        assert_eq!(e.security, Security::Plain);
        assert_eq!(parse_url("smtp://[::1]:2525").unwrap().host, "::1");
        for bad in [
            "http://x",
            "smtp://",
            "smtps://x?tls=none",
            "smtp://x:notaport",
            "smtp://u@x",
            "smtp://x?foo=1",
        ] {
            assert!(parse_url(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn refused_connection_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let s = SmtpSubmitter::new(SmtpConfig::new(format!("smtp://127.0.0.1:{port}"))).unwrap();
        let r = s
            .submit(
                &Credentials::new("a@x.org", "p"),
                "a@x.org",
                &["b@x.org".into()],
                b"Subject: x\r\n\r\nx\r\n",
            )
            .await;
        assert!(matches!(r, Err(BackendError::Transient(_))), "{r:?}");
        let r = s
            .submit(
                &Credentials::new("a@x.org", "p"),
                "not an address",
                &["b@x.org".into()],
                b"x",
            )
            .await;
        assert!(matches!(r, Err(BackendError::Permanent(_))), "{r:?}");
    }
}
