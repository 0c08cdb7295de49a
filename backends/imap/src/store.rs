//! [`ImapStore`]: the IMAP implementation of [`MailStore`], with its connection handling.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use airsync_model::{
    BackendError, CredentialCheck, Credentials, FetchedMessage, FlagChange, MailStore, Mailbox,
    MailboxDelta, MailboxListing, MailboxStatus, MessageMeta, SearchHits, SearchKey, Uid,
};
use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::OnceCell;
use tokio_rustls::TlsConnector;

use crate::conn::{self, ImapConn};
use crate::error::Error;
use crate::mailboxes::{self, IdItem};
use crate::messages;
use crate::pool::{Lease, Pool, Salt};
use crate::raw::{self, Session};
use crate::server::{Capabilities, ServerInfo};
use crate::url::{ImapUrl, Security};

/// Builds the future [`ImapStore::with_session`] wants from an owned session and an
/// expression that borrows it mutably: runs the expression's future and returns the
/// session with its result. Inside `$body`, `$session` is `&mut Session`.
macro_rules! on_session {
    ($session:ident, $body:expr) => {
        Box::pin(async move {
            let mut owned = $session;
            let result = {
                #[allow(unused_variables)]
                let $session = &mut owned;
                $body.await
            };
            (owned, result)
        })
    };
}

/// Settings of the IMAP backend.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// `imap://host:143`, `imaps://host:993` or `imap://host:143?tls=starttls`.
    pub url: String,
    /// An extra trust anchor (PEM), e.g. a private or test CA, besides the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// How long an unused authenticated connection is kept for reuse.
    pub pool_idle: Duration,
    /// Most connections one login may hold at once (in use plus idle).
    pub max_per_user: usize,
    /// Limit for TCP connect, TLS handshake and greeting.
    pub connect_timeout: Duration,
    /// Limit for login and for each operation (also for waiting on a free connection).
    pub command_timeout: Duration,
    /// Largest message a fetch accepts, in bytes: a bigger one fails the fetch with
    /// `Permanent` before its bytes are read, so memory stays bounded.
    pub max_message_size: usize,
    /// Capabilities to act as if the server did not announce them (any case), e.g.
    /// `["QRESYNC"]` to work around a server's broken extension; the tests use it to run
    /// the fallbacks against a server that has everything.
    pub ignore_capabilities: Vec<String>,
    /// A whole mailbox of this many messages or more is listed in two halves over two
    /// connections at once, when a second one is free (default 4,000; the tests lower
    /// it). See `messages::list`.
    pub split_listing_from: u32,
}

impl ImapConfig {
    /// Settings for `url` with defaults: 5 min idle, 4 per user, 10 s connect, 60 s command,
    /// 64 MiB per fetched message.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
            pool_idle: Duration::from_secs(300),
            max_per_user: 4,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
            max_message_size: messages::DEFAULT_MAX_MESSAGE,
            ignore_capabilities: Vec::new(),
            split_listing_from: messages::SPLIT_FROM,
        }
    }
}

/// Whether `STATUS (X-GUID)` works: not announced by any capability, so probed once.
const XGUID_UNKNOWN: u8 = 0;
const XGUID_YES: u8 = 1;
const XGUID_NO: u8 = 2;

/// An upstream IMAP server as a [`MailStore`]. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct ImapStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: ImapUrl,
    tls: Option<TlsConnector>,
    config: ImapConfig,
    pool: Pool<Session>,
    salt: Salt,
    server: OnceCell<Arc<ServerInfo>>,
    xguid: AtomicU8,
    logins: AtomicU64,
    watchers: AtomicU64,
}

/// A connection checked out of the pool for one operation.
struct Pooled {
    session: Session,
    lease: Lease,
    reused: bool,
}

