//! Sync (MS-ASCMD 2.2.1.21): brings one or more collections of the device up to date,
//! carrying the device's own changes upstream first.
//!
//! Each SyncKey names an immutable snapshot (`snapshot.rs`) of what the device holds.
//! A request with key N starts from snapshot N, refreshes the upstream side from the
//! upstream's cheap delta, applies the client's commands, picks the next window of
//! server commands (`plan.rs`), stores snapshot N+1 and only then answers N+1. A
//! repeated N (the answer was lost) is answered from snapshot N again: the device gets
//! the same items with the same ServerIds, never Status 3.

pub mod difference;
pub mod mail;
pub mod pim;
pub mod plan;
pub mod prefetch;
pub mod snapshot;
pub mod window;

use crate::eas::sync::{
    CollectionRequest, CollectionResponse, SyncOptions, SyncRequest, SyncResponse, status,
};
use crate::error::Error;
use crate::mapping::folders::{FolderView, Resolved};
use std::sync::Arc;

use crate::state::{NewSyncKey, StoredSnapshot};
use crate::wbxml::Element;
use difference::Difference;
use prefetch::TakeOnce;
use snapshot::Snapshot;

use super::paging::Reused;
use super::{Reply, RequestContext};

/// MS-ASCMD 2.2.3.199: WindowSize 0 or above 512 means 512.
pub const MAX_WINDOW: usize = 512;
/// Default when the client names none.
const DEFAULT_WINDOW: usize = 100;

/// One collection's answer, and the new key it names while that is still to be
/// stored: a Sync stores its new keys together with the cached request (`remember`)
/// once every collection is done, and only then answers.
pub struct Answer {
    pub response: CollectionResponse,
    pub new_key: Option<NewSyncKey>,
}

impl From<CollectionResponse> for Answer {
    fn from(response: CollectionResponse) -> Answer {
        Answer {
            response,
            new_key: None,
        }
    }
}

pub async fn run(ctx: &RequestContext<'_>, document: Option<Element>) -> Result<Reply, Error> {
    // A new Sync ends the device's waiting Ping or hanging Sync.
    ctx.app.push.supersede(ctx.login(), ctx.device_id()).await;
    let request = SyncRequest::parse(document.as_ref())?;
    let request = match complete_from_cache(ctx, request).await? {
        Ok(r) => r,
        Err(status) => {
            return Ok(Reply::Wbxml(
                SyncResponse::error(status, None).into_element(),
            ));
        }
    };
    let response = apply(ctx, &request).await?;
    let response = match wait_seconds(&request) {
        Some(secs) if nothing_happened(&request, &response) => {
            hang(ctx, &request, response, secs).await?
        }
        _ => response,
    };
    Ok(Reply::Wbxml(response.into_element()))
}

/// How long a Sync may wait for changes: HeartbeatInterval (seconds, 14.0+) or Wait
/// (minutes, 12.x); `apply` has already refused values out of range.
fn wait_seconds(request: &SyncRequest) -> Option<u64> {
    request
        .heartbeat_interval
        .map(u64::from)
        .or(request.wait.map(|m| u64::from(m) * 60))
}

/// The Sync changed nothing on either side and every collection kept its key: there is
/// nothing to tell the device yet (MS-ASCMD 2.2.3.198: the server waits).
fn nothing_happened(request: &SyncRequest, response: &SyncResponse) -> bool {
    response.status.is_none()
        && !request.collections.is_empty()
        && request.collections.iter().all(|c| c.commands.is_empty())
        && response.collections.iter().all(|r| {
            r.status == status::SUCCESS
                && r.commands.is_empty()
                && r.responses.is_empty()
                && !r.more_available
                && request
                    .collections
                    .iter()
                    .any(|c| c.collection_id == r.collection_id && c.sync_key == r.sync_key)
        })
}

