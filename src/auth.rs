//! HTTP Basic authentication checked against the upstream IMAP server.
//!
//! Every request is authenticated; a verified password is remembered only as a salted
//! SHA-256 hash for a short time, so a burst of requests costs one upstream LOGIN.
//! Concurrent requests with the same credentials share one upstream check. Failed
//! logins are counted per user and per client address; past the limit further
//! attempts are refused without reaching the upstream.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use airsync_model::{BackendError, CredentialCheck, Credentials};
use base64::Engine;
use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::settings;

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no or malformed Authorization header")]
    Missing,
    #[error("wrong user name or password")]
    Rejected,
    #[error("too many failed logins; retry later")]
    Throttled,
    #[error("the upstream could not check the login: {0}")]
    Upstream(String),
}

/// An authenticated user.
#[derive(Clone)]
pub struct Principal {
    /// The upstream login, e.g. `alice@example.org`; the key of everything we store.
    pub login: String,
    pub credentials: Credentials,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// Checks credentials and remembers recent successes.
pub struct Authenticator {
    upstream: Arc<dyn CredentialCheck>,
    default_domain: String,
    /// Per process; makes the remembered hashes useless outside this process.
    salt: [u8; 32],
    /// Keys are salted hashes of (login, password); presence means "verified".
    verified: Cache<[u8; 32], ()>,
    failures: Cache<String, u32>,
    max_failures: u32,
}

impl Authenticator {
    pub fn new(upstream: Arc<dyn CredentialCheck>, cfg: &settings::Auth) -> Authenticator {
        Authenticator {
            upstream,
            default_domain: cfg.default_domain.clone(),
            salt: rand::random(),
            verified: Cache::builder()
                .time_to_live(Duration::from_secs(cfg.cache_ttl_secs))
                .max_capacity(100_000)
                .build(),
            failures: Cache::builder()
                .time_to_live(Duration::from_secs(cfg.failure_window_secs))
                .max_capacity(100_000)
                .build(),
            max_failures: cfg.max_failures,
        }
    }

    /// Authenticates the `Authorization` header of a request from `client`.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        client: IpAddr,
    ) -> Result<Principal, AuthError> {
        let (user, password) = parse_basic(authorization.ok_or(AuthError::Missing)?)?;
        let login = upstream_login(&user, &self.default_domain);
        if login.is_empty() || password.is_empty() {
            return Err(AuthError::Rejected);
        }
        let key = self.fingerprint(&login, &password);
        let principal = Principal {
            login: login.clone(),
            credentials: Credentials {
                login: login.clone(),
                password,
            },
        };
        if self.verified.contains_key(&key) {
            return Ok(principal);
        }
        let user_key = format!("u:{login}");
        let addr_key = format!("a:{client}");
        for k in [&user_key, &addr_key] {
            if self.failures.get(k).await.unwrap_or(0) >= self.max_failures {
                return Err(AuthError::Throttled);
            }
        }
        let upstream = self.upstream.clone();
        let creds = principal.credentials.clone();
        // One upstream LOGIN for all concurrent requests with these credentials.
        let result = self
            .verified
            .try_get_with(key, async move { upstream.verify(&creds).await })
            .await;
        match result {
            Ok(()) => Ok(principal),
            Err(e) => match &*e {
                BackendError::Auth => {
                    for k in [user_key, addr_key] {
                        let n = self.failures.get(&k).await.unwrap_or(0);
                        self.failures.insert(k, n.saturating_add(1)).await;
                    }
                    tracing::info!(target: "airsync", login = %login, client = %client, "login rejected by upstream");
                    Err(AuthError::Rejected)
                }
                other => Err(AuthError::Upstream(other.to_string())),
            },
        }
    }

    /// The upstream login an Authorization header claims, unverified (no upstream
    /// call); for decisions that must come before the password check.
    pub fn claimed_login(&self, authorization: Option<&str>) -> Option<String> {
        let (user, _) = parse_basic(authorization?).ok()?;
        Some(upstream_login(&user, &self.default_domain)).filter(|l| !l.is_empty())
    }

