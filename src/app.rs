//! The application: everything a request needs (configuration, store, upstreams,
//! authenticator, policy), built once at start, and the server that runs it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use airsync_dav::{DavClient, DavConfig};
use airsync_imap::{ImapConfig, ImapStore};
use airsync_model::{Credentials, DavStore, Directory, MailStore, Submitter};
use airsync_smtp::{SmtpConfig, SmtpSubmitter};

use crate::auth::Authenticator;
use crate::settings::Settings;
use crate::state::{Store, StoreError};

/// Shared state of the running server; one per process.
pub struct App {
    pub settings: Settings,
    pub store: Store,
    pub mail: Arc<dyn MailStore>,
    /// CalDAV (calendars and task lists) and CardDAV (address books); `None` when not
    /// configured. One client serves both when they share a URL.
    pub calendars: Option<Arc<dyn DavStore>>,
    pub contacts: Option<Arc<dyn DavStore>>,
    /// SMTP submission; `None` when `[smtp]` is not configured (sending then fails
    /// with a SendMail status).
    pub submit: Option<Arc<dyn Submitter>>,
    pub auth: Authenticator,
    /// The organisation directory sources (`[directory]`), possibly none.
    pub directory: Vec<Arc<dyn Directory>>,
    /// Mail read ahead for devices in the middle of a long initial Sync.
    pub(crate) prefetch: crate::commands::sync::prefetch::Prefetch,
    /// Decoded snapshots that the Sync keys of current chains are differences from.
    pub(crate) bases: crate::commands::sync::BaseCache,
    pub(crate) nexts: crate::commands::sync::NextCache,
    /// What a device paging through a long Sync reuses on its next request.
    pub(crate) paging: crate::commands::paging::PagingContexts,
    /// Watchers and waiting requests (Ping, hanging Sync).
    pub push: crate::push::Hub,
    /// Counters of requests and failures, for the admin `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The per-device request budget (`[limits]`).
    /// Per device (login, device id).
    pub(crate) throttle: crate::http::throttle::Throttle,
    /// Per account, all its devices together (keyed by login alone).
    pub(crate) user_throttle: crate::http::throttle::Throttle,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("upstream IMAP configuration: {0}")]
    Imap(String),
    #[error("upstream DAV configuration: {0}")]
    Dav(String),
    #[error("upstream SMTP configuration: {0}")]
    Smtp(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

impl App {
    pub async fn new(settings: Settings) -> Result<Arc<App>, ServeError> {
        let store = Store::connect(&settings.store.url).await?;
        let imap = Arc::new(
            ImapStore::new(ImapConfig {
                url: settings.imap.url.clone(),
                ca_file: settings.imap.ca_file.clone(),
                pool_idle: settings.pool_idle(),
                max_per_user: settings.imap.max_connections_per_user,
                connect_timeout: Duration::from_secs(10),
                command_timeout: Duration::from_secs(60),
                ..ImapConfig::new(settings.imap.url.clone())
            })
            .map_err(|e| ServeError::Imap(e.to_string()))?,
        );
        let dav = |cfg: &crate::settings::Dav| -> Result<Arc<DavClient>, ServeError> {
            let mut c = DavConfig::new(cfg.url.clone());
            c.ca_file = cfg.ca_file.clone();
            Ok(Arc::new(
                DavClient::new(c).map_err(|e| ServeError::Dav(e.to_string()))?,
            ))
        };
        let calendars = settings.caldav.as_ref().map(dav).transpose()?;
        let contacts = match (&settings.carddav, &settings.caldav, &calendars) {
            (Some(card), Some(cal), Some(shared)) if card.url == cal.url => Some(shared.clone()),
            (Some(card), _, _) => Some(dav(card)?),
            (None, _, _) => None,
        };
        let calendars = calendars.map(|c| c as Arc<dyn DavStore>);
        let contacts = contacts.map(|c| c as Arc<dyn DavStore>);
        let submit = match &settings.smtp {
            Some(cfg) => {
                let mut c = SmtpConfig::new(cfg.url.clone());
                c.ca_file = cfg.ca_file.clone();
                c.timeout = Duration::from_secs(cfg.timeout_secs);
                c.relay = match (&cfg.relay_login, &cfg.relay_password) {
                    (Some(l), Some(p)) => Some(Credentials::new(l.clone(), p.clone())),
                    _ => None,
                };
                let s = SmtpSubmitter::new(c).map_err(|e| ServeError::Smtp(e.to_string()))?;
                Some(Arc::new(s) as Arc<dyn Submitter>)
            }
            None => None,
        };
        let auth = Authenticator::new(imap.clone(), &settings.auth);
        let metrics: Arc<crate::metrics::Metrics> = Default::default();
        let push = crate::push::Hub::new(
            settings.push.clone(),
            (*imap).clone(),
            calendars.clone(),
            contacts.clone(),
            metrics.clone(),
        );
        if store.engine() == crate::state::Engine::Postgres {
            push.join_cluster(&store).await?;
        }
        let mail: Arc<dyn MailStore> = imap;
        let directory = crate::directory::sources(&settings.directory, contacts.as_ref());
        let prefetch = Default::default();
        let limits = &settings.limits;
        let throttle = crate::http::throttle::Throttle::new(
            limits.requests_per_minute_per_device,
            limits.request_burst_per_device,
        );
        let user_throttle = crate::http::throttle::Throttle::new(
            limits.requests_per_minute_per_user,
            limits.request_burst_per_user,
        );
        Ok(Arc::new(App {
            settings,
            store,
            mail,
            calendars,
            contacts,
            submit,
            auth,
            directory,
            prefetch,
            bases: Default::default(),
            nexts: Default::default(),
            paging: Default::default(),
            push,
            metrics,
            throttle,
            user_throttle,
        }))
    }
}

/// Runs the ActiveSync listener until `shutdown` completes. `on_bound` learns the
/// address actually bound (useful with port 0).
pub async fn serve(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ServeError> {
    let app = App::new(settings).await?;
    // The admin listener stops with the ActiveSync one.
    let (stop_admin, stopped) = tokio::sync::watch::channel(false);
    let stop_admin = Arc::new(stop_admin);
    let ops = crate::admin::ops::Ops {
        metrics: app.metrics.clone(),
        push: app.push.clone(),
    };
    let admin = crate::admin::Admin::new(app.settings.clone(), app.store.clone()).with_ops(ops);
    let (_, admin_task) = crate::admin::api::serve(admin, async move {
        let mut stopped = stopped;
        let _ = stopped.changed().await;
    })
    .await?;
    let stop_on_shutdown = stop_admin.clone();
    let push = app.push.clone();
    let shutdown = async move {
        shutdown.await;
        // Waiting Pings and hanging Syncs answer now, well within the HTTP grace period.
        push.shutdown();
        let _ = stop_on_shutdown.send(true);
    };
    let result = crate::http::run(app, shutdown, on_bound).await;
    let _ = stop_admin.send(true);
    let _ = admin_task.await;
    result
}