/// The hanging Sync: waits for a change in its collections, then runs the Sync again
/// and answers with the changes; on expiry (or a newer request of the device, or the
/// server stopping) answers the no-change Sync it already has.
async fn hang(
    ctx: &RequestContext<'_>,
    request: &SyncRequest,
    unchanged: SyncResponse,
    secs: u64,
) -> Result<SyncResponse, Error> {
    use crate::push::Outcome;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let ids: Vec<String> = request
        .collections
        .iter()
        .map(|c| c.collection_id.clone())
        .collect();
    let Some(targets) = push_targets(ctx, &ids).await? else {
        return Ok(unchanged);
    };
    let mut waiter = ctx
        .app
        .push
        .register(&ctx.principal.credentials, ctx.device_id(), targets);
    loop {
        match waiter.wait(deadline).await {
            // Run again: the changes, or Status 12 for a folder that went away, or
            // Status 16 per collection when the upstream is down.
            Outcome::Changed(_) | Outcome::Down => return apply(ctx, request).await,
            Outcome::Hierarchy => {
                let view = ctx.folder_view().await?;
                if ids.iter().any(|id| view.resolve(id).is_none()) {
                    return apply(ctx, request).await;
                }
            }
            Outcome::Expired | Outcome::Superseded | Outcome::Shutdown => return Ok(unchanged),
        }
    }
}

/// What push watches for these collections, with the cursor of the device's latest
/// key of each; `None` when one of them does not resolve (the hierarchy changed).
pub async fn push_targets(
    ctx: &RequestContext<'_>,
    ids: &[String],
) -> Result<Option<Vec<crate::push::Target>>, Error> {
    use crate::push::{Source, Target};
    let view = ctx.folder_view().await?;
    let mut targets = Vec::with_capacity(ids.len());
    for id in ids {
        let source = match view.resolve(id) {
            None => return Ok(None),
            Some(Resolved::Mail { mailbox, .. }) => Source::Mail(mailbox),
            Some(Resolved::Pim { href, .. }) => Source::Dav(href),
            Some(Resolved::Outbox) => Source::Nothing,
        };
        let store = &ctx.app.store;
        let device_cursor = match store
            .latest_sync_key(ctx.login(), ctx.device_id(), id)
            .await?
        {
            Some(key) => load(ctx, id, &key.to_string())
                .await?
                .map(|(_, snap, _)| snap.cursor),
            None => None,
        };
        targets.push(Target {
            id: id.clone(),
            source,
            device_cursor,
        });
    }
    Ok(Some(targets))
}

/// What the cache keeps of a collection request (MS-ASCMD 3.1.5.3): everything but the
/// client's commands, with the SyncKey the server answered last.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct CachedCollection {
    collection_id: String,
    sync_key: String,
    class: Option<String>,
    deletes_as_moves: Option<bool>,
    get_changes: Option<bool>,
    window_size: Option<u32>,
    options: Option<SyncOptions>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct CachedRequest {
    collections: Vec<CachedCollection>,
    window_size: Option<u32>,
}

/// Empty and Partial requests are completed from the cached last request; a full
/// request replaces the cache. `Err(13)` when an empty or partial request finds no cache.
async fn complete_from_cache(
    ctx: &RequestContext<'_>,
    mut request: SyncRequest,
) -> Result<Result<SyncRequest, u16>, Error> {
    if request.empty || request.partial {
        // Only these read the cache; a full request just replaces it (`remember`).
        let cached: Option<CachedRequest> = ctx
            .app
            .store
            .sync_cache(ctx.login(), ctx.device_id())
            .await?
            .and_then(|json| serde_json::from_str(&json).ok());
        let Some(cached) = cached else {
            return Ok(Err(status::RESEND_FULL_REQUEST));
        };
        for c in &cached.collections {
            match request
                .collections
                .iter_mut()
                .find(|r| r.collection_id == c.collection_id)
            {
                // Partial: what the client sent wins, the cache fills the gaps.
                Some(r) => {
                    r.options = r.options.take().or_else(|| c.options.clone());
                    r.window_size = r.window_size.or(c.window_size);
                    r.get_changes = r.get_changes.or(c.get_changes);
                    r.deletes_as_moves = r.deletes_as_moves.or(c.deletes_as_moves);
                }
                None => request.collections.push(CollectionRequest {
                    sync_key: c.sync_key.clone(),
                    collection_id: c.collection_id.clone(),
                    class: c.class.clone(),
                    deletes_as_moves: c.deletes_as_moves,
                    get_changes: c.get_changes,
                    window_size: c.window_size,
                    options: c.options.clone(),
                    commands: vec![],
                }),
            }
        }
        request.window_size = request.window_size.or(cached.window_size);
    }
    Ok(Ok(request))
}