impl ImapStore {
    /// Checks the settings and builds the store. No connection is made yet. Inside a tokio
    /// runtime this also starts the task that closes idle connections; without one, idle
    /// connections are still never reused past `pool_idle`, only closed later.
    pub fn new(config: ImapConfig) -> Result<Self, BackendError> {
        let url =
            ImapUrl::parse(&config.url).map_err(|e| BackendError::Permanent(e.to_string()))?;
        let tls = match url.security {
            Security::Plain => None,
            Security::StartTls | Security::Implicit => Some(
                conn::tls_connector(config.ca_file.as_deref()).map_err(BackendError::Permanent)?,
            ),
        };
        let inner = Arc::new(Inner {
            pool: Pool::new(config.max_per_user, config.pool_idle),
            url,
            tls,
            config,
            salt: Salt::random(),
            server: OnceCell::new(),
            xguid: AtomicU8::new(XGUID_UNKNOWN),
            logins: AtomicU64::new(0),
            watchers: AtomicU64::new(0),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(reap_idle(Arc::downgrade(&inner)));
        }
        Ok(Self { inner })
    }

    /// The server's capabilities after login, learnt on the first login and cached.
    pub async fn capabilities(&self, creds: &Credentials) -> Result<Capabilities, BackendError> {
        Ok(self.server_info(creds).await?.capabilities.clone())
    }

    /// Capabilities and namespaces, learnt on the first login and cached.
    pub async fn server_info(&self, creds: &Credentials) -> Result<Arc<ServerInfo>, BackendError> {
        self.with_session(creds, "server info", |session, info| {
            on_session!(session, async { Ok(info) })
        })
        .await
    }

    /// Number of successful upstream logins so far (for tests and metrics): tells how well
    /// the pool reuses connections.
    pub fn login_count(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }

    /// Number of watching connections opened so far ([`ImapStore::watch_connection`]).
    pub fn watch_connection_count(&self) -> u64 {
        self.inner.watchers.load(Ordering::Relaxed)
    }

    pub(crate) fn count_watch_connection(&self) {
        self.inner.watchers.fetch_add(1, Ordering::Relaxed);
    }

    /// A new authenticated session outside the pool (a watcher's own connection).
    pub(crate) async fn open_unpooled(&self, creds: &Credentials) -> Result<Session, BackendError> {
        Ok(self.open(creds).await?)
    }

    /// The cached server info, learnt on `session` if not known yet.
    pub(crate) async fn server_info_on(
        &self,
        session: &mut Session,
    ) -> Result<Arc<ServerInfo>, BackendError> {
        Ok(self.ensure_server_info(session).await?)
    }

    /// Number of idle pooled connections (all users).
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    /// Runs `op` on an authenticated session of `creds` under the command timeout. A
    /// session that fails with I/O or times out is dropped, otherwise it goes back to the
    /// pool. A pooled session that turns out dead (the server closed it while idle) is
    /// replaced by a fresh one once — so an operation may run twice if the connection
    /// broke after the server executed it (CREATE then answers Conflict).
    ///
    /// `op` gets the session by value and hands it back with its result (see
    /// [`on_session!`]); if it times out, the session is dropped with the future.
    pub(crate) async fn with_session<'a, T, F>(
        &self,
        creds: &Credentials,
        what: &'static str,
        op: F,
    ) -> Result<T, BackendError>
    where
        F: FnMut(Session, Arc<ServerInfo>) -> BoxFuture<'a, (Session, Result<T, Error>)>,
    {
        self.with_session_on(creds, what, None, op).await
    }