    fn fingerprint(&self, login: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update((login.len() as u64).to_le_bytes());
        h.update(login.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }
}

/// Splits `Basic base64(user:password)`.
fn parse_basic(header: &str) -> Result<(String, String), AuthError> {
    let (scheme, value) = header.trim().split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Missing);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| AuthError::Missing)?;
    let text = String::from_utf8(decoded).map_err(|_| AuthError::Missing)?;
    let (user, password) = text.split_once(':').ok_or(AuthError::Missing)?;
    Ok((user.to_string(), password.to_string()))
}

/// Maps the user name a phone sends to the upstream login (documented in
/// config/example.toml, `[auth]`):
/// `alice@example.org` stays; `alice` and `DOMAIN\alice` become `alice@default_domain`
/// (or plain `alice` when no default domain is configured).
pub fn upstream_login(user: &str, default_domain: &str) -> String {
    let user = user.trim();
    let bare = match user.rsplit_once('\\') {
        Some((_domain, name)) => name,
        None => user,
    };
    if bare.contains('@') || default_domain.is_empty() {
        bare.to_string()
    } else {
        format!("{bare}@{default_domain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn login_forms() {
        assert_eq!(
            upstream_login("alice@example.org", "corp.test"),
            "alice@example.org"
        );
        assert_eq!(upstream_login("alice", "example.org"), "alice@example.org");
        assert_eq!(
            upstream_login("EXAMPLE\\alice", "example.org"),
            "alice@example.org"
        );
        assert_eq!(
            upstream_login("EXAMPLE\\alice@example.org", ""),
            "alice@example.org"
        );
        assert_eq!(upstream_login("alice", ""), "alice");
    }

    #[test]
    fn basic_header() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("al:ice:pw")
        );
        assert_eq!(parse_basic(&h).unwrap(), ("al".into(), "ice:pw".into()));
        assert_eq!(parse_basic("Bearer x"), Err(AuthError::Missing));
        assert_eq!(parse_basic("Basic %%%"), Err(AuthError::Missing));
    }

    /// A fake upstream: pure logic under test is the cache and the throttle.
    struct Fake {
        logins: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl CredentialCheck for Fake {
        async fn verify(&self, creds: &Credentials) -> Result<(), BackendError> {
            self.logins.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if creds.password == "right" {
                Ok(())
            } else {
                Err(BackendError::Auth)
            }
        }
    }

    fn header(user: &str, pw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        )
    }

    #[tokio::test]
    async fn burst_costs_one_login_and_failures_throttle() {
        let fake = Arc::new(Fake {
            logins: AtomicUsize::new(0),
        });
        let cfg = settings::Auth {
            max_failures: 3,
            ..Default::default()
        };
        let auth = Arc::new(Authenticator::new(fake.clone(), &cfg));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let h = header("alice", "right");
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let auth = auth.clone();
                let h = h.clone();
                tokio::spawn(async move { auth.authenticate(Some(&h), ip).await.map(|p| p.login) })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "alice");
        }
        assert_eq!(fake.logins.load(Ordering::SeqCst), 1);

        let bad = header("bob", "wrong");
        for _ in 0..3 {
            assert_eq!(
                auth.authenticate(Some(&bad), ip).await.unwrap_err(),
                AuthError::Rejected
            );
        }
        let before = fake.logins.load(Ordering::SeqCst);
        assert_eq!(
            auth.authenticate(Some(&bad), ip).await.unwrap_err(),
            AuthError::Throttled
        );
        assert_eq!(
            fake.logins.load(Ordering::SeqCst),
            before,
            "throttled attempts never reach the upstream"
        );
        // A password verified recently still works from the throttled address.
        assert!(auth.authenticate(Some(&h), ip).await.is_ok());
        // A wrong password is never cached as good.
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            auth.authenticate(Some(&header("alice", "wrong")), other)
                .await
                .unwrap_err(),
            AuthError::Rejected
        );
        assert_eq!(
            auth.authenticate(None, ip).await.unwrap_err(),
            AuthError::Missing
        );
    }
}
