//! Calendar, Tasks and Contacts collections: a CalDAV/CardDAV collection seen as EAS
//! items `"{CollectionId}:{item}"`, where the item number stands for an href
//! (`state/dav.rs`). The snapshot's cursor is the collection's sync-token; an item's
//! signature is its ETag's.

use std::collections::HashMap;
use std::sync::Arc;

use airsync_model::{BackendError, DavObject, DavStore};

use crate::eas::sync::{
    ClientCommand, CollectionRequest, CollectionResponse, ItemResponse, ServerCommand, SyncOptions,
    status,
};
use crate::error::Error;
use crate::mapping::folders::PimClass;
use crate::mapping::pim::ConvertError;
use crate::mapping::{calendar, tasks};
use crate::wbxml::Element;

use super::plan::{self, Op};
use super::prefetch;
use super::snapshot::{Item, Snapshot, Upstream};
use crate::commands::RequestContext;

/// One PIM folder as a Sync sees it.
pub struct PimFolder<'a> {
    pub folder_id: i64,
    pub class: PimClass,
    /// The DAV collection.
    pub href: &'a str,
}

impl PimFolder<'_> {
    fn dav<'c>(&self, ctx: &'c RequestContext<'_>) -> Result<&'c dyn DavStore, Error> {
        dav_for(ctx, self.class)
    }
}

/// The DAV upstream that holds a class: CardDAV for contacts, CalDAV for the rest.
pub fn dav_for<'c>(
    ctx: &'c RequestContext<'_>,
    class: PimClass,
) -> Result<&'c dyn DavStore, Error> {
    dav_handle(ctx, class).map(|dav| dav.as_ref())
}

/// [`dav_for`], as the shared handle (for work that outlives the request).
fn dav_handle<'c>(
    ctx: &'c RequestContext<'_>,
    class: PimClass,
) -> Result<&'c Arc<dyn DavStore>, Error> {
    let dav = match class {
        PimClass::Contacts => ctx.app.contacts.as_ref(),
        _ => ctx.app.calendars.as_ref(),
    };
    dav.ok_or_else(|| Error::Backend(BackendError::NotFound("no DAV upstream configured".into())))
}

