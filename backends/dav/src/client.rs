//! The HTTP side: settings, the shared reqwest client, one authenticated request with a
//! bounded body, status mapping, and the per-login discovery cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use airsync_model::{BackendError, Credentials, DavKind};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

use crate::href;

/// Largest response body accepted by default (64 MiB).
pub const DEFAULT_MAX_RESPONSE: usize = 64 << 20;

/// How to reach the CalDAV/CardDAV server.
#[derive(Debug, Clone)]
pub struct DavConfig {
    /// The `[caldav]` / `[carddav]` url, e.g. `http://127.0.0.1:5232/` or
    /// `https://dav.example.org/dav/`. Its path is where discovery starts.
    pub url: String,
    /// An extra trust anchor (PEM), e.g. a private or test CA, besides the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// Limit for one whole request (connect, send, receive the body).
    pub timeout: Duration,
    /// Limit for the TCP connect and TLS handshake alone.
    pub connect_timeout: Duration,
    /// Largest response body accepted; a bigger one fails the call with `Permanent`
    /// before it is read to the end, so memory stays bounded.
    pub max_response_size: usize,
    /// How long a login's discovered home sets are reused.
    pub discovery_ttl: Duration,
}

impl DavConfig {
    /// Settings for `url` with defaults: 30 s per request, 10 s connect, 64 MiB per
    /// response, discovery reused for 10 minutes.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_size: DEFAULT_MAX_RESPONSE,
            discovery_ttl: Duration::from_secs(600),
        }
    }
}

/// Most logins whose discovery is cached, and most collections whose kind is
/// remembered; past that, expired entries are dropped, then everything.
const MAX_CACHED: usize = 10_000;

/// Discovered home sets: (login, kind) → (when discovered, home-set hrefs).
type HomeCache = HashMap<(String, DavKind), (Instant, Vec<String>)>;

/// A CalDAV/CardDAV client for all users: one connection pool, Basic credentials per
/// request. Implements [`airsync_model::DavStore`].
pub struct DavClient {
    pub(crate) http: reqwest::Client,
    /// `scheme://host[:port]` of the configured url.
    pub(crate) origin: String,
    /// The configured url's path (canonical form, ends in `/`).
    pub(crate) root: String,
    pub(crate) cfg: DavConfig,
    /// (login, kind) → (when discovered, home-set hrefs).
    homes: Mutex<HomeCache>,
    /// Collection href → its kind, learnt from listings (a collection's kind never
    /// changes), so that `fetch` knows which multiget to send.
    kinds: Mutex<HashMap<String, DavKind>>,
}

impl std::fmt::Debug for DavClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DavClient")
            .field("origin", &self.origin)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// A response with its body read (up to the limit).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The error for an HTTP status that the call did not expect.
pub(crate) fn status_error(status: StatusCode, what: &str) -> BackendError {
    let text = format!("{what}: HTTP {status}");
    match status.as_u16() {
        401 => BackendError::Auth,
        404 | 410 => BackendError::NotFound(text),
        409 | 412 => BackendError::Conflict(text),
        408 | 429 => BackendError::Transient(text),
        s if s >= 500 => BackendError::Transient(text),
        _ => BackendError::Permanent(text),
    }
}

fn transport_error(e: &reqwest::Error, what: &str) -> BackendError {
    // reqwest's Display does not include credentials (they travel in a header).
    if e.is_builder() {
        BackendError::Permanent(format!("{what}: {e}"))
    } else {
        // Timeouts, refused or broken connections, TLS and body read failures: the
        // upstream may be back later.
        BackendError::Transient(format!("{what}: {e}"))
    }
}

