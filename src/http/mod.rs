//! The HTTP layer (MS-ASHTTP): routing with case-insensitive paths, the request line,
//! headers, gzip, Basic authentication, the provisioning gate, and turning a command's
//! reply or an error into an HTTP response. axum types stop here.

mod autodiscover;
mod body;
pub mod query;
pub(crate) mod throttle;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::{App, ServeError};
use crate::commands::{self, Reply, RequestContext};
use crate::eas::ProtocolVersion;
use crate::error::{Error, ErrorBody, ErrorReply};
use crate::state::DeviceSeen;
use crate::wbxml;

/// The Exchange build airsync presents in `MS-Server-ActiveSync` (Exchange 2016).
const SERVER_VERSION: &str = "15.1";
const WBXML_TYPE: &str = "application/vnd.ms-sync.wbxml";

/// Serves `app` until `shutdown` completes.
pub async fn run(
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ServeError> {
    let router = Router::new().fallback(route).with_state(app.clone());
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let watcher = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Long-held requests (Ping, hanging Sync) get a few seconds to be answered.
        watcher.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let reporter = handle.clone();
    tokio::spawn(async move {
        if let Some(addr) = reporter.listening().await {
            on_bound(addr);
        }
    });
    let listen = app.settings.server.listen;
    match (&app.settings.server.tls_cert, &app.settings.server.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
            tracing::info!(target: "airsync", %listen, "serving ActiveSync over HTTPS");
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(tcp());
            axum_server::bind(listen)
                .acceptor(acceptor)
                .handle(handle)
                .serve(service)
                .await?;
        }
        _ => {
            tracing::info!(target: "airsync", %listen, "serving ActiveSync over plain HTTP");
            axum_server::bind(listen)
                .acceptor(tcp())
                .handle(handle)
                .serve(service)
                .await?;
        }
    }
    Ok(())
}

/// How accepted connections are set up: with TCP_NODELAY. An answer leaves in several
/// writes (headers, body, TLS records); with Nagle's algorithm a last small segment
/// waits for the client's ACK of the one before, which the client delays by up to
/// 40 ms (Linux) or 200 ms — on a Sync window, more than all the work behind it.
fn tcp() -> axum_server::accept::NoDelayAcceptor {
    axum_server::accept::NoDelayAcceptor::new()
}

/// Every request comes here: devices mix the case of paths, so routing is done on
/// the lower-cased path rather than by axum's case-sensitive router.
async fn route(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let path = request
        .uri()
        .path()
        .trim_end_matches('/')
        .to_ascii_lowercase();
    match (path.as_str(), request.method()) {
        ("/microsoft-server-activesync", &Method::OPTIONS) => {
            options(&app, peer.ip(), request).await
        }
        ("/microsoft-server-activesync", &Method::POST) => {
            activesync(&app, peer.ip(), request).await
        }
        ("/microsoft-server-activesync", _) => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "OPTIONS,POST")],
        )
            .into_response(),
        ("/autodiscover/autodiscover.xml", &Method::POST | &Method::GET) => {
            autodiscover::handle(&app, peer.ip(), request).await
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// OPTIONS (MS-ASHTTP 2.2.3): the versions and commands airsync offers.
async fn options(app: &App, client: IpAddr, request: Request) -> Response {
    let claimed = app.auth.claimed_login(authorization(request.headers()));
    if let Err(e) = commands::admit(app, claimed, None).await {
        return error_response(e.reply(None, None));
    }
    if let Err(e) = app
        .auth
        .authenticate(authorization(request.headers()), client)
        .await
    {
        return error_response(Error::Auth(e).reply(None, None));
    }
    let versions: Vec<&str> = ProtocolVersion::ALL.iter().map(|v| v.as_str()).collect();
    let commands: Vec<&str> = commands::SUPPORTED.iter().map(|c| c.name()).collect();
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static("OPTIONS,POST"));
    h.insert("Public", HeaderValue::from_static("OPTIONS,POST"));
    h.insert(
        "MS-Server-ActiveSync",
        HeaderValue::from_static(SERVER_VERSION),
    );
    h.insert("MS-ASProtocolVersions", header_value(&versions.join(",")));
    h.insert("MS-ASProtocolCommands", header_value(&commands.join(",")));
    response
}