/// The item's signature: its ETag (every upstream change gives a new one).
fn sig(etag: &str) -> u32 {
    // FNV-1a: stable across builds and processes, unlike std's hasher.
    etag.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Dates of items that are inside and outside a FilterType window.
const IN_WINDOW: i64 = i64::MAX;
const OUT_OF_WINDOW: i64 = i64::MIN;

pub async fn sync(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    folder: &PimFolder<'_>,
    window: usize,
) -> Result<super::Answer, Error> {
    let options = req.options.clone().unwrap_or_default();
    let mut answer = CollectionResponse::status_only(req, status::SUCCESS);
    answer.class = req.class.clone();
    if req.sync_key == "0" {
        return super::start(ctx, req, answer).await.map(Into::into);
    }
    let Some((key, mut snap, base)) = super::load(ctx, &req.collection_id, &req.sync_key).await?
    else {
        return Ok(CollectionResponse::status_only(req, status::INVALID_SYNC_KEY).into());
    };
    let loaded_cursor = snap.cursor.clone();
    let same_filter = options.filter_type.is_none_or(|f| f == snap.filter_type);
    snap.filter_type = options.filter_type.unwrap_or(snap.filter_type);
    let mut etags = if same_filter && paging(req, folder, &snap) {
        HashMap::new()
    } else {
        refresh(ctx, folder, &mut snap).await?
    };
    for command in &req.commands {
        let response = match command {
            ClientCommand::Add { client_id, data } => {
                client_add(ctx, req, folder, &mut snap, &mut etags, client_id, data).await?
            }
            ClientCommand::Change {
                server_id,
                data,
                instance_id,
            } => {
                let edit = match instance_id {
                    Some(i) => Edit::Instance(i, data),
                    None => Edit::Item(data),
                };
                client_change(
                    ctx, req, folder, &options, &mut snap, &mut etags, server_id, edit,
                )
                .await?
            }
            ClientCommand::Delete {
                server_id,
                instance_id: Some(i),
            } => {
                let edit = Edit::DeleteInstance(i);
                client_change(
                    ctx, req, folder, &options, &mut snap, &mut etags, server_id, edit,
                )
                .await?
            }
            ClientCommand::Delete {
                server_id,
                instance_id: None,
            } => client_delete(ctx, req, folder, &mut snap, server_id).await?,
            ClientCommand::Fetch { server_id } => {
                client_fetch(ctx, req, folder, &options, server_id).await?
            }
        };
        answer.responses.extend(response);
    }
    if req.get_changes.unwrap_or(true) {
        let cut = cutoff(folder.class, snap.filter_type);
        let p = plan::plan(&snap, cut, window);
        answer.more_available = p.more_available;
        let page = Page {
            key,
            next: p.more_available.then_some((cut, window)),
        };
        answer.commands =
            server_commands(ctx, req, folder, &options, &mut snap, &etags, &p.ops, page).await?;
    }
    super::finish(ctx, req, key, &loaded_cursor, (snap, base), None, answer).await
}

/// How long an upstream listing stays fresh enough for the next page of a chain.
const PAGE_FRESH_SECS: i64 = 30;

/// Whether this request only continues a paging chain (MoreAvailable) over an upstream
/// read moments ago: no client commands, items still to deliver, and a refresh less than
/// [`PAGE_FRESH_SECS`] old. Then the upstream is not read again. A sync-collection REPORT
/// costs Radicale time in proportion to the collection (about 0.3 s for 5,000 objects),
/// not to the changes, so re-reading it for every window of an initial sync made that
/// sync ten times slower than a plain DAV client. Changes made upstream meanwhile are
/// not lost: an object fetched for the window is sent as it is now, one deleted is not
/// offered, and the first request after the chain reads the upstream again.
fn paging(req: &CollectionRequest, folder: &PimFolder<'_>, snap: &Snapshot) -> bool {
    req.commands.is_empty()
        && crate::state::now().saturating_sub(snap.refreshed) < PAGE_FRESH_SECS
        && plan::estimate(snap, cutoff(folder.class, snap.filter_type)) > 0
}

/// Only calendars know a date window; tasks (FilterType 8, incomplete only) and
/// contacts are synced whole.
fn cutoff(class: PimClass, filter_type: u8) -> Option<i64> {
    match class {
        PimClass::Calendar => plan::cutoff(filter_type, crate::state::now()).map(|_| 0),
        _ => None,
    }
}

/// How many server commands a GetItemEstimate would announce.
pub async fn estimate(
    ctx: &RequestContext<'_>,
    cid: &str,
    folder: &PimFolder<'_>,
    sync_key: &str,
    filter_type: Option<u8>,
) -> Result<Result<usize, u16>, Error> {
    use crate::eas::item_estimate::status as est;
    if sync_key == "0" {
        return Ok(Err(est::NOT_PRIMED));
    }
    let Some((_, mut snap, _)) = super::load(ctx, cid, sync_key).await? else {
        return Ok(Err(est::INVALID_SYNC_KEY));
    };
    if let Some(f) = filter_type {
        snap.filter_type = f;
    }
    refresh(ctx, folder, &mut snap).await?;
    Ok(Ok(plan::estimate(
        &snap,
        cutoff(folder.class, snap.filter_type),
    )))
}

/// Brings the upstream side of the snapshot up to date: the sync-collection delta when
/// the server offers one (the first one, from an empty token, lists every member), else
/// the full ETag listing. With a calendar FilterType, one calendar-query with a time
/// range decides which events (recurring series included) are inside the window.
/// Returns item → (href, etag) for what it saw.
async fn refresh(
    ctx: &RequestContext<'_>,
    folder: &PimFolder<'_>,
    snap: &mut Snapshot,
) -> Result<HashMap<u64, (String, String)>, Error> {
    let dav = folder.dav(ctx)?;
    let creds = &ctx.principal.credentials;
    let store = &ctx.app.store;
    let mut seen: HashMap<u64, (String, String)> = HashMap::new();
    // RFC 6578 3.8: with no token yet, a sync-collection with an empty one lists every
    // member and gives the first token. Radicale answers it several times faster than
    // the Depth-1 PROPFIND of the same members (1.7 s against 8-17 s for 5,000).
    let full = snap.cursor.is_empty();
    let (changed, removed, token) = match dav.changes(creds, folder.href, &snap.cursor).await? {
        Some(d) => {
            if full {
                for item in snap.items.values_mut() {
                    item.upstream = None;
                }
            }
            (d.changed, d.removed, Some(d.sync_token))
        }
        None => {
            let listing = dav.list(creds, folder.href).await?;
            for item in snap.items.values_mut() {
                item.upstream = None;
            }
            (listing.members, Vec::new(), listing.sync_token)
        }
    };
    let mut hrefs: Vec<String> = changed.iter().map(|(h, _)| h.clone()).collect();
    hrefs.extend(removed.iter().cloned());
    let ids = store
        .dav_item_ids(ctx.login(), folder.folder_id, &hrefs)
        .await?;
    for (href, etag) in changed {
        let id = ids[&href];
        snap.items.entry(id).or_default().upstream = Some(Upstream {
            sig: sig(&etag),
            date: IN_WINDOW,
        });
        seen.insert(id, (href, etag));
    }
    for href in removed {
        if let Some(item) = snap.items.get_mut(&ids[&href]) {
            item.upstream = None;
        }
    }
    snap.cursor = token.unwrap_or_default();
    snap.refreshed = crate::state::now();
    // MS-ASCMD 2.2.3.69.2: a calendar FilterType keeps events that overlap the window,
    // recurring ones by any of their instances (the server's time-range query).
    if let (PimClass::Calendar, Some(start)) = (
        folder.class,
        plan::cutoff(snap.filter_type, crate::state::now()),
    ) {
        let inside = dav
            .time_range(creds, folder.href, "VEVENT", start, None)
            .await?;
        let inside_hrefs: Vec<String> = inside.into_iter().map(|(h, _)| h).collect();
        let inside_ids = store
            .dav_item_ids(ctx.login(), folder.folder_id, &inside_hrefs)
            .await?;
        let inside: std::collections::HashSet<u64> =
            inside_hrefs.iter().map(|h| inside_ids[h]).collect();
        for (id, item) in snap.items.iter_mut() {
            if let Some(up) = item.upstream.as_mut() {
                up.date = if inside.contains(id) {
                    IN_WINDOW
                } else {
                    OUT_OF_WINDOW
                };
            }
        }
    }
    snap.items
        .retain(|_, i| i.device.is_some() || i.upstream.is_some());
    Ok(seen)
}

/// `"{cid}:{n}"` → the item number, if the ServerId belongs to this collection.
fn item_of(cid: &str, server_id: &str) -> Option<u64> {
    let (folder, n) = server_id.split_once(':')?;
    if folder != cid || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

fn calendar_options(ctx: &RequestContext<'_>, options: &SyncOptions) -> calendar::CalendarOptions {
    let mut o = calendar::CalendarOptions::new(ctx.version);
    o.body_preferences = options.body_preferences.clone();
    o.user_emails = vec![ctx.login().to_string()];
    o
}

/// Upstream object → ApplicationData.
fn to_eas(
    ctx: &RequestContext<'_>,
    class: PimClass,
    options: &SyncOptions,
    data: &[u8],
) -> Result<Element, ConvertError> {
    match class {
        PimClass::Calendar => calendar::event_to_eas(data, &calendar_options(ctx, options)),
        PimClass::Tasks => tasks::task_to_eas(data, &calendar_options(ctx, options)),
        PimClass::Contacts => {
            crate::mapping::contacts::contact_to_eas(data, &contact_options(ctx, options))
        }
    }
}

/// ApplicationData (and the upstream object it changes) → the new upstream object.
fn from_eas(
    ctx: &RequestContext<'_>,
    class: PimClass,
    options: &SyncOptions,
    data: &Element,
    existing: Option<&[u8]>,
) -> Result<Vec<u8>, ConvertError> {
    match class {
        PimClass::Calendar => {
            calendar::eas_to_event(data, existing, &calendar_options(ctx, options))
        }
        PimClass::Tasks => tasks::eas_to_task(data, existing, &calendar_options(ctx, options)),
        PimClass::Contacts => {
            crate::mapping::contacts::eas_to_contact(data, existing, &contact_options(ctx, options))
        }
    }
}

fn contact_options(
    ctx: &RequestContext<'_>,
    options: &SyncOptions,
) -> crate::mapping::contacts::ContactOptions {
    crate::mapping::contacts::ContactOptions {
        version: ctx.version,
        body_preferences: options.body_preferences.clone(),
        picture_max_bytes: ctx.app.settings.limits.max_contact_picture_bytes,
    }
}

fn media(class: PimClass) -> (&'static str, &'static str) {
    match class {
        PimClass::Contacts => ("text/vcard; charset=utf-8", "vcf"),
        _ => ("text/calendar; charset=utf-8", "ics"),
    }
}

/// The resource name (last path segment) of an href.
fn resource_name(href: &str) -> &str {
    href.rsplit('/').next().unwrap_or(href)
}

/// The href of item `id` of `folder` in the account's map.
async fn href_of(
    ctx: &RequestContext<'_>,
    folder: &PimFolder<'_>,
    id: u64,
) -> Result<Option<String>, Error> {
    Ok(ctx
        .app
        .store
        .dav_href(ctx.login(), folder.folder_id, id)
        .await?)
}

/// The object a device's ServerId names in `folder` (CollectionId `cid`). The id is
/// untrusted: it is looked up only in this account's map of this folder. `None` when
/// it is not an id of this folder or the object is gone.
pub async fn object_by_server_id(
    ctx: &RequestContext<'_>,
    folder: &PimFolder<'_>,
    cid: &str,
    server_id: &str,
) -> Result<Option<DavObject>, Error> {
    let Some(id) = item_of(cid, server_id) else {
        return Ok(None);
    };
    let Some(href) = href_of(ctx, folder, id).await? else {
        return Ok(None);
    };
    fetch_one(ctx, folder, &href).await
}

async fn fetch_one(
    ctx: &RequestContext<'_>,
    folder: &PimFolder<'_>,
    href: &str,
) -> Result<Option<DavObject>, Error> {
    let objects = folder
        .dav(ctx)?
        .fetch(&ctx.principal.credentials, folder.href, &[href.to_string()])
        .await?;
    Ok(objects.into_iter().next())
}

/// Where a Sync's window sits in its chain: the key it answers, and, when MoreAvailable,
/// the cut-off and WindowSize of the next window (which is then read ahead).
struct Page {
    key: i64,
    next: Option<(Option<i64>, usize)>,
}

/// Where the read-ahead for the window the device asks for with `sync_key` is kept.
fn read_ahead_key(ctx: &RequestContext<'_>, cid: &str, sync_key: i64) -> prefetch::Key {
    prefetch::Key {
        login: ctx.login().to_string(),
        device: ctx.device_id().to_string(),
        collection: cid.to_string(),
        sync_key,
        uidvalidity: 0,
    }
}

#[allow(clippy::too_many_arguments)]
async fn server_commands(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    folder: &PimFolder<'_>,
    options: &SyncOptions,
    snap: &mut Snapshot,
    etags: &HashMap<u64, (String, String)>,
    ops: &[Op],
    page: Page,
) -> Result<Vec<ServerCommand>, Error> {
    let cid = &req.collection_id;
    let store = &ctx.app.store;
    // Adds and Changes both carry the whole item: fetch them in one multiget.
    let fetched: Vec<u64> = ops
        .iter()
        .filter(|op| matches!(op, Op::Add(_) | Op::Change(_)))
        .map(|op| op.key())
        .collect();
    // Items this request did not see upstream (a page of a chain): their hrefs in one query.
    let known = if fetched.iter().all(|id| etags.contains_key(id)) {
        Arc::default()
    } else {
        store
            .dav_hrefs_of(ctx.login(), folder.folder_id, &fetched)
            .await?
    };
    let href_of = |id: &u64| etags.get(id).map(|(h, _)| h).or_else(|| known.get(id));
    let mut hrefs = HashMap::new();
    for id in fetched {
        if let Some(h) = href_of(&id) {
            hrefs.insert(h.clone(), id);
        }
    }
    let mut wanted: Vec<String> = hrefs.keys().cloned().collect();
    wanted.sort();
    let mut objects: HashMap<u64, DavObject> = HashMap::new();
    if !wanted.is_empty() {
        for o in ctx
            .app
            .prefetch
            .take_dav(
                read_ahead_key(ctx, cid, page.key),
                folder.dav(ctx)?,
                &ctx.principal.credentials,
                folder.href,
                &wanted,
            )
            .await?
        {
            if let Some(id) = hrefs.get(&o.href) {
                objects.insert(*id, o);
            }
        }
    }
    let mut commands = Vec::with_capacity(ops.len());
    for &op in ops {
        let id = op.key();
        let server_id = format!("{cid}:{id}");
        match op {
            Op::Add(_) | Op::Change(_) => {
                let Some(object) = objects.get(&id) else {
                    // Gone since the delta: not offered.
                    if let Some(item) = snap.items.get_mut(&id) {
                        item.upstream = None;
                    }
                    continue;
                };
                if let Some(item) = snap.items.get_mut(&id)
                    && let Some(up) = item.upstream.as_mut()
                {
                    up.sig = sig(&object.etag);
                }
                match to_eas(ctx, folder.class, options, &object.data) {
                    Ok(data) if matches!(op, Op::Add(_)) => commands.push(ServerCommand::Add {
                        server_id,
                        data: data.into(),
                    }),
                    Ok(data) => commands.push(ServerCommand::Change { server_id, data }),
                    Err(e) => {
                        // One object that cannot be converted must not block its folder:
                        // it is recorded as delivered and left out.
                        tracing::warn!(target: "airsync", %server_id, error = %e, "object could not be converted");
                    }
                }
            }
            Op::Delete(_) => commands.push(ServerCommand::Delete { server_id }),
            Op::SoftDelete(_) => commands.push(ServerCommand::SoftDelete { server_id }),
        }
        plan::applied(snap, op);
    }
    if let Some((cut, window)) = page.next {
        // Read the next window ahead while the phone reads this one.
        let mut next: Vec<String> = plan::plan(snap, cut, window)
            .ops
            .iter()
            .filter(|op| matches!(op, Op::Add(_) | Op::Change(_)))
            .filter_map(|op| href_of(&op.key()).cloned())
            .collect();
        next.sort();
        ctx.app.prefetch.start_dav(
            read_ahead_key(ctx, cid, page.key + 1),
            dav_handle(ctx, folder.class)?.clone(),
            ctx.principal.credentials.clone(),
            folder.href.to_string(),
            next,
        );
    }
    Ok(commands)
}

async fn client_add(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    folder: &PimFolder<'_>,
    snap: &mut Snapshot,
    etags: &mut HashMap<u64, (String, String)>,
    client_id: &str,
    data: &Element,
) -> Result<Option<ItemResponse>, Error> {
    let (store, cid) = (&ctx.app.store, req.collection_id.as_str());
    let respond = |server_id: Option<String>, status| {
        Some(ItemResponse::Add {
            client_id: client_id.to_string(),
            server_id,
            status,
        })
    };
    if let Some(existing) = store
        .client_add(ctx.login(), ctx.device_id(), cid, client_id)
        .await?
    {
        // A repeated Add: the same ServerId, and the item is not sent back as new.
        if let Some(id) = item_of(cid, &existing)
            && let Some(item) = snap.items.get_mut(&id)
        {
            item.device = item.upstream.map(|u| u.sig);
        }
        return Ok(respond(Some(existing), status::SUCCESS));
    }
    let options = req.options.clone().unwrap_or_default();
    let Ok(object) = from_eas(ctx, folder.class, &options, data, None) else {
        return Ok(respond(None, status::CONVERSION_ERROR));
    };
    let (content_type, extension) = media(folder.class);
    let name = format!(
        "{:016x}{:016x}.{extension}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    let (href, etag) = folder
        .dav(ctx)?
        .put(
            &ctx.principal.credentials,
            folder.href,
            &name,
            &object,
            content_type,
            None,
        )
        .await?;
    let id = store
        .dav_item_ids(ctx.login(), folder.folder_id, std::slice::from_ref(&href))
        .await?[&href];
    let server_id = format!("{cid}:{id}");
    store
        .record_client_add(ctx.login(), ctx.device_id(), cid, client_id, &server_id)
        .await?;
    let up = Upstream {
        sig: sig(&etag),
        date: IN_WINDOW,
    };
    snap.items.insert(
        id,
        Item {
            device: Some(up.sig),
            upstream: Some(up),
            stale: false,
        },
    );
    etags.insert(id, (href, etag));
    Ok(respond(Some(server_id), status::SUCCESS))
}

/// What a client Change (or a 16.x Delete of one occurrence) does to an upstream object.
#[derive(Clone, Copy)]
enum Edit<'a> {
    /// The item's fields (and, before 16.0, its Exceptions).
    Item(&'a Element),
    /// 16.x: one occurrence's fields, by its InstanceId: a RECURRENCE-ID override.
    Instance(&'a str, &'a Element),
    /// 16.x: one occurrence deleted, by its InstanceId: an EXDATE.
    DeleteInstance(&'a str),
}

impl Edit<'_> {
    /// The new upstream object from the current one.
    fn apply(
        self,
        ctx: &RequestContext<'_>,
        class: PimClass,
        options: &SyncOptions,
        current: &[u8],
    ) -> Result<Vec<u8>, ConvertError> {
        let opts = || calendar_options(ctx, options);
        match (self, class) {
            (Edit::Item(data), _) => from_eas(ctx, class, options, data, Some(current)),
            (Edit::Instance(i, data), PimClass::Calendar) => {
                calendar::eas_instance_change(data, i, current, &opts())
            }
            (Edit::DeleteInstance(i), PimClass::Calendar) => {
                calendar::eas_instance_delete(i, current, &opts())
            }
            // MS-ASAIRS 2.2.2.25: InstanceId exists for calendar items only.
            _ => Err(ConvertError::BadValue("InstanceId")),
        }
    }

    /// The answer to a failed edit: a Change's status, or a Delete's.
    fn failed(self, server_id: &str, status: u16) -> Option<ItemResponse> {
        let server_id = server_id.to_string();
        Some(match self {
            Edit::DeleteInstance(_) => ItemResponse::Delete { server_id, status },
            _ => ItemResponse::Change { server_id, status },
        })
    }
}

#[allow(clippy::too_many_arguments)]
async fn client_change(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    folder: &PimFolder<'_>,
    options: &SyncOptions,
    snap: &mut Snapshot,
    etags: &mut HashMap<u64, (String, String)>,
    server_id: &str,
    edit: Edit<'_>,
) -> Result<Option<ItemResponse>, Error> {
    let failed = |status| edit.failed(server_id, status);
    let Some(id) = item_of(&req.collection_id, server_id) else {
        return Ok(failed(status::OBJECT_NOT_FOUND));
    };
    let Some(Item {
        device: Some(device_sig),
        upstream: Some(upstream),
        ..
    }) = snap.items.get(&id).copied()
    else {
        return Ok(failed(status::OBJECT_NOT_FOUND));
    };
    let server_wins = options.conflict.unwrap_or(1) == 1;
    if server_wins && upstream.sig != device_sig {
        // MS-ASCMD 2.2.3.34: changed on both sides, the server's version wins and is
        // sent to the device as a Change.
        return Ok(None);
    }
    let Some(href) = href_of(ctx, folder, id).await? else {
        return Ok(failed(status::OBJECT_NOT_FOUND));
    };
    let dav = folder.dav(ctx)?;
    let (content_type, _) = media(folder.class);
    // Lossless: the device's fields are written into the upstream object as it is now.
    for _attempt in 0..2 {
        let Some(current) = fetch_one(ctx, folder, &href).await? else {
            return Ok(failed(status::OBJECT_NOT_FOUND));
        };
        let Ok(object) = edit.apply(ctx, folder.class, options, &current.data) else {
            return Ok(failed(status::CONVERSION_ERROR));
        };
        match dav
            .put(
                &ctx.principal.credentials,
                folder.href,
                resource_name(&href),
                &object,
                content_type,
                Some(&current.etag),
            )
            .await
        {
            Ok((href, etag)) => {
                let up = Upstream {
                    sig: sig(&etag),
                    date: upstream.date,
                };
                snap.items.insert(
                    id,
                    Item {
                        device: Some(up.sig),
                        upstream: Some(up),
                        stale: false,
                    },
                );
                etags.insert(id, (href, etag));
                return Ok(None);
            }
            // Changed upstream between our read and our write.
            Err(BackendError::Conflict(_)) if !server_wins => continue,
            Err(BackendError::Conflict(_)) => return Ok(failed(status::CONFLICT)),
            Err(BackendError::NotFound(_)) => return Ok(failed(status::OBJECT_NOT_FOUND)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(failed(status::CONFLICT))
}

async fn client_delete(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    folder: &PimFolder<'_>,
    snap: &mut Snapshot,
    server_id: &str,
) -> Result<Option<ItemResponse>, Error> {
    let not_found = || {
        Some(ItemResponse::Delete {
            server_id: server_id.to_string(),
            status: status::OBJECT_NOT_FOUND,
        })
    };
    let Some(id) = item_of(&req.collection_id, server_id) else {
        return Ok(not_found());
    };
    if snap.items.get(&id).and_then(|i| i.device).is_none() {
        return Ok(not_found());
    }
    if let Some(href) = href_of(ctx, folder, id).await? {
        match folder
            .dav(ctx)?
            .delete(&ctx.principal.credentials, &href, None)
            .await
        {
            Ok(()) | Err(BackendError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    snap.items.remove(&id);
    Ok(None)
}

async fn client_fetch(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    folder: &PimFolder<'_>,
    options: &SyncOptions,
    server_id: &str,
) -> Result<Option<ItemResponse>, Error> {
    let not_found = || {
        Some(ItemResponse::Fetch {
            server_id: server_id.to_string(),
            status: status::OBJECT_NOT_FOUND,
            data: None,
        })
    };
    let Some(object) = object_by_server_id(ctx, folder, &req.collection_id, server_id).await?
    else {
        return Ok(not_found());
    };
    Ok(Some(
        match to_eas(ctx, folder.class, options, &object.data) {
            Ok(data) => ItemResponse::Fetch {
                server_id: server_id.to_string(),
                status: status::SUCCESS,
                data: Some(data),
            },
            Err(_) => ItemResponse::Fetch {
                server_id: server_id.to_string(),
                status: status::CONVERSION_ERROR,
                data: None,
            },
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_signatures() {
        assert_eq!(item_of("7", "7:12"), Some(12));
        for forged in ["8:12", "7:", "7:a", "7:1:2", "12"] {
            assert_eq!(item_of("7", forged), None, "{forged}");
        }
        assert_ne!(sig("\"a\""), sig("\"b\""));
        assert_eq!(sig("\"abc\""), sig("\"abc\""));
        assert_eq!(resource_name("/u/calendar/x.ics"), "x.ics");
    }
}