    /// [`ImapStore::with_session`] for a fetch from `mailbox`: an idle connection that
    /// a fetch left with that mailbox open is taken first (another one would open it
    /// again: on Dovecot a read of the whole Maildir directory), and other operations
    /// take those with nothing open first, so as not to close it.
    pub(crate) async fn with_session_on<'a, T, F>(
        &self,
        creds: &Credentials,
        what: &'static str,
        mailbox: Option<&str>,
        op: F,
    ) -> Result<T, BackendError>
    where
        F: FnMut(Session, Arc<ServerInfo>) -> BoxFuture<'a, (Session, Result<T, Error>)>,
    {
        let wait = self.inner.config.command_timeout;
        self.run_session(creds, what, mailbox, wait, op).await
    }

    /// [`ImapStore::with_session_on`], waiting at most `wait` for a connection of the
    /// pool (zero: only if one is free now).
    async fn run_session<'a, T, F>(
        &self,
        creds: &Credentials,
        what: &'static str,
        mailbox: Option<&str>,
        wait: Duration,
        mut op: F,
    ) -> Result<T, BackendError>
    where
        F: FnMut(Session, Arc<ServerInfo>) -> BoxFuture<'a, (Session, Result<T, Error>)>,
    {
        let limit = self.inner.config.command_timeout;
        let wire = mailbox.and_then(|m| crate::mailboxes::wire_name(m).ok());
        let prefer = |s: &Session| s.get_ref().examined.as_ref().map(|e| &e.wire) == wire.as_ref();
        let mut retried = false;
        loop {
            let Pooled {
                mut session,
                lease,
                reused,
            } = self.checkout(creds, &prefer, wait).await?;
            let info = match self.ensure_server_info(&mut session).await {
                Ok(info) => info,
                Err(e) => return Err(e.into()), // session and lease dropped
            };
            if lease.is_first_turn() && !reused {
                warm_up(&mut session, &info, limit).await?;
            }
            let (session, result) = match tokio::time::timeout(limit, op(session, info)).await {
                Ok(done) => done,
                Err(_) => return Err(Error::Timeout("command").into()),
            };
            match result {
                Ok(v) => {
                    self.inner.pool.checkin(lease, session);
                    return Ok(v);
                }
                Err(e) if e.breaks_connection() => {
                    drop((session, lease));
                    if reused && !retried && e.may_be_stale_connection() {
                        tracing::debug!(target: "airsync", login = %creds.login, what, error = %e, "imap: pooled connection dead, retrying on a new one");
                        retried = true;
                        continue;
                    }
                    tracing::info!(target: "airsync", login = %creds.login, what, error = %e, "imap: operation failed, connection dropped");
                    return Err(e.into());
                }
                Err(e) => {
                    tracing::debug!(target: "airsync", login = %creds.login, what, error = %e, "imap: operation refused");
                    self.inner.pool.checkin(lease, session);
                    return Err(e.into());
                }
            }
        }
    }

    /// The upper half of a split listing (`messages::list`) on a second session, if one
    /// is free right now; `None` otherwise or if it fails (the first session then lists
    /// the rest itself). A task of its own: the first half is parsed on the caller's
    /// task, and the two then use two cores.
    async fn list_upper(
        &self,
        creds: &Credentials,
        mailbox: &str,
        from: Uid,
    ) -> Option<(u32, Vec<MessageMeta>)> {
        let (store, creds, mailbox) = (self.clone(), creds.clone(), mailbox.to_string());
        tokio::spawn(async move { store.list_upper_here(&creds, &mailbox, from).await })
            .await
            .ok()
            .flatten()
    }

    /// [`ImapStore::list_upper`] on the current task.
    async fn list_upper_here(
        &self,
        creds: &Credentials,
        mailbox: &str,
        from: Uid,
    ) -> Option<(u32, Vec<MessageMeta>)> {
        let half = self
            .run_session(
                creds,
                "list messages",
                None,
                Duration::ZERO,
                |session, info| {
                    on_session!(session, async move {
                        messages::list_upper(session, &info.capabilities, mailbox, from).await
                    })
                },
            )
            .await;
        match half {
            Ok(half) => Some(half),
            Err(e) => {
                tracing::debug!(target: "airsync", login = %creds.login, error = %e, "imap: listing in one piece");
                None
            }
        }
    }

    /// The cached server info, fetched on this session the first time.
    async fn ensure_server_info(&self, session: &mut Session) -> Result<Arc<ServerInfo>, Error> {
        let limit = self.inner.config.command_timeout;
        self.inner
            .server
            .get_or_try_init(|| async {
                let mut info = tokio::time::timeout(limit, ServerInfo::fetch(session))
                    .await
                    .unwrap_or(Err(Error::Timeout("CAPABILITY/NAMESPACE")))?;
                info.capabilities = info
                    .capabilities
                    .without(&self.inner.config.ignore_capabilities);
                tracing::info!(target: "airsync", capabilities = ?info.capabilities.iter().collect::<Vec<_>>(), namespaces = ?info.namespaces, "imap: upstream server");
                Ok(Arc::new(info))
            })
            .await
            .cloned()
    }

    /// A session for `creds`: a pooled one opened with the same login and password, or a
    /// new one.
    async fn checkout(
        &self,
        creds: &Credentials,
        prefer: &(dyn Fn(&Session) -> bool + Sync),
        wait: Duration,
    ) -> Result<Pooled, Error> {
        let inner = &self.inner;
        let key = inner.salt.key(&creds.login, &creds.password);
        let co = inner
            .pool
            .checkout_preferring(&creds.login, key, wait, prefer)
            .await
            .map_err(|()| Error::Busy(inner.config.max_per_user))?;
        co.evicted.into_iter().for_each(close);
        if let Some(session) = co.conn {
            return Ok(Pooled {
                session,
                lease: co.lease,
                reused: true,
            });
        }
        let session = self.open(creds).await?;
        Ok(Pooled {
            session,
            lease: co.lease,
            reused: false,
        })
    }

    /// Connects, secures and logs in.
    async fn open(&self, creds: &Credentials) -> Result<Session, Error> {
        let inner = &self.inner;
        let (url, limit) = (&inner.url, inner.config.connect_timeout);
        let implicit = inner
            .tls
            .as_ref()
            .filter(|_| url.security == Security::Implicit);
        let client = tokio::time::timeout(limit, async {
            let conn = ImapConn::connect(url, implicit, limit).await.map_err(|e| {
                if e.kind() == std::io::ErrorKind::TimedOut {
                    Error::Timeout("connect")
                } else {
                    Error::Io(e)
                }
            })?;
            let mut client = async_imap::Client::new(conn);
            read_greeting(&mut client).await?;
            if url.security == Security::StartTls {
                // RFC 3501 §6.2.1; a server without STARTTLS answers BAD/NO: refuse to go on.
                client.run_command_and_check_ok("STARTTLS", None).await?;
                let tls = inner
                    .tls
                    .as_ref()
                    .expect("STARTTLS implies a TLS connector");
                let conn = client.into_inner().start_tls(tls, &url.host).await?;
                client = async_imap::Client::new(conn);
            }
            Ok::<_, Error>(client)
        })
        .await
        .unwrap_or(Err(Error::Timeout("connect")))?;

        let login = tokio::time::timeout(inner.config.command_timeout, login(client, creds))
            .await
            .unwrap_or(Err(Error::Timeout("login")))?;
        inner.logins.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "airsync", login = %creds.login, "imap: logged in");
        Ok(login)
    }

    /// Which stable-id STATUS item to ask for, if any.
    fn id_item(&self, info: &ServerInfo) -> Option<IdItem> {
        if info.capabilities.has("OBJECTID") {
            Some(IdItem::MailboxId)
        } else if self.inner.xguid.load(Ordering::Relaxed) != XGUID_NO {
            Some(IdItem::XGuid)
        } else {
            None
        }
    }
}

