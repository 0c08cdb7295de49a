//! Push (design.md, "Push"): one watcher per user with a waiting request, shared by all
//! of that user's devices and waiting requests.
//!
//! A watcher keeps a [`View`] of where the user's upstream stands — per mailbox the
//! UIDVALIDITY and HIGHESTMODSEQ, per DAV collection the sync-token and CTag, and a
//! counter of hierarchy changes — and publishes it on a `tokio::sync::watch` channel.
//! A waiting Ping or hanging Sync ([`Waiter`]) is a subscription to that channel plus
//! the cursors its device last synced: it compares, it never talks to the upstream.
//!
//! Mail: IMAP NOTIFY (RFC 5465) on one dedicated connection where the server offers it
//! (every personal mailbox reports STATUS with HIGHESTMODSEQ, and LIST when mailboxes
//! come and go); otherwise IDLE (RFC 2177) on INBOX with STATUS of the other watched
//! mailboxes every `dav_poll_secs` and after every IDLE wake-up. DAV: one PROPFIND of
//! the calendar home and one of the address-book home every `dav_poll_secs`, which gives
//! every collection's sync-token and CTag. A watcher starts with the first waiting
//! request of its user and stops [`GRACE`] after the last one ended; it reconnects with
//! backoff, and while it cannot reach the upstream it says so in the view, and waiting
//! requests answer so that the phone retries later.
//!
//! The watcher also applies incoming meeting replies as they land in INBOX
//! ([`replies`]), so an organizer's calendar is current while any device is connected.

mod cluster;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use airsync_imap::{ImapStore, WatchConn, WatchEvent};
use airsync_model::{BackendError, Credentials, DavKind, DavStore};
use tokio::sync::{Notify, watch};

use crate::settings::Push as PushSettings;

mod replies;

/// How long a watcher outlives its last waiting request: a phone re-Pings right after
/// its Sync, and the connection is worth keeping for that.
pub const GRACE: Duration = Duration::from_secs(30);
/// A NOTIFY connection says NOOP this often so that no idle timeout closes it.
const KEEPALIVE: Duration = Duration::from_secs(600);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where a mailbox stands upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailState {
    pub uidvalidity: Option<u32>,
    pub highestmodseq: Option<u64>,
}

impl MailState {
    /// The form of a mail snapshot's cursor, `"uidvalidity:highestmodseq"`.
    pub fn cursor(&self) -> Option<String> {
        Some(format!("{}:{}", self.uidvalidity?, self.highestmodseq?))
    }
}

/// Where a DAV collection stands upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DavState {
    pub sync_token: Option<String>,
    pub ctag: Option<String>,
}

/// What a watcher knows of its user's upstream.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub mail: HashMap<String, MailState>,
    pub dav: HashMap<String, DavState>,
    /// Grows with every mailbox or collection created, deleted or renamed.
    pub hierarchy: u64,
    pub mail_ready: bool,
    pub dav_ready: bool,
    /// The upstream cannot be reached right now.
    pub mail_down: bool,
    pub dav_down: bool,
}

/// Shared by the user's waiters and its watcher task.
struct UserWatch {
    view: watch::Sender<View>,
    creds: Mutex<Credentials>,
    /// Waiting requests; changed under the hub's `users` lock only.
    waiters: AtomicUsize,
    idle_since: Mutex<Instant>,
    /// Mailboxes some waiter watches (for STATUS polling where NOTIFY does not reach).
    mailboxes: Mutex<BTreeSet<String>>,
    dav_wanted: AtomicBool,
    poke_mail: Notify,
    poke_dav: Notify,
}

/// (login, device id)
type DeviceKey = (String, String);

struct Inner {
    settings: PushSettings,
    imap: ImapStore,
    calendars: Option<Arc<dyn DavStore>>,
    contacts: Option<Arc<dyn DavStore>>,
    users: Mutex<HashMap<String, Arc<UserWatch>>>,
    /// The waiting request of each (login, device): its id and how to end it.
    devices: Mutex<HashMap<DeviceKey, (u64, Arc<Notify>)>>,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
    watchers_running: AtomicUsize,
    metrics: Arc<crate::metrics::Metrics>,
    /// Set on a PostgreSQL store: the other nodes sharing it.
    cluster: OnceLock<cluster::Cluster>,
}