/// Stores the request for later empty or partial ones, with the new keys of its
/// answer (`new_keys`).
async fn remember(
    ctx: &RequestContext<'_>,
    request: &SyncRequest,
    response: &SyncResponse,
    new_keys: &[NewSyncKey],
) -> Result<(), Error> {
    let collections = request
        .collections
        .iter()
        .map(|c| {
            let answered = response
                .collections
                .iter()
                .find(|r| r.collection_id == c.collection_id);
            CachedCollection {
                collection_id: c.collection_id.clone(),
                sync_key: answered
                    .map(|r| r.sync_key.clone())
                    .unwrap_or_else(|| c.sync_key.clone()),
                class: c.class.clone(),
                deletes_as_moves: c.deletes_as_moves,
                get_changes: c.get_changes,
                window_size: c.window_size,
                options: c.options.clone(),
            }
        })
        .collect();
    let cached = CachedRequest {
        collections,
        window_size: request.window_size,
    };
    let json = serde_json::to_string(&cached).unwrap_or_default();
    ctx.app
        .store
        .put_sync_answer(ctx.login(), ctx.device_id(), new_keys, &json)
        .await?;
    Ok(())
}

fn window(size: Option<u32>) -> usize {
    match size {
        None => DEFAULT_WINDOW,
        Some(0) => MAX_WINDOW,
        Some(n) => (n as usize).min(MAX_WINDOW),
    }
}

async fn apply(ctx: &RequestContext<'_>, request: &SyncRequest) -> Result<SyncResponse, Error> {
    // MS-ASCMD 2.2.3.88.2 / 2.2.3.198: bounds of HeartbeatInterval (seconds) and Wait
    // (minutes); out of range is Status 14 with the nearest bound in Limit.
    let bounds = &ctx.app.settings.push;
    if let Some(h) = request.heartbeat_interval
        && let Some(limit) = out_of_range(h, bounds.min_heartbeat_secs, bounds.max_heartbeat_secs)
    {
        return Ok(SyncResponse::error(status::INVALID_WAIT, Some(limit)));
    }
    let (min_wait, max_wait) = (
        bounds.min_heartbeat_secs.div_ceil(60).max(1),
        (bounds.max_heartbeat_secs / 60).max(1),
    );
    if let Some(w) = request.wait
        && let Some(limit) = out_of_range(w, min_wait, max_wait)
    {
        return Ok(SyncResponse::error(status::INVALID_WAIT, Some(limit)));
    }
    let view = ctx.folder_view().await?;
    let mut budget = window(request.window_size);
    let mut response = SyncResponse::default();
    let mut new_keys = Vec::new();
    for c in &request.collections {
        let collection_window = window(c.window_size).min(budget);
        let answer = match view.resolve(&c.collection_id) {
            None => CollectionResponse::status_only(c, status::FOLDER_HIERARCHY_CHANGED),
            Some(folder) => {
                let answer = sync_collection(ctx, &view, c, &folder, collection_window).await?;
                new_keys.extend(answer.new_key);
                answer.response
            }
        };
        budget = budget.saturating_sub(answer.commands.len());
        response.collections.push(answer);
    }
    remember(ctx, request, &response, &new_keys).await?;
    if response.collections.iter().any(|c| c.more_available) {
        ctx.app.paging.keep(Reused::of(ctx, view)).await;
    }
    Ok(response)
}

/// SyncKey 0 (MS-ASCMD 2.2.3.181.4): a new chain starts; the answer names its first
/// key and carries no items.
async fn start(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    mut answer: CollectionResponse,
) -> Result<CollectionResponse, Error> {
    let (store, cid) = (&ctx.app.store, req.collection_id.as_str());
    let key = store
        .latest_sync_key(ctx.login(), ctx.device_id(), cid)
        .await?
        .unwrap_or(0)
        + 1;
    let filter_type = req
        .options
        .as_ref()
        .and_then(|o| o.filter_type)
        .unwrap_or(0);
    let snap = Snapshot {
        filter_type,
        ..Default::default()
    };
    store
        .put_sync_snapshot(
            ctx.login(),
            ctx.device_id(),
            cid,
            key,
            &snap.encode(),
            None,
            Some(key),
        )
        .await?;
    answer.sync_key = key.to_string();
    Ok(answer)
}

/// The full snapshot the next key may be stored as a difference from: snapshot N
/// itself when it is stored whole, else the base N is a difference from; with N's
/// difference from it when a paging chain kept that, and the chain's queue of
/// operations still to send.
pub struct Base {
    snap: Option<BaseSnapshot>,
    known: Option<Difference>,
    pub queue: Option<plan::Queue>,
}

