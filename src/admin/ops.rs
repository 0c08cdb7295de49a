//! Health, readiness and metrics on the admin listener, for orchestrators and
//! Prometheus. `/healthz` and `/readyz` need no token (they say nothing about
//! users); `/metrics` needs the admin token unless `[admin] metrics_public = true`.

use std::sync::Arc;
use std::time::Duration;

use airsync_imap::url::{ImapUrl, Security};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::api::AdminState;
use crate::metrics::{Gauges, Metrics};

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What the admin listener reads of the running server; absent when the admin
/// operations run without one (the CLI, unit tests).
#[derive(Clone)]
pub struct Ops {
    pub metrics: Arc<Metrics>,
    pub push: crate::push::Hub,
}

/// `GET /healthz`: the process answers.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the store answers a query and the IMAP upstream greets.
pub(super) async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    let admin = &state.admin;
    let store = match tokio::time::timeout(PROBE_TIMEOUT, admin.store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("timed out".to_string()),
    };
    let imap = imap_greets(&admin.settings.imap.url).await.err();
    let ok = store.is_none() && imap.is_none();
    let body = json!({
        "ready": ok,
        "store": store.as_deref().unwrap_or("ok"),
        "imap": imap.as_deref().unwrap_or("ok"),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A TCP connect to the IMAP upstream and, unless it speaks TLS from the first byte,
/// its `* OK` greeting. No login: the probe must not count as a failed one.
async fn imap_greets(url: &str) -> Result<(), String> {
    let url = ImapUrl::parse(url).map_err(|e| e.to_string())?;
    let probe = async {
        let mut conn = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| format!("connect {}:{}: {e}", url.host, url.port))?;
        if url.security == Security::Implicit {
            return Ok(());
        }
        let mut greeting = [0u8; 64];
        let n = conn
            .read(&mut greeting)
            .await
            .map_err(|e| format!("greeting: {e}"))?;
        let line = String::from_utf8_lossy(&greeting[..n]);
        if line.starts_with("* OK") || line.starts_with("* PREAUTH") {
            Ok(())
        } else {
            Err(format!("unexpected greeting {:?}", line.trim_end()))
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// GETs a plain `http://host:port/path` and succeeds on status 200: the container
/// health check (`airsync health`), so that the image needs no curl.
pub async fn probe(url: &str) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let get = async {
        let mut conn = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| e.to_string())?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 32];
        let n = conn.read(&mut head).await.map_err(|e| e.to_string())?;
        let status_line = String::from_utf8_lossy(&head[..n]).into_owned();
        match status_line.split_whitespace().nth(1) {
            Some("200") => Ok(()),
            _ => Err(format!(
                "answered {:?}",
                status_line.lines().next().unwrap_or("")
            )),
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, get)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// `GET /metrics`: the Prometheus text exposition.
pub(super) async fn metrics(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !state.admin.settings.admin.metrics_public && !state.bearer_ok(&headers) {
        return super::api::unauthorized();
    }
    let Some(ops) = &state.admin.ops else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no server running").into_response();
    };
    let (push_watchers, waiting_requests) = ops.push.counts();
    let text = ops.metrics.render(&Gauges {
        waiting_requests,
        push_watchers,
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