/// The first session of a login that is not warm opens every mailbox (LIST with
/// STATUS, RFC 5819) before anything else runs on it. A LOGIN alone (the password
/// check) creates nothing, nor does a plain LIST; opening makes Dovecot create the
/// user's mailbox list index and each `auto = create` mailbox. Done once, under the
/// pool's first turn, so that no two sessions of a brand-new user do it at the same
/// time: Dovecot 2.3 deadlocks them (each waits 60 s on the other's lock, then fails).
async fn warm_up(session: &mut Session, info: &ServerInfo, limit: Duration) -> Result<(), Error> {
    let command = if info.capabilities.has("LIST-STATUS") {
        "LIST \"\" \"*\" RETURN (STATUS (UIDVALIDITY))"
    } else {
        "LIST \"\" \"*\""
    };
    tokio::time::timeout(limit, raw::run(session, command))
        .await
        .unwrap_or(Err(Error::Timeout("LIST")))?
        .ok()?;
    Ok(())
}

/// Reads the greeting (RFC 3501 §7.1): OK or PREAUTH goes on, BYE means the server is
/// refusing connections (Transient). Dovecot may send `* OK Waiting for authentication
/// process…` first; the login reads past any further untagged lines.
async fn read_greeting(client: &mut async_imap::Client<ImapConn>) -> Result<(), Error> {
    use async_imap::imap_proto::{Response, Status};
    let greeting = client.read_response().await?.ok_or(Error::ConnectionLost)?;
    match greeting.parsed() {
        // RFC 3501 §7.1.5: BYE as greeting means the server will not serve us now.
        Response::Data {
            status: Status::Bye,
            ..
        } => Err(Error::ConnectionLost),
        _ => Ok(()),
    }
}

/// LOGIN (RFC 3501 §6.2.3), or AUTHENTICATE PLAIN (RFC 4616) when the credentials are
/// not ASCII, which a quoted string cannot carry.
async fn login(
    client: async_imap::Client<ImapConn>,
    creds: &Credentials,
) -> Result<Session, Error> {
    let ascii = creds.login.is_ascii() && creds.password.is_ascii();
    let result = if ascii {
        client.login(&creds.login, &creds.password).await
    } else {
        client.authenticate("PLAIN", PlainAuth(creds)).await
    };
    result.map_err(|(e, _)| match e {
        async_imap::error::Error::No(text) => Error::LoginRefused(text),
        async_imap::error::Error::Validate(_) => {
            Error::LoginRefused("credentials contain CR or LF".into())
        }
        other => other.into(),
    })
}