/// A whole stored snapshot, decoded, with the checksum of its stored bytes.
#[derive(Clone)]
pub struct BaseSnapshot {
    key: i64,
    snap: Arc<Snapshot>,
    sum: u32,
}

/// Below this many items a snapshot is always stored whole.
const DELTA_MIN_ITEMS: usize = 64;

impl Base {
    fn of(base: BaseSnapshot) -> Base {
        Base {
            snap: Some(base),
            known: None,
            queue: None,
        }
    }

    /// How to store `snap`: as a difference from this base when that is much smaller
    /// than the whole (a window of a long initial sync, a few changes in a big
    /// folder), else whole. Returns the bytes and the base's key, and keeps the
    /// difference for the next key. `touched`: the only keys in which `snap` can differ
    /// from the snapshot this base was loaded with, when the request knows them.
    fn encode(&mut self, snap: &Snapshot, touched: Option<&[u64]>) -> (Vec<u8>, Option<i64>) {
        let known = self.known.take();
        if let Some(base) = &self.snap
            && snap.items.len() >= DELTA_MIN_ITEMS
        {
            let difference = match (known, touched) {
                (Some(mut known), Some(touched)) => {
                    known.update(&base.snap, snap, touched);
                    debug_assert_eq!(known, Difference::between(&base.snap, snap));
                    known
                }
                _ => Difference::between(&base.snap, snap),
            };
            let delta = snap.encode_difference(&difference, base.sum);
            // A whole snapshot takes 10–15 bytes per item.
            if delta.len() * 4 <= snap.items.len() * 12 {
                self.known = Some(difference);
                return (delta, Some(base.key));
            }
        }
        (snap.encode(), None)
    }
}

/// Decoded bases of the devices' current chains, so that the windows of a chain do not
/// read and decode their base again: (login, device, CollectionId, key) → base. An
/// entry is used only for a difference that names its checksum; a base rewritten
/// since (MoveItems, on this node or another) has another checksum and is read anew.
pub struct BaseCache(moka::future::Cache<ChainKey, BaseSnapshot>);

impl Default for BaseCache {
    fn default() -> Self {
        BaseCache(
            moka::future::Cache::builder()
                // Weighed in KiB: a decoded item takes about 40 bytes.
                .weigher(|_, b: &BaseSnapshot| (b.snap.items.len() / 25).max(1) as u32)
                .max_capacity(64 * 1024)
                .time_to_idle(std::time::Duration::from_secs(120))
                .build(),
        )
    }
}

/// The snapshot a paging chain continues from, kept decoded once its key is stored, so
/// that the device's next request neither decodes it nor copies the base to apply it
/// to: (login, device, CollectionId, key) → the snapshot, its base and the checksum of
/// its stored bytes. Taken (moved out) by the request that sends the key; used only
/// when the key's stored bytes still have that checksum (a key rewritten since, on any
/// node, is read anew).
pub struct NextCache(moka::future::Cache<ChainKey, TakeOnce<Next>>);

pub struct Next {
    snap: Snapshot,
    base: Base,
    sum: u32,
}

impl Default for NextCache {
    fn default() -> Self {
        NextCache(
            moka::future::Cache::builder()
                // Weighed in KiB: a decoded item takes about 40 bytes.
                .weigher(|_, n: &TakeOnce<Next>| {
                    let items = n.peek(|n| n.map_or(0, |n| n.snap.items.len()));
                    (items / 25).max(1) as u32
                })
                .max_capacity(64 * 1024)
                .time_to_idle(std::time::Duration::from_secs(120))
                .build(),
        )
    }
}

type ChainKey = (String, String, String, i64);

fn chain_key(ctx: &RequestContext<'_>, cid: &str, key: i64) -> ChainKey {
    (
        ctx.login().to_string(),
        ctx.device_id().to_string(),
        cid.to_string(),
        key,
    )
}

