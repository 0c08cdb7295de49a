//! The admin listener (`[admin] listen`, loopback by default): the JSON API under
//! `/api/`, the web page at `/`, and the operations endpoints of `super::ops`
//! (`/healthz` and `/readyz` without a token, `/metrics` with it unless
//! `[admin] metrics_public`). Every other request needs the configured token, either
//! as `Authorization: Bearer TOKEN` (API clients) or as the session cookie the web
//! page's login form sets (HttpOnly, SameSite=Strict). Without a configured token
//! everything is refused. State-changing requests made with the cookie must also
//! carry `X-Requested-With: airsync`, which no cross-site form can send.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Admin, AdminError, DeviceAccessChoice, web};
use crate::state::{Scope, Setting};

/// How long a web session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
const SESSION_COOKIE: &str = "airsync_session";

pub(super) struct AdminState {
    pub(super) admin: Admin,
    token_hash: Option<[u8; 32]>,
    sessions: Mutex<HashMap<String, Instant>>,
}

/// Who is asking, for the audit trail; `None`: not authenticated.
enum Caller {
    Api(String),
    Web,
}

impl Caller {
    fn actor(&self) -> String {
        match self {
            Caller::Api(name) => name.clone(),
            Caller::Web => "web".into(),
        }
    }
}

fn hash(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl AdminState {
    pub(super) fn new(admin: Admin) -> AdminState {
        let token = admin.settings.admin.token.trim().to_string();
        AdminState {
            token_hash: (!token.is_empty()).then(|| hash(&token)),
            admin,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Compares hashes, so that the time taken tells nothing about the token.
    fn token_ok(&self, presented: &str) -> bool {
        self.token_hash.is_some_and(|h| h == hash(presented.trim()))
    }

    /// The admin token, or a web session (the page may show metrics one day).
    pub(super) fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        self.caller(headers).is_some()
    }

    fn session_ok(&self, id: &str) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, started| started.elapsed() < SESSION_TTL);
        sessions.contains_key(id)
    }

    fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        self.token_hash?;
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(token) = auth.strip_prefix("Bearer ") {
            if !self.token_ok(token) {
                return None;
            }
            let who = headers
                .get("X-Airsync-Admin")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim();
            return Some(Caller::Api(if who.is_empty() {
                "api".into()
            } else {
                format!("api:{who}")
            }));
        }
        session_cookie(headers)
            .filter(|id| self.session_ok(id))
            .map(|_| Caller::Web)
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

/// The admin router, over `admin`.
pub fn router(admin: Admin) -> Router {
    let state = Arc::new(AdminState::new(admin));
    Router::new()
        .route("/", get(page))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/api/devices", get(list_devices))
        .route(
            "/api/devices/{login}/{device}",
            get(show_device).delete(remove_device),
        )
        .route(
            "/api/devices/{login}/{device}/{action}",
            post(device_action),
        )
        .route("/api/accounts/{login}", get(show_account))
        .route("/api/accounts/{login}/{action}", post(account_action))
        .route("/api/domains/{domain}", get(show_domain))
        .route("/api/domains/{domain}/{action}", post(domain_action))
        .route("/api/audit", get(audit))
        .route("/api/policies", get(policies))
        .route("/healthz", get(super::ops::healthz))
        .route("/readyz", get(super::ops::readyz))
        .route("/metrics", get(super::ops::metrics))
        .with_state(state)
}

/// Binds `[admin] listen` and serves the admin router until `shutdown`.
pub async fn serve(
    admin: Admin,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listen = admin.settings.admin.listen;
    if !listen.ip().is_loopback() {
        tracing::warn!(target: "airsync", %listen, "the admin interface is reachable beyond this machine");
    }
    if admin.settings.admin.token.trim().is_empty() {
        tracing::warn!(target: "airsync", "[admin] token is not set: the admin API and page refuse every request");
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    // Deliberately not "listening … addr=": that line announces the ActiveSync port.
    tracing::info!(target: "airsync", admin = %bound, "admin interface ready");
    let app = router(admin);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(target: "airsync", error = %e, "admin interface stopped");
        }
    });
    Ok((bound, task))
}

type Shared = State<Arc<AdminState>>;

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