impl DavClient {
    /// Builds the client. Fails with `Permanent` on an unusable url or CA file.
    pub fn new(cfg: DavConfig) -> Result<Self, BackendError> {
        let url = reqwest::Url::parse(&cfg.url)
            .map_err(|e| BackendError::Permanent(format!("dav url {:?}: {e}", cfg.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(BackendError::Permanent(format!(
                "dav url {:?}: need http:// or https:// with a host",
                cfg.url
            )));
        }
        let origin = url.origin().ascii_serialization();
        let root = href::as_collection(&href::normalize(url.path()).unwrap_or_else(|| "/".into()));
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            // Redirects are followed by discovery itself: reqwest would turn a redirected
            // PROPFIND into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("airsync/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90));
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                BackendError::Permanent(format!("dav ca_file {}: {e}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                BackendError::Permanent(format!("dav ca_file {}: {e}", path.display()))
            })?;
            if certs.is_empty() {
                return Err(BackendError::Permanent(format!(
                    "dav ca_file {}: no certificate in it",
                    path.display()
                )));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| BackendError::Permanent(format!("dav http client: {e}")))?;
        Ok(Self {
            http,
            origin,
            root,
            cfg,
            homes: Mutex::new(HashMap::new()),
            kinds: Mutex::new(HashMap::new()),
        })
    }

    /// Sends one request as `creds` to the canonical `path` and reads the body, at most
    /// `max_response_size` bytes. Any HTTP status is returned; transport failures are
    /// `Transient`.
    pub(crate) async fn send(
        &self,
        creds: &Credentials,
        method: &Method,
        path: &str,
        headers: &[(&'static str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Reply, BackendError> {
        let url = format!("{}{}", self.origin, href::encode(path));
        let what = format!("{method} {path}");
        let started = Instant::now();
        let mut req = self
            .http
            .request(method.clone(), &url)
            .basic_auth(&creds.login, Some(&creds.password));
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| BackendError::Permanent(format!("{what}: bad {name} header")))?;
            req = req.header(HeaderName::from_static(name), value);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let mut resp = req.send().await.map_err(|e| {
            tracing::debug!(target: "airsync", login = %creds.login, request = %what, error = %e, "dav: request failed");
            transport_error(&e, &what)
        })?;
        let status = resp.status();
        let limit = self.cfg.max_response_size;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(BackendError::Permanent(format!(
                "{what}: response larger than {limit} bytes"
            )));
        }
        let headers = std::mem::take(resp.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(&e, &what))? {
            if body.len() + chunk.len() > limit {
                return Err(BackendError::Permanent(format!(
                    "{what}: response larger than {limit} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            target: "airsync",
            login = %creds.login,
            request = %what,
            status = status.as_u16(),
            bytes = body.len(),
            ms = started.elapsed().as_millis() as u64,
            "dav: request"
        );
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub(crate) fn cached_homes(&self, login: &str, kind: DavKind) -> Option<Vec<String>> {
        let map = self.homes.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(login.to_owned(), kind))
            .filter(|(at, _)| at.elapsed() < self.cfg.discovery_ttl)
            .map(|(_, h)| h.clone())
    }

    pub(crate) fn store_homes(&self, login: &str, kind: DavKind, homes: Vec<String>) {
        let mut map = self.homes.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHED {
            let ttl = self.cfg.discovery_ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= MAX_CACHED {
                map.clear();
            }
        }
        map.insert((login.to_owned(), kind), (Instant::now(), homes));
    }

    pub(crate) fn forget_homes(&self, login: &str, kind: DavKind) {
        let mut map = self.homes.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(login.to_owned(), kind));
    }

    pub(crate) fn cached_kind(&self, collection: &str) -> Option<DavKind> {
        let map = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&href::as_collection(collection)).copied()
    }

    pub(crate) fn store_kind(&self, collection: &str, kind: DavKind) {
        let mut map = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(href::as_collection(collection), kind);
    }

    pub(crate) fn forget_kind(&self, collection: &str) {
        let mut map = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&href::as_collection(collection));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_backend_errors() {
        let s = |n| status_error(StatusCode::from_u16(n).unwrap(), "x");
        assert_eq!(s(401), BackendError::Auth);
        assert!(matches!(s(404), BackendError::NotFound(_)));
        assert!(matches!(s(409), BackendError::Conflict(_)));
        assert!(matches!(s(412), BackendError::Conflict(_)));
        assert!(matches!(s(500), BackendError::Transient(_)));
        assert!(matches!(s(503), BackendError::Transient(_)));
        assert!(matches!(s(403), BackendError::Permanent(_)));
        assert!(matches!(s(400), BackendError::Permanent(_)));
    }

    #[test]
    fn config_url_is_checked_and_split() {
        let c = DavClient::new(DavConfig::new("http://127.0.0.1:5232")).unwrap();
        assert_eq!(c.origin, "http://127.0.0.1:5232");
        assert_eq!(c.root, "/");
        let c = DavClient::new(DavConfig::new("https://dav.example.org/dav/x%40y")).unwrap();
        assert_eq!(c.origin, "https://dav.example.org");
        assert_eq!(c.root, "/dav/x@y/");
        assert!(matches!(
            DavClient::new(DavConfig::new("ftp://h/")),
            Err(BackendError::Permanent(_))
        ));
        assert!(matches!(
            DavClient::new(DavConfig::new("not a url")),
            Err(BackendError::Permanent(_))
        ));
    }
}