/// Snapshot N, or `None` when the device's key is unknown or unreadable (Status 3).
async fn load(
    ctx: &RequestContext<'_>,
    cid: &str,
    sync_key: &str,
) -> Result<Option<(i64, Snapshot, Base)>, Error> {
    let Ok(key) = sync_key.parse::<i64>() else {
        return Ok(None);
    };
    let store = &ctx.app.store;
    let Some(stored) = store
        .sync_snapshot(ctx.login(), ctx.device_id(), cid, key)
        .await?
    else {
        return Ok(None);
    };
    let cache_key = |k: i64| chain_key(ctx, cid, k);
    if let Some(next) = ctx.app.nexts.0.remove(&cache_key(key)).await
        && let Some(next) = next.take()
        && next.sum == snapshot::checksum(&stored.bytes)
    {
        return Ok(Some((key, next.snap, next.base)));
    }
    let unreadable = || {
        tracing::warn!(target: "airsync", collection = cid, key, "unreadable sync snapshot; the device must resync");
        Ok(None)
    };
    let Some(base_key) = stored.base_key else {
        let Ok(base) = whole(&stored) else {
            return unreadable();
        };
        let snap = (*base.snap).clone();
        ctx.app.bases.0.insert(cache_key(key), base.clone()).await;
        return Ok(Some((key, snap, Base::of(base))));
    };
    let Some(sum) = Snapshot::delta_base_sum(&stored.bytes) else {
        return unreadable();
    };
    let base = match ctx.app.bases.0.get(&cache_key(base_key)).await {
        Some(b) if b.sum == sum => b,
        _ => {
            let read = store
                .sync_snapshot(ctx.login(), ctx.device_id(), cid, base_key)
                .await?;
            match read.as_ref().map(whole) {
                Some(Ok(b)) if b.sum == sum => {
                    ctx.app.bases.0.insert(cache_key(base_key), b.clone()).await;
                    b
                }
                _ => return unreadable(),
            }
        }
    };
    match on_base(&stored, &base) {
        Ok(snap) => Ok(Some((key, snap, Base::of(base)))),
        Err(_) => unreadable(),
    }
}

/// A key stored as a difference, applied to its base — only to the very base it was
/// made from.
fn on_base(stored: &StoredSnapshot, base: &BaseSnapshot) -> Result<Snapshot, snapshot::Corrupt> {
    if Snapshot::delta_base_sum(&stored.bytes) != Some(base.sum) {
        return Err(snapshot::Corrupt);
    }
    Snapshot::decode_delta(&stored.bytes, (*base.snap).clone())
}

/// A key stored whole, decoded.
fn whole(stored: &StoredSnapshot) -> Result<BaseSnapshot, snapshot::Corrupt> {
    if stored.base_key.is_some() {
        return Err(snapshot::Corrupt);
    }
    Ok(BaseSnapshot {
        key: stored.key,
        snap: Arc::new(Snapshot::decode(&stored.bytes)?),
        sum: snapshot::checksum(&stored.bytes),
    })
}

/// Changes every stored key of a collection on the device with `change` (which says
/// whether it changed anything), e.g. when the device moved an item itself. When one
/// changes, all are stored whole again, so no key rests on a base that changed.
pub async fn rewrite_snapshots(
    ctx: &RequestContext<'_>,
    cid: &str,
    mut change: impl FnMut(&mut Snapshot) -> bool,
) -> Result<(), Error> {
    let store = &ctx.app.store;
    let (login, device) = (ctx.login(), ctx.device_id());
    let rows = store.sync_snapshots(login, device, cid).await?;
    let mut snaps = Vec::with_capacity(rows.len());
    let mut changed = false;
    for row in &rows {
        let snap = match row.base_key {
            None => Snapshot::decode(&row.bytes),
            Some(b) => rows
                .iter()
                .find(|r| r.key == b)
                .ok_or(snapshot::Corrupt)
                .and_then(whole)
                .and_then(|base| on_base(row, &base)),
        };
        // An unreadable key stays as it is: its device gets Status 3 anyway.
        if let Ok(mut snap) = snap {
            changed |= change(&mut snap);
            snaps.push((row.key, snap));
        }
    }
    if changed {
        for (key, snap) in snaps {
            store
                .replace_sync_snapshot(login, device, cid, key, &snap.encode())
                .await?;
        }
    }
    Ok(())
}