pub(super) fn unauthorized() -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "admin token required (Authorization: Bearer …)",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"airsync admin\""),
    );
    r
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Refused(_) => StatusCode::CONFLICT,
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            AdminError::Store(e) => {
                tracing::warn!(target: "airsync", error = %e, "admin request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        error(status, &self.to_string())
    }
}

fn answer<T: serde::Serialize>(result: Result<T, AdminError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

/// Authenticates; state-changing requests by cookie also need the custom header.
fn check(
    state: &AdminState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<String, Box<Response>> {
    let caller = state
        .caller(headers)
        .ok_or_else(|| Box::new(unauthorized()))?;
    if matches!(caller, Caller::Web)
        && method != Method::GET
        && headers
            .get("X-Requested-With")
            .and_then(|v| v.to_str().ok())
            != Some("airsync")
    {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "X-Requested-With: airsync required",
        )));
    }
    Ok(caller.actor())
}

macro_rules! authenticated {
    ($state:expr, $method:expr, $headers:expr) => {
        match check(&$state, &$method, &$headers) {
            Ok(actor) => actor,
            Err(r) => return *r,
        }
    };
}

fn body_json(body: &Bytes) -> Result<Value, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| AdminError::Invalid(format!("request body: {e}")))
}

/// A string field of the body: absent or null → `None`.
fn field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, AdminError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(AdminError::Invalid(format!(
            "{name} must be a string or null, not {other}"
        ))),
    }
}

fn required<'a>(body: &'a Value, name: &str) -> Result<&'a str, AdminError> {
    field(body, name)?.ok_or_else(|| AdminError::Invalid(format!("{name} is required")))
}

fn flag(body: &Value, name: &str) -> Result<Option<bool>, AdminError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(AdminError::Invalid(format!(
            "{name} must be true, false or null, not {other}"
        ))),
    }
}

#[derive(Deserialize)]
struct AccountQuery {
    account: Option<String>,
    limit: Option<i64>,
}

async fn list_devices(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<AccountQuery>,
) -> Response {
    authenticated!(s, method, headers);
    answer(s.admin.devices(q.account.as_deref()).await)
}

async fn show_device(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Path((login, device)): Path<(String, String)>,
) -> Response {
    authenticated!(s, method, headers);
    answer(s.admin.device(&login, &device).await)
}

async fn remove_device(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Path((login, device)): Path<(String, String)>,
) -> Response {
    let actor = authenticated!(s, method, headers);
    answer(
        s.admin
            .remove(&actor, &login, &device)
            .await
            .map(|()| json!({ "removed": true })),
    )
}