/// A POST to /Microsoft-Server-ActiveSync: one EAS command.
async fn activesync(app: &App, client: IpAddr, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let line = match query::parse(parts.uri.query().unwrap_or("")) {
        Ok(line) => line,
        Err(e) => return error_response(Error::Query(e).reply(None, None)),
    };
    let header_version = parts
        .headers
        .get("MS-ASProtocolVersion")
        .and_then(|v| v.to_str().ok());
    let version = match (line.version, header_version) {
        (Some(v), _) => v,
        (None, Some(h)) => match ProtocolVersion::parse(h) {
            Some(v) => v,
            None => {
                return error_response(Error::UnsupportedVersion(h.to_string()).reply(None, None));
            }
        },
        (None, None) => {
            return error_response(Error::UnsupportedVersion(String::new()).reply(None, None));
        }
    };
    let mut log = RequestLog {
        login: String::new(),
        device_id: line.device_id.clone(),
        device_type: line.device_type.clone(),
        command: line.command_name.clone(),
        version,
    };
    let outcome = async {
        let claimed = app.auth.claimed_login(authorization(&parts.headers));
        // Any request of the device ends its paging chain's reuse; only a Sync uses it.
        let reused = match &claimed {
            Some(login) => app.paging.take(login, &line.device_id).await,
            None => None,
        }
        .filter(|_| line.command == Some(crate::eas::Command::Sync));
        let known_layers = reused.as_ref().map(|r| r.layers.clone());
        let admitted = commands::admit(app, claimed, known_layers).await?;
        let principal = app
            .auth
            .authenticate(authorization(&parts.headers), client)
            .await?;
        let layers = admitted.layers(&app.store, &principal.login).await?;
        log.login = principal.login.clone();
        let command = line
            .command
            .ok_or_else(|| Error::NotSupported(line.command_name.clone()))?;
        // Ping holds the connection for its heartbeat (at least min_heartbeat_secs),
        // and one device has at most one waiting: it cannot flood, so it is free.
        // The device's budget first: a device refused there spends none of its
        // account's, so the account's other devices keep theirs.
        if !matches!(command, crate::eas::Command::Ping) {
            app.throttle
                .take(&principal.login, &line.device_id)
                .and_then(|()| app.user_throttle.take(&principal.login, ""))
                .map_err(Error::Throttled)?;
        }
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let seen = DeviceSeen {
            login: &principal.login,
            device_id: &line.device_id,
            device_type: &line.device_type,
            user_agent,
            protocol_version: version.as_str(),
            command: command.name(),
        };
        let (device, reused_view) = match reused {
            Some(r) if r.device.seen_recently(&seen, crate::state::now()) => {
                tracing::debug!(target: "airsync", "Sync continues a paging chain: its layers, device and folder view are reused");
                (r.device, Some(r.view))
            }
            _ => (app.store.device_seen(&seen).await?, None),
        };
        let raw = body::read(&parts.headers, body, app.settings.limits.max_request_bytes).await?;
        let document = body::decode_wbxml(&parts.headers, &raw)?;
        if let Some(doc) = &document {
            tracing::trace!(target: "airsync", request = %wbxml::to_xml(doc), "request body");
        }
        let policy_key = line.policy_key.or_else(|| {
            parts
                .headers
                .get("X-MS-PolicyKey")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        });
        let accept_multipart = line.accept_multipart
            || parts
                .headers
                .get("MS-ASAcceptMultiPart")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("T"));
        let ctx = RequestContext {
            app,
            principal: &principal,
            device: &device,
            version,
            line: &line,
            policy_key,
            accept_multipart,
            layers: &layers,
            reused_view: reused_view.as_ref(),
        };
        if matches!(command, crate::eas::Command::Sync) {
            app.metrics
                .sync_items(0, document.as_ref().map_or(0, sync_items));
        }
        let trace = crate::admin::trace::Trace::of(&app.settings.admin.trace_dir, &device);
        if let Some(t) = &trace {
            t.request(command.name(), version, document.as_ref());
        }
        let result = match commands::gate(&ctx, command).await {
            Ok(()) => commands::dispatch(&ctx, command, document, raw).await,
            Err(e) => Err(e),
        };
        if let Some(t) = &trace {
            t.response(
                &result,
                result.as_ref().ok().and_then(Reply::document),
                Some(command),
                version,
            );
        }
        if matches!(command, crate::eas::Command::Sync) {
            app.metrics.sync_items(
                result
                    .as_ref()
                    .ok()
                    .and_then(Reply::document)
                    .map_or(0, sync_items),
                0,
            );
        }
        result
    }
    .await;
    let response = match outcome {
        Ok(reply) => reply_response(reply, &parts.headers),
        Err(e) => {
            count_error(&app.metrics, &e);
            if matches!(e, Error::Store(_) | Error::Backend(_)) {
                tracing::warn!(target: "airsync", error = %e, command = %log.command, "request failed");
            }
            error_response(e.reply(line.command, Some(version)))
        }
    };
    log.finish(response.status(), started);
    // The device names the command: only known names become labels, so that no
    // client can grow the metrics without bound.
    let command = line.command.map_or("unknown", |c| c.name());
    app.metrics
        .request(command, response.status().as_u16(), started.elapsed());
    response
}