/// The push hub of a process: watchers by user, waiting requests by device.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// What a waiting request watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Mail(String),
    Dav(String),
    /// A folder that never changes by itself (the virtual Outbox).
    Nothing,
}

/// One watched folder: its CollectionId, its upstream and the cursor of the device's
/// latest sync key of it (`None`: the device never synced it).
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub source: Source,
    pub device_cursor: Option<String>,
}

/// Why a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// These folders (CollectionIds) changed.
    Changed(Vec<String>),
    /// A mailbox or collection was created, deleted or renamed.
    Hierarchy,
    Expired,
    /// A newer Ping or Sync of the same device came in.
    Superseded,
    /// The server is shutting down.
    Shutdown,
    /// The upstream cannot be reached.
    Down,
}

impl Hub {
    pub fn new(
        settings: PushSettings,
        imap: ImapStore,
        calendars: Option<Arc<dyn DavStore>>,
        contacts: Option<Arc<dyn DavStore>>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Hub {
        let (shutdown, _) = watch::channel(false);
        Hub {
            inner: Arc::new(Inner {
                settings,
                imap,
                calendars,
                contacts,
                users: Mutex::new(HashMap::new()),
                devices: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                shutdown,
                watchers_running: AtomicUsize::new(0),
                metrics,
                cluster: OnceLock::new(),
            }),
        }
    }

    /// Ends every waiting request (they answer at once) and refuses to wait from now on.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Several nodes share `store` (PostgreSQL): from now on a device's new request on
    /// any node ends its waiting request on this one, and this node's tell the others
    /// ([`cluster`]). Call once, before serving.
    pub async fn join_cluster(
        &self,
        store: &crate::state::Store,
    ) -> Result<(), crate::state::StoreError> {
        let joined = cluster::Cluster::join(store, self.inner.clone()).await?;
        let _ = self.inner.cluster.set(joined);
        Ok(())
    }

    /// Ends the waiting request of this device, if any (a new Ping or Sync came in),
    /// here and, with several nodes, on the others.
    pub async fn supersede(&self, login: &str, device_id: &str) {
        end_waiting(&self.inner, login, device_id);
        if let Some(cluster) = self.inner.cluster.get() {
            cluster.announce(login, device_id).await;
        }
    }

    /// Watchers running now and waiting requests now (for logs and tests).
    pub fn counts(&self) -> (usize, usize) {
        (
            self.inner.watchers_running.load(Ordering::Relaxed),
            lock(&self.inner.devices).len(),
        )
    }

    /// Upstream IMAP connections opened for watching so far.
    pub fn watch_connections(&self) -> u64 {
        self.inner.imap.watch_connection_count()
    }

    /// Registers a waiting request of `device_id` for `targets`, ending the device's older
    /// one, and starts the user's watcher if it is not running. Nothing is compared yet:
    /// call [`Waiter::wait`].
    pub fn register(&self, creds: &Credentials, device_id: &str, targets: Vec<Target>) -> Waiter {
        let inner = &self.inner;
        let user = {
            let mut users = lock(&inner.users);
            let user = users
                .entry(creds.login.clone())
                .or_insert_with(|| {
                    let user = Arc::new(UserWatch {
                        view: watch::channel(View::default()).0,
                        creds: Mutex::new(creds.clone()),
                        waiters: AtomicUsize::new(0),
                        idle_since: Mutex::new(Instant::now()),
                        // INBOX always: incoming meeting replies are applied from here
                        // (see `replies`).
                        mailboxes: Mutex::new(if inner.calendars.is_some() {
                            BTreeSet::from(["INBOX".to_string()])
                        } else {
                            BTreeSet::new()
                        }),
                        dav_wanted: AtomicBool::new(false),
                        poke_mail: Notify::new(),
                        poke_dav: Notify::new(),
                    });
                    tokio::spawn(run_watcher(
                        inner.clone(),
                        creds.login.clone(),
                        user.clone(),
                    ));
                    user
                })
                .clone();
            user.waiters.fetch_add(1, Ordering::Relaxed);
            user
        };
        {
            let mut held = lock(&user.creds);
            if *held != *creds {
                *held = creds.clone();
            }
        }
        let mut new_mailbox = false;
        for t in &targets {
            match &t.source {
                Source::Mail(m) => new_mailbox |= lock(&user.mailboxes).insert(m.clone()),
                Source::Dav(_) => {
                    if !user.dav_wanted.swap(true, Ordering::Relaxed) {
                        user.poke_dav.notify_one();
                    }
                }
                Source::Nothing => {}
            }
        }
        if new_mailbox {
            user.poke_mail.notify_one();
        }
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let end = Arc::new(Notify::new());
        let key = (creds.login.clone(), device_id.to_string());
        if let Some((_, older)) = lock(&inner.devices).insert(key.clone(), (id, end.clone())) {
            older.notify_one();
        }
        let view = user.view.subscribe();
        Waiter {
            hub: inner.clone(),
            user,
            view,
            end,
            shutdown: inner.shutdown.subscribe(),
            id,
            key,
            targets,
            baseline: None,
        }
    }
}

/// A waiting Ping or hanging Sync: a channel subscription and what it compares.
pub struct Waiter {
    hub: Arc<Inner>,
    user: Arc<UserWatch>,
    view: watch::Receiver<View>,
    end: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    id: u64,
    key: DeviceKey,
    targets: Vec<Target>,
    /// What each target looked like when the wait began, and the hierarchy counter.
    baseline: Option<(Vec<Option<String>>, u64)>,
}

impl Waiter {
    /// Waits until a target changes compared with its device's cursor (or, where that
    /// cannot be compared, with how it stood when the wait began), the hierarchy
    /// changes, `deadline` passes, a newer request of the device or the shutdown ends
    /// it, or the upstream turns out unreachable. May be called again after
    /// [`Outcome::Hierarchy`].
    pub async fn wait(&mut self, deadline: tokio::time::Instant) -> Outcome {
        let needs_mail = self
            .targets
            .iter()
            .any(|t| matches!(t.source, Source::Mail(_)));
        let needs_dav = self
            .targets
            .iter()
            .any(|t| matches!(t.source, Source::Dav(_)));
        loop {
            if *self.shutdown.borrow() {
                return Outcome::Shutdown;
            }
            {
                let view = self.view.borrow_and_update();
                if (needs_mail && view.mail_down) || (needs_dav && view.dav_down) {
                    return Outcome::Down;
                }
                let ready = (!needs_mail || view.mail_ready) && (!needs_dav || view.dav_ready);
                if ready {
                    let now: Vec<Option<String>> =
                        self.targets.iter().map(|t| tag_of(&view, t)).collect();
                    let (base, hierarchy) = self
                        .baseline
                        .get_or_insert_with(|| (now.clone(), view.hierarchy));
                    if view.hierarchy != *hierarchy {
                        *hierarchy = view.hierarchy;
                        return Outcome::Hierarchy;
                    }
                    let changed: Vec<String> = self
                        .targets
                        .iter()
                        .zip(now.iter().zip(base.iter()))
                        .filter(|(t, (now, base))| changed(t, now.as_deref(), base.as_deref()))
                        .map(|(t, _)| t.id.clone())
                        .collect();
                    if !changed.is_empty() {
                        return Outcome::Changed(changed);
                    }
                }
            }
            tokio::select! {
                _ = self.shutdown.changed() => {}
                _ = self.end.notified() => return Outcome::Superseded,
                changed = self.view.changed() => {
                    if changed.is_err() {
                        return Outcome::Down;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Outcome::Expired,
            }
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        {
            let mut devices = lock(&self.hub.devices);
            if devices.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
                devices.remove(&self.key);
            }
        }
        let _users = lock(&self.hub.users);
        if self.user.waiters.fetch_sub(1, Ordering::Relaxed) == 1 {
            *lock(&self.user.idle_since) = Instant::now();
        }
    }
}

/// How a target stands in the view: a mailbox's cursor, a collection's sync-token (or
/// CTag when it has none).
fn tag_of(view: &View, target: &Target) -> Option<String> {
    match &target.source {
        Source::Mail(m) => view.mail.get(m).and_then(MailState::cursor),
        Source::Dav(href) => view
            .dav
            .get(href)
            .and_then(|d| d.sync_token.clone().or_else(|| d.ctag.clone())),
        Source::Nothing => None,
    }
}

/// Whether a target changed. The device's cursor is compared where it means something
/// (a mail cursor with a HIGHESTMODSEQ, a DAV sync-token): a change between the
/// device's last Sync and this request counts. Otherwise — a folder the device never
/// synced, a server without CONDSTORE or sync-tokens — only a change during the wait
/// counts, so that a phone that Pings a folder it does not sync is not woken forever.
fn changed(target: &Target, now: Option<&str>, base: Option<&str>) -> bool {
    let Some(now) = now else { return false };
    let device = target
        .device_cursor
        .as_deref()
        .filter(|c| match target.source {
            Source::Mail(_) => c
                .split_once(':')
                .is_some_and(|(_, ms)| ms != "0" && !ms.is_empty()),
            Source::Dav(_) => !c.is_empty(),
            Source::Nothing => false,
        });
    match device {
        Some(device) => device != now,
        None => base.is_some_and(|b| b != now),
    }
}

/// Ends this node's waiting request of the device, if it holds one.
fn end_waiting(inner: &Inner, login: &str, device_id: &str) {
    let devices = lock(&inner.devices);
    if let Some((_, end)) = devices.get(&(login.to_string(), device_id.to_string())) {
        end.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The watcher of one user: mail and DAV loops, until no request has waited for
/// [`GRACE`] or the server shuts down.
async fn run_watcher(inner: Arc<Inner>, login: String, user: Arc<UserWatch>) {
    inner.watchers_running.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(target: "airsync", %login, "push: watcher started");
    let mut shutdown = inner.shutdown.subscribe();
    tokio::select! {
        _ = mail_loop(&inner, &user) => {}
        _ = dav_loop(&inner, &user) => {}
        _ = replies::run(&inner, &user) => {}
        _ = until_unused(&inner, &login, &user) => {}
        _ = shutdown.wait_for(|s| *s) => {
            lock(&inner.users).remove(&login);
        }
    }
    inner.watchers_running.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(target: "airsync", %login, "push: watcher stopped");
}

/// Returns (having removed the user from the hub) once no request has waited for GRACE.
async fn until_unused(inner: &Inner, login: &str, user: &Arc<UserWatch>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut users = lock(&inner.users);
        if user.waiters.load(Ordering::Relaxed) == 0 && lock(&user.idle_since).elapsed() >= GRACE {
            users.remove(login);
            return;
        }
    }
}

fn apply(user: &UserWatch, events: &[WatchEvent]) {
    if events.is_empty() {
        return;
    }
    user.view.send_modify(|v| {
        for e in events {
            match e {
                WatchEvent::Status {
                    mailbox,
                    uidvalidity,
                    highestmodseq,
                } => {
                    let s = v.mail.entry(mailbox.clone()).or_default();
                    s.uidvalidity = uidvalidity.or(s.uidvalidity);
                    s.highestmodseq = highestmodseq.or(s.highestmodseq);
                }
                WatchEvent::Hierarchy => v.hierarchy += 1,
                WatchEvent::Selected => {}
            }
        }
    });
}

fn set_down(user: &UserWatch, mail: bool, down: bool) {
    user.view.send_if_modified(|v| {
        let flag = if mail {
            &mut v.mail_down
        } else {
            &mut v.dav_down
        };
        let modified = *flag != down;
        *flag = down;
        modified
    });
}

/// Connects, watches until the connection breaks, reconnects with backoff.
async fn mail_loop(inner: &Inner, user: &UserWatch) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let creds = lock(&user.creds).clone();
        match inner.imap.watch_connection(&creds).await {
            Err(e) => {
                tracing::warn!(target: "airsync", login = %creds.login, error = %e, "push: cannot reach the IMAP upstream");
                inner.metrics.backend_error("imap", &e);
                set_down(user, true, true);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Ok(conn) => {
                backoff = Duration::from_secs(1);
                let result = if conn.has_notify() && inner.settings.imap_notify {
                    watch_notify(inner, user, conn).await
                } else {
                    watch_idle(inner, user, conn).await
                };
                if let Err(e) = result {
                    tracing::info!(target: "airsync", login = %creds.login, error = %e, "push: watcher connection lost; reconnecting");
                }
            }
        }
    }
}

/// Mailboxes some waiter watches that the view knows nothing of yet (shared mailboxes,
/// which `personal` NOTIFY does not cover, or before the first STATUS).
fn unknown_mailboxes(user: &UserWatch) -> Vec<String> {
    let view = user.view.borrow();
    lock(&user.mailboxes)
        .iter()
        .filter(|m| view.mail.get(*m).and_then(MailState::cursor).is_none())
        .cloned()
        .collect()
}

async fn watch_notify(
    inner: &Inner,
    user: &UserWatch,
    mut conn: WatchConn,
) -> Result<(), BackendError> {
    let events = conn.start_notify().await?;
    apply(user, &events);
    let missing = unknown_mailboxes(user);
    apply(user, &conn.status(&missing).await?);
    user.view.send_modify(|v| {
        v.mail_ready = true;
        v.mail_down = false;
    });
    let poll = Duration::from_secs(inner.settings.dav_poll_secs);
    let mut keepalive = tokio::time::Instant::now() + KEEPALIVE;
    loop {
        tokio::select! {
            event = conn.next_event() => {
                let event = event?;
                // A STATUS without UIDVALIDITY or HIGHESTMODSEQ for a mailbox we know
                // nothing of is completed by asking.
                let incomplete = match &event {
                    WatchEvent::Status { mailbox, .. } => {
                        apply(user, std::slice::from_ref(&event));
                        user.view.borrow().mail.get(mailbox).and_then(MailState::cursor).is_none().then(|| mailbox.clone())
                    }
                    _ => {
                        apply(user, std::slice::from_ref(&event));
                        None
                    }
                };
                if let Some(m) = incomplete {
                    apply(user, &conn.status(&[m]).await?);
                }
            }
            _ = user.poke_mail.notified() => {
                let missing = unknown_mailboxes(user);
                apply(user, &conn.status(&missing).await?);
            }
            _ = tokio::time::sleep(poll) => {
                let missing = unknown_mailboxes(user);
                apply(user, &conn.status(&missing).await?);
            }
            _ = tokio::time::sleep_until(keepalive) => {
                apply(user, &conn.noop().await?);
                keepalive = tokio::time::Instant::now() + KEEPALIVE;
            }
        }
    }
}

/// Without NOTIFY: IDLE on INBOX; on any wake-up (or every poll interval) STATUS of the
/// watched mailboxes and a LIST to notice hierarchy changes.
async fn watch_idle(
    inner: &Inner,
    user: &UserWatch,
    mut conn: WatchConn,
) -> Result<(), BackendError> {
    let poll = Duration::from_secs(inner.settings.dav_poll_secs);
    let mut names: Option<Vec<String>> = None;
    loop {
        let watched: Vec<String> = lock(&user.mailboxes).iter().cloned().collect();
        apply(user, &conn.status(&watched).await?);
        let mut now = conn.mailbox_names().await?;
        now.sort();
        if names.as_ref().is_some_and(|n| *n != now) {
            apply(user, &[WatchEvent::Hierarchy]);
        }
        names = Some(now);
        user.view.send_modify(|v| {
            v.mail_ready = true;
            v.mail_down = false;
        });
        conn.idle("INBOX").await?;
        tokio::select! {
            event = conn.next_event() => { event?; }
            _ = tokio::time::sleep(poll) => {}
            _ = user.poke_mail.notified() => {}
        }
        conn.idle_done().await?;
    }
}

/// Polls the user's calendar and address-book homes while some waiter watches a DAV
/// folder.
async fn dav_loop(inner: &Inner, user: &UserWatch) {
    let poll = Duration::from_secs(inner.settings.dav_poll_secs);
    loop {
        if user.dav_wanted.load(Ordering::Relaxed) {
            let creds = lock(&user.creds).clone();
            let mut all: HashMap<String, DavState> = HashMap::new();
            let mut failure = None;
            let mut polled = 0;
            for (dav, kind) in [
                (&inner.calendars, DavKind::Calendar),
                (&inner.contacts, DavKind::Contacts),
            ] {
                let Some(dav) = dav else { continue };
                polled += 1;
                match dav.collections(&creds, kind).await {
                    Ok(collections) => {
                        for c in collections {
                            all.insert(
                                c.href,
                                DavState {
                                    sync_token: c.sync_token,
                                    ctag: c.ctag,
                                },
                            );
                        }
                    }
                    Err(e) => failure = Some(e),
                }
            }
            match failure {
                Some(e) => {
                    tracing::warn!(target: "airsync", login = %creds.login, error = %e, "push: cannot poll the DAV upstream");
                    inner.metrics.backend_error("dav", &e);
                    set_down(user, false, true);
                }
                None if polled > 0 => user.view.send_modify(|v| {
                    let mut before: Vec<&String> = v.dav.keys().collect();
                    let mut after: Vec<&String> = all.keys().collect();
                    before.sort();
                    after.sort();
                    if v.dav_ready && before != after {
                        v.hierarchy += 1;
                    }
                    v.dav = all;
                    v.dav_ready = true;
                    v.dav_down = false;
                }),
                None => {}
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = user.poke_dav.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(source: Source, device: Option<&str>) -> Target {
        Target {
            id: "5".into(),
            source,
            device_cursor: device.map(str::to_string),
        }
    }

    #[test]
    fn device_cursor_decides_where_it_can() {
        let mail = |d| target(Source::Mail("INBOX".into()), d);
        // The device synced 1:7; upstream is at 1:8 → changed, whatever the baseline.
        assert!(changed(&mail(Some("1:7")), Some("1:8"), Some("1:8")));
        assert!(!changed(&mail(Some("1:8")), Some("1:8"), Some("1:8")));
        // No key, or a cursor without HIGHESTMODSEQ: only changes during the wait count.
        assert!(!changed(&mail(None), Some("1:8"), Some("1:8")));
        assert!(changed(&mail(None), Some("1:9"), Some("1:8")));
        assert!(!changed(&mail(Some("1:0")), Some("1:8"), Some("1:8")));
        // Unknown upstream state never counts as a change.
        assert!(!changed(&mail(Some("1:7")), None, None));
        let dav = |d| target(Source::Dav("/u/calendar/".into()), d);
        assert!(changed(&dav(Some("tok1")), Some("tok2"), Some("tok2")));
        assert!(!changed(&dav(Some("")), Some("tok2"), Some("tok2")));
        assert!(!changed(&target(Source::Nothing, None), None, None));
    }

    #[test]
    fn mail_cursor_needs_both_halves() {
        assert_eq!(
            MailState {
                uidvalidity: Some(3),
                highestmodseq: Some(9)
            }
            .cursor()
            .as_deref(),
            Some("3:9")
        );
        assert_eq!(
            MailState {
                uidvalidity: None,
                highestmodseq: Some(9)
            }
            .cursor(),
            None
        );
    }
}