async fn device_action(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Path((login, device, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let actor = authenticated!(s, method, headers);
    let (a, actor) = (&s.admin, actor.as_str());
    let run = async {
        let body = body_json(&body)?;
        let (l, d) = (login.as_str(), device.as_str());
        match action.as_str() {
            "wipe" => {
                a.wipe(actor, l, d, flag(&body, "account_only")?.unwrap_or(false))
                    .await
            }
            "cancel-wipe" => a.cancel_wipe(actor, l, d).await,
            "pin" => a.pin(actor, l, d, flag(&body, "on")?).await,
            "policy" => a.device_policy(actor, l, d, field(&body, "name")?).await,
            "block" => {
                a.device_access(actor, l, d, DeviceAccessChoice::Block)
                    .await
            }
            "allow" => {
                a.device_access(actor, l, d, DeviceAccessChoice::Allow)
                    .await
            }
            "unblock" => {
                a.device_access(actor, l, d, DeviceAccessChoice::Rules)
                    .await
            }
            "trace" => {
                let on = flag(&body, "on")?
                    .ok_or_else(|| AdminError::Invalid("on is required".into()))?;
                a.trace(actor, l, d, on).await
            }
            "resync" => a.resync(actor, l, d, field(&body, "folder")?).await,
            other => Err(AdminError::NotFound(format!("device action {other:?}"))),
        }
    };
    answer(run.await)
}

async fn show_account(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Response {
    authenticated!(s, method, headers);
    answer(s.admin.account(&login).await)
}

/// `access`, `rules` and `policy` take `{"value": …}` (null: inherit).
fn setting(action: &str) -> Option<Setting> {
    match action {
        "access" => Some(Setting::Access),
        "rules" => Some(Setting::DeviceRules),
        "policy" => Some(Setting::Policy),
        _ => None,
    }
}

async fn account_action(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Path((login, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let actor = authenticated!(s, method, headers);
    let (a, actor) = (&s.admin, actor.as_str());
    let run = async {
        let body = body_json(&body)?;
        match (action.as_str(), setting(&action)) {
            (_, Some(which)) => {
                a.set_override(actor, Scope::Account, &login, which, field(&body, "value")?)
                    .await?
            }
            ("hide-folder", _) => {
                a.folder_hidden(actor, &login, required(&body, "folder")?, true)
                    .await?
            }
            ("show-folder", _) => {
                a.folder_hidden(actor, &login, required(&body, "folder")?, false)
                    .await?
            }
            ("alias-add", _) => {
                a.alias_add(
                    actor,
                    &login,
                    required(&body, "name")?,
                    required(&body, "target")?,
                )
                .await?
            }
            ("alias-remove", _) => {
                a.alias_remove(actor, &login, required(&body, "name")?)
                    .await?
            }
            (other, _) => return Err(AdminError::NotFound(format!("account action {other:?}"))),
        }
        a.account(&login).await
    };
    answer(run.await)
}

async fn show_domain(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> Response {
    authenticated!(s, method, headers);
    answer(s.admin.domain(&domain).await)
}

async fn domain_action(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Path((domain, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let actor = authenticated!(s, method, headers);
    let run = async {
        let body = body_json(&body)?;
        let which = setting(&action)
            .ok_or_else(|| AdminError::NotFound(format!("domain action {action:?}")))?;
        s.admin
            .set_override(
                &actor,
                Scope::Domain,
                &domain,
                which,
                field(&body, "value")?,
            )
            .await?;
        s.admin.domain(&domain).await
    };
    answer(run.await)
}

async fn audit(
    State(s): Shared,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<AccountQuery>,
) -> Response {
    authenticated!(s, method, headers);
    answer(
        s.admin
            .audit(
                q.account.as_deref(),
                q.limit.unwrap_or(200).clamp(1, 10_000),
            )
            .await,
    )
}

async fn policies(State(s): Shared, method: Method, headers: HeaderMap) -> Response {
    authenticated!(s, method, headers);
    let settings = &s.admin.settings;
    let mut all = serde_json::Map::new();
    for name in std::iter::once(crate::policy::DEFAULT_POLICY)
        .chain(settings.policies.keys().map(String::as_str))
    {
        if let Some(p) = crate::policy::effective::named_policy(settings, name) {
            all.insert(
                name.to_string(),
                serde_json::to_value(p).unwrap_or(Value::Null),
            );
        }
    }
    json_response(
        StatusCode::OK,
        &json!({ "server": settings.provision.policy, "policies": all }),
    )
}

// ---- the web page --------------------------------------------------------------

#[derive(Deserialize)]
struct PageQuery {
    account: Option<String>,
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    let h = r.headers_mut();
    // Inline script and style only; nothing from elsewhere, no framing.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn page(State(s): Shared, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    if !matches!(s.caller(&headers), Some(Caller::Web)) {
        return html(StatusCode::UNAUTHORIZED, web::login_page(None));
    }
    match web::page(
        &s.admin,
        q.account.as_deref().filter(|a| !a.trim().is_empty()),
    )
    .await
    {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(s): Shared, axum::Form(form): axum::Form<LoginForm>) -> Response {
    if !s.token_ok(&form.token) {
        tracing::info!(target: "airsync", "admin page: wrong token");
        return html(
            StatusCode::UNAUTHORIZED,
            web::login_page(Some("Wrong token.")),
        );
    }
    let id = hex::encode(rand::random::<[u8; 32]>());
    s.sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), Instant::now());
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(s): Shared, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        s.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::DeviceSeen;

    /// The admin listener over a temporary store, without any upstream.
    async fn start(token: &str) -> (String, Admin, tempfile::TempDir) {
        let (store, dir) = crate::state::temp_store().await;
        let settings = crate::settings::Settings::from_toml(&format!(
            "[server]\nlisten = \"127.0.0.1:1\"\n[imap]\nurl = \"imap://127.0.0.1:1\"\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{token}\"\n"
        ))
        .unwrap();
        let admin = Admin::new(settings, store);
        let (addr, _task) = serve(admin.clone(), std::future::pending()).await.unwrap();
        (format!("http://{addr}"), admin, dir)
    }

    async fn register(admin: &Admin, device_id: &str, version: &str) {
        let seen = DeviceSeen {
            login: "alice@example.org",
            device_id,
            device_type: "iPhone",
            user_agent: "",
            protocol_version: version,
            command: "Sync",
        };
        admin.store.device_seen(&seen).await.unwrap();
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn token_is_required_and_actions_reach_the_store() {
        let (base, admin, _dir) = start("s3cret").await;
        register(&admin, "D161", "16.1").await;
        register(&admin, "D141", "14.1").await;
        let http = client();
        let list = format!("{base}/api/devices");
        assert_eq!(http.get(&list).send().await.unwrap().status(), 401);
        let r = http.get(&list).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let r = http.get(&list).bearer_auth("s3cret").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let all: Value = r.json().await.unwrap();
        assert_eq!(all.as_array().unwrap().len(), 2);

        let wipe = |id: &str| format!("{base}/api/devices/alice@example.org/{id}/wipe");
        let r = http
            .post(wipe("D141"))
            .bearer_auth("s3cret")
            .body(r#"{"account_only":true}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        let err: Value = r.json().await.unwrap();
        assert!(err["error"].as_str().unwrap().contains("16.1"), "{err}");
        let r = http
            .post(wipe("D161"))
            .bearer_auth("s3cret")
            .body(r#"{"account_only":true}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let d = admin
            .store
            .device("alice@example.org", "D161")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.wipe_state, "account-pending");
        let r = http
            .post(wipe("NOPE"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = http
            .post(format!("{base}/api/accounts/alice@example.org/access"))
            .bearer_auth("s3cret")
            .header("X-Airsync-Admin", "ops")
            .body(r#"{"value":"sometimes"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let audit = admin.audit(None, 10).await.unwrap();
        assert_eq!(
            (audit.len(), audit[0].admin.as_str()),
            (1, "api"),
            "refused actions are not recorded"
        );
    }

    #[tokio::test]
    async fn page_needs_a_session_and_writes_need_the_header() {
        let (base, admin, _dir) = start("tok").await;
        register(&admin, "PAGE1", "16.1").await;
        let http = client();
        let r = http
            .get(format!("{base}/?account=alice@example.org"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(!r.text().await.unwrap().contains("PAGE1"));
        let r = http
            .post(format!("{base}/login"))
            .form(&[("token", "nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = http
            .post(format!("{base}/login"))
            .form(&[("token", "tok")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let r = http
            .get(format!("{base}/?account=alice@example.org"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        let page = r.text().await.unwrap();
        for needle in [
            "PAGE1",
            "Enable PIN-lock",
            "Disable PIN-lock",
            "Wipe Out",
            "Cancel",
            "Remove",
        ] {
            assert!(page.contains(needle), "{needle} missing:\n{page}");
        }
        let pin = format!("{base}/api/devices/alice@example.org/PAGE1/pin");
        let r = http
            .post(&pin)
            .header("Cookie", &cookie)
            .body(r#"{"on":true}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = http
            .post(&pin)
            .header("Cookie", &cookie)
            .header("X-Requested-With", "airsync")
            .body(r#"{"on":true}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            admin
                .store
                .device("alice@example.org", "PAGE1")
                .await
                .unwrap()
                .unwrap()
                .pin_lock,
            Some(true)
        );
        assert_eq!(admin.audit(None, 1).await.unwrap()[0].admin, "web");
        // After logout the cookie is worthless.
        http.post(format!("{base}/logout"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        let r = http
            .get(format!("{base}/api/devices"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }

    #[tokio::test]
    async fn no_token_configured_refuses_everything() {
        let (base, _admin, _dir) = start("").await;
        let http = client();
        assert_eq!(
            http.get(format!("{base}/api/devices"))
                .bearer_auth("")
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        let r = http
            .post(format!("{base}/login"))
            .form(&[("token", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
}