/// Ends a collection's turn: when neither side changed anything the key stays (and
/// older keys are done with); otherwise snapshot N+1 — which records the device's own
/// commands too, so they are never echoed back — is returned as the answer's new key,
/// which `apply` stores (with the cached request) before N+1 is answered, and N is
/// kept until the device uses N+1.
///
/// A key that stays still learns where the upstream is now (its cursor): what the
/// device holds did not change, only how cheaply the next delta can be read; push
/// compares this cursor with the upstream's to know whether anything is new.
///
/// `touched`: when the request knows them, the only keys in which the snapshot can
/// have changed since it was loaded (see [`Base::encode`]).
async fn finish(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    key: i64,
    loaded_cursor: &str,
    (snap, mut base): (Snapshot, Base),
    touched: Option<&[u64]>,
    mut answer: CollectionResponse,
) -> Result<Answer, Error> {
    let (store, cid) = (&ctx.app.store, answer.collection_id.clone());
    if answer.commands.is_empty() && answer.responses.is_empty() && req.commands.is_empty() {
        if snap.cursor != loaded_cursor {
            store
                .replace_sync_snapshot(ctx.login(), ctx.device_id(), &cid, key, &snap.encode())
                .await?;
        }
        store
            .prune_sync_snapshots(ctx.login(), ctx.device_id(), &cid, key)
            .await?;
        answer.sync_key = key.to_string();
        return Ok(answer.into());
    }
    let (bytes, base_key) = base.encode(&snap, touched);
    answer.sync_key = (key + 1).to_string();
    // The device comes straight back for more: keep what it continues from. (A key
    // stored whole is its own next base and is read back; that is rare in a chain.)
    if answer.more_available && base_key.is_some() {
        let next = Next {
            sum: snapshot::checksum(&bytes),
            snap,
            base,
        };
        ctx.app
            .nexts
            .0
            .insert(chain_key(ctx, &cid, key + 1), TakeOnce::new(next))
            .await;
    }
    let new_key = NewSyncKey {
        collection_id: cid,
        key: key + 1,
        snapshot: bytes,
        base_key,
        keep_from: keep_from(key, answer.more_available),
    };
    Ok(Answer {
        response: answer,
        new_key: Some(new_key),
    })
}

/// A paging chain forgets its older keys every this many keys and when it ends.
const PRUNE_EVERY: i64 = 8;

/// From which key on to keep a collection's keys once key + 1 is stored: from `key`
/// (the device may repeat it) — but while the device pages (MoreAvailable), only every
/// [`PRUNE_EVERY`] keys, which saves a DELETE on most windows of a long initial sync.
/// An older key kept a little longer is harmless: it still describes exactly what a
/// device holding it has (MS-ASCMD leaves to the server how long keys stay valid).
fn keep_from(key: i64, more_available: bool) -> Option<i64> {
    (!more_available || key % PRUNE_EVERY == 0).then_some(key)
}

fn out_of_range(value: u32, min: u32, max: u32) -> Option<u32> {
    if value < min {
        Some(min)
    } else if value > max {
        Some(max)
    } else {
        None
    }
}

/// One collection, by the kind of upstream behind it.
async fn sync_collection(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    request: &CollectionRequest,
    folder: &Resolved,
    window: usize,
) -> Result<Answer, Error> {
    let result = match folder {
        Resolved::Mail { mailbox, alias, .. } => {
            let access = if *alias {
                mail::Access::of(ctx, mailbox).await?
            } else {
                mail::Access::FULL
            };
            mail::sync(ctx, view, request, mailbox, access, window).await
        }
        Resolved::Outbox => mail::sync_outbox(ctx, request).await.map(Answer::from),
        Resolved::Pim {
            folder_id,
            class,
            href,
        } => {
            pim::sync(
                ctx,
                request,
                &pim::PimFolder {
                    folder_id: *folder_id,
                    class: *class,
                    href,
                },
                window,
            )
            .await
        }
    };
    match result {
        Ok(answer) => Ok(answer),
        // MS-ASCMD 2.2.3.177.17: Status 16 asks the client to retry later; its local data
        // stays intact (an upstream outage must never make a phone drop its mail).
        Err(Error::Backend(airsync_model::BackendError::Transient(reason))) => {
            tracing::warn!(target: "airsync", collection = %request.collection_id, %reason, "upstream unavailable during Sync");
            Ok(CollectionResponse::status_only(request, status::RETRY).into())
        }
        Err(Error::Backend(airsync_model::BackendError::NotFound(_))) => {
            Ok(CollectionResponse::status_only(request, status::FOLDER_HIERARCHY_CHANGED).into())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paging_chain_prunes_its_keys_now_and_then_and_at_its_end() {
        // The last window of a chain, or any Sync that is not paging, prunes.
        assert_eq!(keep_from(5, false), Some(5));
        // While paging, only every PRUNE_EVERY keys.
        let pruned: Vec<i64> = (1..=24).filter_map(|k| keep_from(k, true)).collect();
        assert_eq!(pruned, [8, 16, 24]);
    }
}