/// Items in the Commands of every Collection of a Sync request or response.
fn sync_items(doc: &wbxml::Element) -> u64 {
    use crate::wbxml::pages::AirSync as A;
    doc.first(A::Collections)
        .into_iter()
        .flat_map(|cs| cs.all(A::Collection))
        .filter_map(|c| c.first(A::Commands))
        .map(|cmds| cmds.elements().count() as u64)
        .sum()
}

/// Authentication failures and upstream errors, for `/metrics`. A command's backend
/// error does not say which upstream failed: it is counted as backend "upstream".
fn count_error(metrics: &crate::metrics::Metrics, e: &Error) {
    use crate::auth::AuthError;
    use airsync_model::BackendError;
    match e {
        Error::Auth(AuthError::Missing | AuthError::Rejected | AuthError::Throttled)
        | Error::Backend(BackendError::Auth) => metrics.auth_failure(),
        // Logins are checked against IMAP.
        Error::Auth(AuthError::Upstream(_)) => metrics.upstream_error("imap", "transient"),
        Error::Store(_) => metrics.upstream_error("store", "error"),
        Error::Send(111) => metrics.upstream_error("smtp", "transient"),
        Error::Send(120) => metrics.upstream_error("smtp", "refused"),
        // A missing item is the device's stale view, not an upstream failure.
        Error::Backend(BackendError::NotFound(_)) => {}
        Error::Backend(e) => metrics.backend_error("upstream", e),
        Error::Throttled(_) => metrics.throttled(),
        _ => {}
    }
}

/// One line per request: user, device id, device type, command, status, duration.
struct RequestLog {
    login: String,
    device_id: String,
    device_type: String,
    command: String,
    version: ProtocolVersion,
}

impl RequestLog {
    fn finish(&self, status: StatusCode, started: Instant) {
        tracing::info!(
            target: "airsync",
            user = %self.login,
            device_id = %self.device_id,
            device_type = %self.device_type,
            command = %self.command,
            version = %self.version,
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "request"
        );
    }
}

fn reply_response(reply: Reply, request_headers: &HeaderMap) -> Response {
    match reply {
        Reply::Wbxml(doc) => {
            tracing::trace!(target: "airsync", response = %wbxml::to_xml(&doc), "response body");
            wbxml_response(wbxml::encode(&doc), request_headers)
        }
        Reply::Empty => StatusCode::OK.into_response(),
        Reply::Raw { content_type, body } => {
            let mut response = Response::new(Body::from(body));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, header_value(&content_type));
            response
        }
        Reply::Multipart { document, parts } => {
            let wbxml = wbxml::encode(&document);
            let mut all: Vec<&[u8]> = vec![&wbxml];
            all.extend(parts.iter().map(|p| p.as_slice()));
            let body = crate::eas::item_operations::multipart(&all);
            let (body, gzipped) = body::maybe_gzip(body, request_headers);
            let mut response = Response::new(Body::from(body));
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.ms-sync.multipart"),
            );
            h.insert(
                "MS-Server-ActiveSync",
                HeaderValue::from_static(SERVER_VERSION),
            );
            if gzipped {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        }
    }
}

fn wbxml_response(bytes: Vec<u8>, request_headers: &HeaderMap) -> Response {
    let (bytes, gzipped) = body::maybe_gzip(bytes, request_headers);
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(WBXML_TYPE));
    h.insert(
        "MS-Server-ActiveSync",
        HeaderValue::from_static(SERVER_VERSION),
    );
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn error_response(reply: ErrorReply) -> Response {
    let status =
        StatusCode::from_u16(reply.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        ErrorBody::Wbxml(doc) => wbxml_response(wbxml::encode(&doc), &HeaderMap::new()),
        ErrorBody::Text(text) => (status, text).into_response(),
        ErrorBody::Empty => status.into_response(),
    };
    *response.status_mut() = status;
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, header_value(&value));
    }
    response
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use axum_server::accept::Accept;

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_acks() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        assert!(!stream.nodelay().unwrap(), "Nagle is on by default");
        let (stream, ()) = super::tcp().accept(stream, ()).await.unwrap();
        assert!(stream.nodelay().unwrap());
    }
}