/// SASL PLAIN response: authzid empty, authcid, password (RFC 4616 §2).
struct PlainAuth<'a>(&'a Credentials);

impl async_imap::Authenticator for PlainAuth<'_> {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Self::Response {
        format!("\0{}\0{}", self.0.login, self.0.password).into_bytes()
    }
}

/// Closes a connection politely (LOGOUT) in the background, giving up after a second.
fn close(mut session: Session) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), session.logout()).await;
        });
    }
}

/// Closes idle connections past `pool_idle`, until the store is dropped.
async fn reap_idle(inner: Weak<Inner>) {
    let period = match inner.upgrade() {
        Some(i) => {
            (i.config.pool_idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(30))
        }
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let expired = inner.pool.expired();
        if !expired.is_empty() {
            tracing::debug!(target: "airsync", count = expired.len(), "imap: closing idle connections");
        }
        expired.into_iter().for_each(close);
    }
}

#[async_trait]
impl CredentialCheck for ImapStore {
    async fn verify(&self, creds: &Credentials) -> Result<(), BackendError> {
        self.with_session(creds, "verify", |session, _| {
            on_session!(session, async { Ok(()) })
        })
        .await
    }
}

#[async_trait]
impl MailStore for ImapStore {
    async fn list_mailboxes(&self, creds: &Credentials) -> Result<Vec<Mailbox>, BackendError> {
        self.with_session(creds, "list", |session, info| {
            let item = self.id_item(&info);
            on_session!(session, async move {
                match mailboxes::list(session, &info, item).await {
                    Err(Error::Bad(st)) if item == Some(IdItem::XGuid) => {
                        tracing::info!(target: "airsync", reason = %st, "imap: server has no STATUS X-GUID; mailboxes get no stable id");
                        self.inner.xguid.store(XGUID_NO, Ordering::Relaxed);
                        mailboxes::list(session, &info, None).await
                    }
                    Ok(list) => {
                        if item == Some(IdItem::XGuid) {
                            self.inner.xguid.store(XGUID_YES, Ordering::Relaxed);
                        }
                        Ok(list)
                    }
                    Err(e) => Err(e),
                }
            })
        })
        .await
    }

    async fn status(
        &self,
        creds: &Credentials,
        mailbox: &str,
    ) -> Result<MailboxStatus, BackendError> {
        self.with_session(creds, "status", |session, info| {
            on_session!(session, async move {
                mailboxes::status(session, &info, mailbox).await
            })
        })
        .await
    }

    async fn my_rights(
        &self,
        creds: &Credentials,
        mailbox: &str,
    ) -> Result<Option<String>, BackendError> {
        self.with_session(creds, "myrights", |session, info| {
            on_session!(session, async move {
                mailboxes::my_rights(session, &info, mailbox).await
            })
        })
        .await
    }

    async fn create_mailbox(&self, creds: &Credentials, name: &str) -> Result<(), BackendError> {
        self.with_session(creds, "create", |session, _| {
            on_session!(session, mailboxes::simple(session, "CREATE", &[name]))
        })
        .await
    }

    async fn delete_mailbox(&self, creds: &Credentials, name: &str) -> Result<(), BackendError> {
        self.with_session(creds, "delete", |session, _| {
            on_session!(session, mailboxes::simple(session, "DELETE", &[name]))
        })
        .await
    }

    async fn rename_mailbox(
        &self,
        creds: &Credentials,
        from: &str,
        to: &str,
    ) -> Result<(), BackendError> {
        self.with_session(creds, "rename", |session, _| {
            on_session!(session, mailboxes::simple(session, "RENAME", &[from, to]))
        })
        .await
    }

    async fn list_messages(
        &self,
        creds: &Credentials,
        mailbox: &str,
        since: Option<i64>,
    ) -> Result<MailboxListing, BackendError> {
        self.with_session(creds, "list messages", |session, info| {
            let upper = move |from: Uid| self.list_upper(creds, mailbox, from);
            on_session!(session, async move {
                let split_from = self.inner.config.split_listing_from;
                messages::list(
                    session,
                    &info.capabilities,
                    mailbox,
                    since,
                    (split_from, upper),
                )
                .await
            })
        })
        .await
    }

    async fn changes_since(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uidvalidity: u32,
        modseq: u64,
    ) -> Result<Option<MailboxDelta>, BackendError> {
        self.with_session(creds, "changes", |session, info| {
            on_session!(session, async move {
                messages::changes(session, &info.capabilities, mailbox, uidvalidity, modseq).await
            })
        })
        .await
    }

    async fn fetch_messages(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
    ) -> Result<Vec<FetchedMessage>, BackendError> {
        let max = self.inner.config.max_message_size;
        self.with_session_on(creds, "fetch", Some(mailbox), |session, info| {
            on_session!(session, async move {
                messages::fetch(session, &info.capabilities, mailbox, uids, max).await
            })
        })
        .await
    }

    async fn fetch_messages_dated(
        &self,
        creds: &Credentials,
        mailbox: &str,
        wanted: &[(Uid, i64)],
    ) -> Result<Vec<FetchedMessage>, BackendError> {
        let max = self.inner.config.max_message_size;
        self.with_session_on(creds, "fetch", Some(mailbox), |session, info| {
            on_session!(session, async move {
                messages::fetch_dated(session, &info.capabilities, mailbox, wanted, max).await
            })
        })
        .await
    }

    async fn fetch_last(
        &self,
        creds: &Credentials,
        mailbox: &str,
        count: usize,
    ) -> Result<(u32, Vec<FetchedMessage>), BackendError> {
        let max = self.inner.config.max_message_size;
        self.with_session(creds, "fetch last", |session, info| {
            on_session!(session, async move {
                messages::fetch_last(session, &info.capabilities, mailbox, count, max).await
            })
        })
        .await
    }

    async fn fetch_meta(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
    ) -> Result<Vec<MessageMeta>, BackendError> {
        self.with_session_on(creds, "fetch meta", Some(mailbox), |session, info| {
            on_session!(session, async move {
                messages::fetch_meta(session, &info.capabilities, mailbox, uids).await
            })
        })
        .await
    }

    async fn fetch_header_fields(
        &self,
        creds: &Credentials,
        mailbox: &str,
        fields: &[&str],
    ) -> Result<Vec<(MessageMeta, Vec<u8>)>, BackendError> {
        self.with_session(creds, "fetch header fields", |session, info| {
            on_session!(session, async move {
                messages::fetch_header_fields(session, &info.capabilities, mailbox, fields).await
            })
        })
        .await
    }

    async fn set_flags(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
        change: &FlagChange,
    ) -> Result<(), BackendError> {
        self.with_session(creds, "store flags", |session, info| {
            on_session!(session, async move {
                messages::set_flags(session, &info.capabilities, mailbox, uids, change).await
            })
        })
        .await
    }

    async fn move_messages(
        &self,
        creds: &Credentials,
        from: &str,
        uids: &[Uid],
        to: &str,
    ) -> Result<Vec<(Uid, Uid)>, BackendError> {
        self.with_session(creds, "move", |session, info| {
            on_session!(session, async move {
                messages::move_to(session, &info.capabilities, from, uids, to).await
            })
        })
        .await
    }

    async fn delete_messages(
        &self,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
    ) -> Result<(), BackendError> {
        self.with_session(creds, "delete messages", |session, info| {
            on_session!(session, async move {
                messages::delete(session, &info.capabilities, mailbox, uids).await
            })
        })
        .await
    }

    async fn search(
        &self,
        creds: &Credentials,
        mailbox: &str,
        keys: &[SearchKey],
        limit: usize,
    ) -> Result<SearchHits, BackendError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.with_session(creds, "search", |session, info| {
            on_session!(session, async move {
                messages::search(session, &info.capabilities, mailbox, keys, limit, now).await
            })
        })
        .await
    }

    async fn append(
        &self,
        creds: &Credentials,
        mailbox: &str,
        flags: &[String],
        internal_date: Option<i64>,
        raw: &[u8],
    ) -> Result<Option<Uid>, BackendError> {
        self.with_session(creds, "append", |session, info| {
            on_session!(session, async move {
                messages::append(
                    session,
                    &info.capabilities,
                    mailbox,
                    flags,
                    internal_date,
                    raw,
                )
                .await
            })
        })
        .await
    }
}
