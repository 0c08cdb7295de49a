//! Email collections: an IMAP mailbox seen as EAS items `"{CollectionId}:{UID}"`.

use std::collections::HashMap;

use airsync_model::{BackendError, FetchedMessage, MessageMeta, Uid};

use crate::eas::ProtocolVersion;
use crate::eas::sync::{
    ClientCommand, CollectionRequest, CollectionResponse, ItemResponse, ServerCommand, SyncOptions,
    status,
};
use crate::error::Error;
use crate::mapping::email::{self, ConvertOptions};
use crate::mapping::folders::{self, FolderView};
use crate::wbxml::{Element, Node};

use super::plan::{self, Op};
use super::snapshot::{Item, Snapshot, Upstream};
use super::window::{Conversion, Prepared, Reader};
use crate::commands::RequestContext;

/// Syncs one mail collection (see the module docs of `commands::sync`).
/// What the user may do in a mailbox (RFC 4314 rights; only aliased mailboxes of other
/// accounts are ever restricted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// 's' and 'w': change \Seen and other flags.
    pub change: bool,
    /// 't' and 'e': delete and expunge messages.
    pub delete: bool,
    /// 'i': add messages.
    pub add: bool,
}

impl Access {
    pub const FULL: Access = Access {
        change: true,
        delete: true,
        add: true,
    };

    pub fn from_rights(rights: Option<&str>) -> Access {
        let Some(r) = rights else { return Access::FULL };
        let has = |c| r.contains(c);
        Access {
            change: has('s') && has('w'),
            delete: has('t') && has('e'),
            add: has('i'),
        }
    }

    /// The user's rights on `mailbox`, asked upstream.
    pub async fn of(ctx: &RequestContext<'_>, mailbox: &str) -> Result<Access, Error> {
        let rights = ctx
            .app
            .mail
            .my_rights(&ctx.principal.credentials, mailbox)
            .await?;
        Ok(Access::from_rights(rights.as_deref()))
    }
}

pub async fn sync(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    req: &CollectionRequest,
    mailbox: &str,
    access: Access,
    window: usize,
) -> Result<super::Answer, Error> {
    let cid = req.collection_id.as_str();
    let options = req.options.clone().unwrap_or_default();
    let mut answer = CollectionResponse::status_only(req, status::SUCCESS);
    answer.class = req.class.clone();

    if req.sync_key == "0" {
        return super::start(ctx, req, answer).await.map(Into::into);
    }
    let Some((key, mut snap, mut base)) = super::load(ctx, cid, &req.sync_key).await? else {
        return Ok(CollectionResponse::status_only(req, status::INVALID_SYNC_KEY).into());
    };
    let loaded_cursor = snap.cursor.clone();
    let filter_type = options.filter_type.unwrap_or(snap.filter_type);
    snap.filter_type = filter_type;

    let started = std::time::Instant::now();
    // Within a long initial sync the device asks for window after window; the delta
    // read for the previous one is moments old, so a request without client commands
    // skips it (prefetch.rs, FRESH_FOR).
    let skip_delta = req.commands.is_empty()
        && ctx
            .app
            .prefetch
            .take_fresh(&read_ahead_key(ctx, cid, key, &snap))
            .await;
    let reader = reader(ctx, cid, mailbox, &options);
    // An initial sync lists the whole mailbox before it knows its first window; the
    // newest messages, which that window will most likely hold, are read meanwhile on a
    // second connection (a guess that misses only costs the read).
    let first_listing = !skip_delta && snap.items.is_empty() && snap.cursor.is_empty();
    let guess = first_listing && req.commands.is_empty() && req.get_changes.unwrap_or(true);
    let (mut metas, newest) = if skip_delta {
        (HashMap::new(), Vec::new())
    } else if guess {
        let (listed, newest) =
            tokio::join!(refresh(ctx, mailbox, &mut snap), read_last(&reader, window));
        let listed = listed?;
        let uidvalidity = parse_cursor(&snap.cursor).map(|(uv, _)| uv);
        let newest = match newest {
            Ok((uv, newest)) if Some(uv) == uidvalidity => newest,
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::debug!(target: "airsync", error = %e, "reading the newest messages ahead failed");
                Vec::new()
            }
        };
        (listed, newest)
    } else {
        (refresh(ctx, mailbox, &mut snap).await?, Vec::new())
    };
    let refreshed = started.elapsed();
    let mut trash: Option<Option<String>> = None;
    for command in &req.commands {
        if let Some(refused) = refuse(command, access, &mut snap, cid) {
            answer.responses.push(refused);
            continue;
        }
        let response = match command {
            ClientCommand::Change {
                server_id, data, ..
            } => {
                client_change(
                    ctx, req, mailbox, &options, &mut snap, &mut metas, server_id, data,
                )
                .await?
            }
            ClientCommand::Delete { server_id, .. } => {
                if trash.is_none() {
                    trash = Some(trash_mailbox(ctx).await?);
                }
                let target = trash
                    .clone()
                    .flatten()
                    .filter(|t| t != mailbox && req.deletes_as_moves.unwrap_or(true));
                client_delete(ctx, cid, mailbox, target.as_deref(), &mut snap, server_id).await?
            }
            ClientCommand::Add { client_id, data } => {
                client_add(ctx, cid, mailbox, &mut snap, client_id, data).await?
            }
            ClientCommand::Fetch { server_id } => {
                client_fetch(ctx, cid, mailbox, &options, server_id).await?
            }
        };
        answer.responses.extend(response);
    }
    if !req.commands.is_empty() {
        // The device's own STOREs and MOVEs raised HIGHESTMODSEQ: read them back now,
        // so that the cursor the device keeps includes them and a Ping does not wake
        // it for its own change. Changes made by others meanwhile are found too.
        metas.extend(refresh(ctx, mailbox, &mut snap).await?);
    }

    // A window of a paging chain changes the snapshot in the items it sends alone: its
    // plan comes from the chain's queue, and its difference from those items.
    let in_chain = skip_delta && req.commands.is_empty();
    let mut touched: Option<Vec<u64>> = in_chain.then(Vec::new);
    let cutoff = || plan::cutoff(filter_type, crate::state::now());
    let kept = base.queue.take();
    let queue = match kept.filter(|q| in_chain && q.filter_type == filter_type) {
        Some(queue) => Some(queue),
        None if in_chain => plan::Queue::of(&snap, filter_type, cutoff()),
        None => None,
    };
    if req.get_changes.unwrap_or(true) {
        let (plan, ahead) = match queue {
            Some(mut queue) => {
                let next = queue.next(window, 2 * window);
                debug_assert_eq!(
                    next,
                    plan::plan_ahead(&snap, queue.cutoff, window, 2 * window)
                );
                base.queue = Some(queue);
                next
            }
            None => plan::plan_ahead(&snap, cutoff(), window, 2 * window),
        };
        if let Some(touched) = &mut touched {
            touched.extend(plan.ops.iter().map(|op| op.key()));
        }
        answer.more_available = plan.more_available;
        answer.commands = server_commands(
            ctx, view, cid, key, &reader, &mut snap, &mut metas, &plan.ops, newest,
        )
        .await?;
        if answer.more_available {
            // Read the next two windows ahead while the phone reads this one: its next
            // request finds its window ready, and the one after that is being read
            // meanwhile (reading and converting a window takes longer than the phone's
            // turn). The operations planned after this window are the next window
            // followed by the one after it (plan.rs orders all pending operations once).
            // A window already being read — the second one of the previous request — is
            // left alone.
            for (i, ops) in ahead.chunks(window).enumerate() {
                let wanted = dated_adds(ops, &snap);
                let ahead_key = read_ahead_key(ctx, cid, key + 1 + i as i64, &snap);
                if i == 0 {
                    ctx.app.prefetch.mark_fresh(ahead_key.clone()).await;
                }
                ctx.app.prefetch.start(ahead_key, reader.clone(), wanted);
            }
        }
    }
    tracing::debug!(target: "airsync", collection = cid, items = snap.items.len(), sent = answer.commands.len(),
        refresh_ms = refreshed.as_millis() as u64, total_ms = started.elapsed().as_millis() as u64, "mail sync");

    let touched = touched.as_deref();
    super::finish(ctx, req, key, &loaded_cursor, (snap, base), touched, answer).await
}

/// [`Reader::read_last`] as a task of its own: the listing it runs beside is read and
/// parsed on this request's task, and the two then use both cores. A task that fails
/// to run is a failed read (the guess only saves time).
async fn read_last(reader: &Reader, window: usize) -> Result<(u32, Vec<Prepared>), BackendError> {
    let reader = reader.clone();
    tokio::spawn(async move { reader.read_last(window).await })
        .await
        .unwrap_or_else(|e| Err(BackendError::Transient(e.to_string())))
}

/// How many server commands the device would get (GetItemEstimate), without changing
/// any state. `Err(status)` with the GetItemEstimate status when the key is unusable.
pub async fn estimate(
    ctx: &RequestContext<'_>,
    cid: &str,
    mailbox: &str,
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
    refresh(ctx, mailbox, &mut snap).await?;
    let cutoff = plan::cutoff(filter_type.unwrap_or(snap.filter_type), crate::state::now());
    Ok(Ok(plan::estimate(&snap, cutoff)))
}

/// The device moved an item itself (MoveItems): every stored snapshot of the device
/// forgets it in the source collection and, where the new copy is known, holds it in
/// the destination, so that neither Sync echoes the move back.
pub async fn record_device_move(
    ctx: &RequestContext<'_>,
    source: (&str, Uid),
    destination: Option<(&str, &MessageMeta)>,
) -> Result<(), Error> {
    super::rewrite_snapshots(ctx, source.0, |snap| {
        snap.items.remove(&u64::from(source.1)).is_some()
    })
    .await?;
    if let Some((cid, meta)) = destination {
        let up = upstream_of(meta);
        super::rewrite_snapshots(ctx, cid, |snap| {
            snap.items.insert(
                u64::from(meta.uid),
                Item {
                    device: Some(up.sig),
                    upstream: Some(up),
                    stale: false,
                },
            );
            true
        })
        .await?;
    }
    Ok(())
}

/// The always-empty Outbox: keys advance like any collection, but it has no items.
pub async fn sync_outbox(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
) -> Result<CollectionResponse, Error> {
    let mut answer = CollectionResponse::status_only(req, status::SUCCESS);
    answer.class = req.class.clone();
    if req.sync_key == "0" {
        return super::start(ctx, req, answer).await;
    }
    if super::load(ctx, &req.collection_id, &req.sync_key)
        .await?
        .is_none()
    {
        return Ok(CollectionResponse::status_only(
            req,
            status::INVALID_SYNC_KEY,
        ));
    }
    Ok(answer)
}

/// A client command the user's rights do not allow (a read-only alias): answered with
/// Status 7 — the server's version wins — and the device's copy is put back: a refused
/// Change is followed by a server Change with the true state, a refused Delete by a
/// new Add of the item.
fn refuse(
    command: &ClientCommand,
    access: Access,
    snap: &mut Snapshot,
    cid: &str,
) -> Option<ItemResponse> {
    match command {
        ClientCommand::Change { server_id, .. } if !access.change => {
            if let Some(item) =
                uid_of(cid, server_id).and_then(|u| snap.items.get_mut(&u64::from(u)))
                && let (Some(_), Some(up)) = (item.device, item.upstream)
            {
                item.device = Some(!up.sig);
            }
            Some(ItemResponse::Change {
                server_id: server_id.clone(),
                status: status::CONFLICT,
            })
        }
        ClientCommand::Delete { server_id, .. } if !access.delete => {
            if let Some(item) =
                uid_of(cid, server_id).and_then(|u| snap.items.get_mut(&u64::from(u)))
            {
                item.device = None;
            }
            Some(ItemResponse::Delete {
                server_id: server_id.clone(),
                status: status::CONFLICT,
            })
        }
        ClientCommand::Add { client_id, .. } if !access.add => Some(ItemResponse::Add {
            client_id: client_id.clone(),
            server_id: None,
            status: status::CONFLICT,
        }),
        _ => None,
    }
}

fn cursor_of(uidvalidity: u32, modseq: Option<u64>) -> String {
    format!("{uidvalidity}:{}", modseq.unwrap_or(0))
}

fn parse_cursor(cursor: &str) -> Option<(u32, u64)> {
    let (uv, ms) = cursor.split_once(':')?;
    Some((uv.parse().ok()?, ms.parse().ok()?))
}

fn upstream_of(m: &MessageMeta) -> Upstream {
    Upstream {
        sig: email::visible_flags_signature(&m.flags),
        date: m.internal_date,
    }
}

/// Brings the upstream side of the snapshot up to date: the QRESYNC delta when the
/// server has one (O(changes)), else a full comparison. A changed UIDVALIDITY marks
/// every device copy stale: they are deleted, then the mailbox is offered anew.
/// Returns what it learned of each message it saw.
async fn refresh(
    ctx: &RequestContext<'_>,
    mailbox: &str,
    snap: &mut Snapshot,
) -> Result<HashMap<Uid, MessageMeta>, Error> {
    let creds = &ctx.principal.credentials;
    let mail = &ctx.app.mail;
    let mut metas = HashMap::new();
    let known = parse_cursor(&snap.cursor);
    if let Some((uidvalidity, modseq)) = known.filter(|(_, m)| *m > 0)
        && let Some(delta) = mail
            .changes_since(creds, mailbox, uidvalidity, modseq)
            .await?
    {
        for uid in delta.vanished {
            if let Some(item) = snap.items.get_mut(&u64::from(uid)) {
                item.upstream = None;
            }
        }
        for m in delta.changed {
            snap.items.entry(u64::from(m.uid)).or_default().upstream = Some(upstream_of(&m));
            metas.insert(m.uid, m);
        }
        snap.items
            .retain(|_, i| i.device.is_some() || i.upstream.is_some());
        snap.cursor = cursor_of(delta.status.uidvalidity, delta.status.highestmodseq);
        return Ok(metas);
    }
    let listing = mail.list_messages(creds, mailbox, None).await?;
    let new_epoch = known.is_some_and(|(uv, _)| uv != listing.status.uidvalidity);
    for item in snap.items.values_mut() {
        item.upstream = None;
        if new_epoch && item.device.is_some() {
            item.stale = true;
        }
    }
    for m in listing.messages {
        snap.items.entry(u64::from(m.uid)).or_default().upstream = Some(upstream_of(&m));
        metas.insert(m.uid, m);
    }
    snap.items
        .retain(|_, i| i.device.is_some() || i.upstream.is_some());
    snap.cursor = cursor_of(listing.status.uidvalidity, listing.status.highestmodseq);
    Ok(metas)
}

/// `"{cid}:{uid}"` → the UID, if the ServerId belongs to this collection.
pub fn uid_of(cid: &str, server_id: &str) -> Option<Uid> {
    let (folder, uid) = server_id.split_once(':')?;
    if folder != cid || uid.is_empty() || !uid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    uid.parse().ok()
}

pub fn server_id(cid: &str, uid: Uid) -> String {
    format!("{cid}:{uid}")
}

/// MS-ASCMD 2.2.3.109: the MIMETruncation enumeration in bytes (None: no limit).
fn mime_truncation_bytes(value: Option<u8>) -> Option<u32> {
    match value? {
        0 => Some(0),
        1 => Some(4096),
        2 => Some(5120),
        3 => Some(7168),
        4 => Some(10240),
        5 => Some(20480),
        6 => Some(51200),
        7 => Some(102_400),
        _ => None,
    }
}

/// Flags, dates and sizes of some messages.
pub async fn fetch_meta(
    ctx: &RequestContext<'_>,
    mailbox: &str,
    uids: &[Uid],
) -> Result<Vec<MessageMeta>, Error> {
    Ok(ctx
        .app
        .mail
        .fetch_meta(&ctx.principal.credentials, mailbox, uids)
        .await?)
}

pub fn convert_options(
    version: ProtocolVersion,
    options: &SyncOptions,
    server_id: String,
) -> ConvertOptions {
    ConvertOptions {
        version,
        body_preferences: options.body_preferences.clone(),
        mime_support: options.mime_support.unwrap_or(0),
        mime_truncation: mime_truncation_bytes(options.mime_truncation),
        server_id,
    }
}

/// The ApplicationData of a whole message. A message that cannot be converted still
/// reaches the device, as a stub, rather than blocking its folder.
pub fn application_data(
    version: ProtocolVersion,
    options: &SyncOptions,
    sid: &str,
    message: &FetchedMessage,
) -> Element {
    let data = email::to_application_data(
        &message.raw,
        &message.meta,
        &convert_options(version, options, sid.to_string()),
    );
    super::window::data_or_stub(data, sid, &message.meta)
}

/// Reads this Sync's windows of `mailbox` (see `window.rs`).
fn reader(ctx: &RequestContext<'_>, cid: &str, mailbox: &str, options: &SyncOptions) -> Reader {
    Reader {
        mail: ctx.app.mail.clone(),
        creds: ctx.principal.credentials.clone(),
        mailbox: mailbox.to_string(),
        collection_id: cid.to_string(),
        conversion: std::sync::Arc::new(Conversion {
            version: ctx.version,
            options: options.clone(),
        }),
    }
}

/// The messages that `ops` adds, with the INTERNALDATE the snapshot has of each (from
/// the listing or delta that found it): a window's fetch need not ask for it again.
fn dated_adds(ops: &[Op], snap: &Snapshot) -> Vec<(Uid, i64)> {
    ops.iter()
        .filter(|op| matches!(op, Op::Add(_)))
        .filter_map(|op| {
            let up = snap.items.get(&op.key())?.upstream?;
            Some((op.key() as Uid, up.date))
        })
        .collect()
}

/// Where a read-ahead for the window the device asks for with `sync_key` is kept.
fn read_ahead_key(
    ctx: &RequestContext<'_>,
    cid: &str,
    sync_key: i64,
    snap: &Snapshot,
) -> super::prefetch::Key {
    super::prefetch::Key {
        login: ctx.login().to_string(),
        device: ctx.device_id().to_string(),
        collection: cid.to_string(),
        sync_key,
        uidvalidity: parse_cursor(&snap.cursor).map(|(uv, _)| uv).unwrap_or(0),
    }
}

#[allow(clippy::too_many_arguments)]
async fn server_commands(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    cid: &str,
    current_key: i64,
    reader: &Reader,
    snap: &mut Snapshot,
    metas: &mut HashMap<Uid, MessageMeta>,
    ops: &[Op],
    ready: Vec<Prepared>,
) -> Result<Vec<ServerCommand>, Error> {
    let mailbox = reader.mailbox.as_str();
    let key_uid = |k: u64| k as Uid;
    let mut adds = dated_adds(ops, snap);
    // Messages read before the plan was known: those it adds now (the others come
    // again with their own window).
    let mut ready: HashMap<Uid, Prepared> =
        ready.into_iter().map(|p| (p.message.meta.uid, p)).collect();
    let mut fetched: HashMap<Uid, Prepared> = adds
        .iter()
        .filter_map(|&(uid, _)| Some((uid, reader.refresh(ready.remove(&uid)?, metas.get(&uid)))))
        .collect();
    adds.retain(|(uid, _)| !fetched.contains_key(uid));
    if !adds.is_empty() {
        let key = read_ahead_key(ctx, cid, current_key, snap);
        for p in ctx.app.prefetch.take(key, reader, &adds).await? {
            // The delta of this very request knows newer flags than a read-ahead copy.
            let fresh = metas.get(&p.message.meta.uid);
            let p = reader.refresh(p, fresh);
            fetched.insert(p.message.meta.uid, p);
        }
    }
    let disagree = disagreeing(fetched.values().map(|p| &p.message.meta), snap, metas);
    if !disagree.is_empty() {
        for m in fetch_meta(ctx, mailbox, &disagree).await? {
            if let Some(p) = fetched.remove(&m.uid) {
                fetched.insert(m.uid, reader.refresh(p, Some(&m)));
            }
            metas.insert(m.uid, m);
        }
    }
    // Changes carry the flag-derived fields; learn flags we have not seen in this request.
    let unknown: Vec<Uid> = ops
        .iter()
        .filter(|op| matches!(op, Op::Change(k) if !metas.contains_key(&key_uid(*k))))
        .map(|op| key_uid(op.key()))
        .collect();
    if !unknown.is_empty() {
        for m in fetch_meta(ctx, mailbox, &unknown).await? {
            metas.insert(m.uid, m);
        }
    }
    // New messages of an always-moved conversation go to its folder instead.
    crate::commands::conversation::apply_always_move(ctx, view, cid, mailbox, &mut fetched).await?;
    let is_inbox = mailbox.eq_ignore_ascii_case("INBOX");
    let mut commands = Vec::with_capacity(ops.len());
    for &op in ops {
        let uid = key_uid(op.key());
        let sid = server_id(cid, uid);
        match op {
            Op::Add(_) => {
                let Some(prepared) = fetched.remove(&uid) else {
                    // Expunged since the delta: it is simply not offered.
                    if let Some(item) = snap.items.get_mut(&op.key()) {
                        item.upstream = None;
                    }
                    continue;
                };
                if let Some(item) = snap.items.get_mut(&op.key()) {
                    item.upstream = Some(upstream_of(&prepared.message.meta));
                }
                // An iTIP REPLY to one of the user's meetings is applied to the event
                // when the message is first offered to a device (see
                // commands::meeting_response).
                if is_inbox && prepared.itip_reply {
                    crate::commands::meeting_response::apply_incoming_reply(
                        ctx,
                        &prepared.message.raw,
                    )
                    .await;
                }
                commands.push(ServerCommand::Add {
                    data: Node::Encoded(prepared.data),
                    server_id: sid,
                });
            }
            Op::Change(_) => {
                let Some(meta) = metas.get(&uid) else {
                    continue;
                };
                if let Some(item) = snap.items.get_mut(&op.key()) {
                    item.upstream = Some(upstream_of(meta));
                }
                commands.push(ServerCommand::Change {
                    data: email::change_application_data(meta, ctx.version),
                    server_id: sid,
                });
            }
            Op::Delete(_) => commands.push(ServerCommand::Delete { server_id: sid }),
            Op::SoftDelete(_) => commands.push(ServerCommand::SoftDelete { server_id: sid }),
        }
        plan::applied(snap, op);
    }
    Ok(commands)
}

/// The copies whose flags disagree with the snapshot's upstream side and that this
/// request has not read itself (`metas`). A copy may show flags older than those of
/// the listing behind the snapshot (MailStore::fetch_messages_dated): their flags are
/// read again, so that the device never goes back behind the snapshot's cursor (a
/// change older than the cursor is not reported again).
fn disagreeing<'a>(
    copies: impl Iterator<Item = &'a MessageMeta>,
    snap: &Snapshot,
    metas: &HashMap<Uid, MessageMeta>,
) -> Vec<Uid> {
    copies
        .filter(|copy| {
            !metas.contains_key(&copy.uid)
                && snap
                    .items
                    .get(&u64::from(copy.uid))
                    .and_then(|i| i.upstream)
                    .is_some_and(|u| u.sig != upstream_of(copy).sig)
        })
        .map(|copy| copy.uid)
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn client_change(
    ctx: &RequestContext<'_>,
    req: &CollectionRequest,
    mailbox: &str,
    options: &SyncOptions,
    snap: &mut Snapshot,
    metas: &mut HashMap<Uid, MessageMeta>,
    server_id: &str,
    data: &Element,
) -> Result<Option<ItemResponse>, Error> {
    let not_found = || {
        Some(ItemResponse::Change {
            server_id: server_id.to_string(),
            status: status::OBJECT_NOT_FOUND,
        })
    };
    let Some(uid) = uid_of(&req.collection_id, server_id) else {
        return Ok(not_found());
    };
    let Some(item) = snap.items.get(&u64::from(uid)).copied() else {
        return Ok(not_found());
    };
    let (Some(device_sig), Some(upstream)) = (item.device, item.upstream) else {
        return Ok(not_found());
    };
    // MS-ASCMD 2.2.3.34: Conflict 1 (the default) = the server's version wins. The
    // upstream changed since the device's copy: keep it; the device gets a Change.
    if options.conflict.unwrap_or(1) == 1 && upstream.sig != device_sig {
        return Ok(None);
    }
    let creds = &ctx.principal.credentials;
    let meta = match metas.get(&uid) {
        Some(m) => m.clone(),
        None => match fetch_meta(ctx, mailbox, &[uid]).await?.into_iter().next() {
            Some(m) => m,
            None => return Ok(not_found()),
        },
    };
    let change = email::flag_change(data, &meta.flags);
    if !change.add.is_empty() || !change.remove.is_empty() {
        match ctx
            .app
            .mail
            .set_flags(creds, mailbox, &[uid], &change)
            .await
        {
            Ok(()) => {}
            Err(BackendError::NotFound(_)) => return Ok(not_found()),
            Err(e) => return Err(e.into()),
        }
    }
    let mut flags: Vec<String> = meta
        .flags
        .iter()
        .filter(|f| !change.remove.iter().any(|r| r.eq_ignore_ascii_case(f)))
        .cloned()
        .collect();
    for f in &change.add {
        if !flags.iter().any(|x| x.eq_ignore_ascii_case(f)) {
            flags.push(f.clone());
        }
    }
    let updated = MessageMeta { flags, ..meta };
    let up = upstream_of(&updated);
    // The device already shows its own change: it must not come back as a server Change.
    snap.items.insert(
        u64::from(uid),
        Item {
            device: Some(up.sig),
            upstream: Some(up),
            stale: false,
        },
    );
    metas.insert(uid, updated);
    Ok(None)
}

async fn trash_mailbox(ctx: &RequestContext<'_>) -> Result<Option<String>, Error> {
    let mailboxes = ctx
        .app
        .mail
        .list_mailboxes(&ctx.principal.credentials)
        .await?;
    Ok(folders::trash_mailbox(&mailboxes))
}

/// A client Delete: moved to Deleted Items when DeletesAsMoves (the default), else
/// expunged. MS-ASCMD 2.2.3.42.2: success has no Responses entry.
async fn client_delete(
    ctx: &RequestContext<'_>,
    cid: &str,
    mailbox: &str,
    trash: Option<&str>,
    snap: &mut Snapshot,
    server_id: &str,
) -> Result<Option<ItemResponse>, Error> {
    let not_found = || {
        Some(ItemResponse::Delete {
            server_id: server_id.to_string(),
            status: status::OBJECT_NOT_FOUND,
        })
    };
    let Some(uid) = uid_of(cid, server_id) else {
        return Ok(not_found());
    };
    if snap
        .items
        .get(&u64::from(uid))
        .and_then(|i| i.device)
        .is_none()
    {
        return Ok(not_found());
    }
    let creds = &ctx.principal.credentials;
    let result = match trash {
        Some(trash) => ctx
            .app
            .mail
            .move_messages(creds, mailbox, &[uid], trash)
            .await
            .map(|_| ()),
        None => ctx.app.mail.delete_messages(creds, mailbox, &[uid]).await,
    };
    match result {
        // Already gone (e.g. a repeated request after a lost answer): done all the same.
        Ok(()) | Err(BackendError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    snap.items.remove(&u64::from(uid));
    Ok(None)
}

/// A client Add. Only drafts can be added to mail folders (EAS 16.0+, MS-ASEMAIL
/// 3.1.5.3); a retried Add (same ClientId) returns the ServerId it created before.
async fn client_add(
    ctx: &RequestContext<'_>,
    cid: &str,
    mailbox: &str,
    snap: &mut Snapshot,
    client_id: &str,
    data: &Element,
) -> Result<Option<ItemResponse>, Error> {
    let store = &ctx.app.store;
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
        if let Some(uid) = uid_of(cid, &existing) {
            let item = snap.items.entry(u64::from(uid)).or_default();
            item.device = item.upstream.map(|u| u.sig);
            if item.device.is_none() {
                snap.items.remove(&u64::from(uid));
            }
        }
        return Ok(respond(Some(existing), status::SUCCESS));
    }
    if ctx.version < ProtocolVersion::V16_0 {
        return Ok(respond(None, status::CONVERSION_ERROR));
    }
    let from = ctx.login().to_string();
    let Some(draft) = crate::mapping::draft::compose(data, &from, chrono::Utc::now()) else {
        return Ok(respond(None, status::CONVERSION_ERROR));
    };
    let flags = vec!["\\Draft".to_string(), "\\Seen".to_string()];
    let now = crate::state::now();
    let uid = ctx
        .app
        .mail
        .append(
            &ctx.principal.credentials,
            mailbox,
            &flags,
            Some(now),
            &draft,
        )
        .await?;
    let Some(uid) = uid else {
        // Without APPENDUID the new message's UID is unknown; it reaches the device as a
        // server Add instead, and the client's copy is answered as not created.
        return Ok(respond(None, status::SERVER_ERROR));
    };
    let sid = server_id(cid, uid);
    store
        .record_client_add(ctx.login(), ctx.device_id(), cid, client_id, &sid)
        .await?;
    let up = Upstream {
        sig: email::visible_flags_signature(&flags),
        date: now,
    };
    snap.items.insert(
        u64::from(uid),
        Item {
            device: Some(up.sig),
            upstream: Some(up),
            stale: false,
        },
    );
    Ok(respond(Some(sid), status::SUCCESS))
}

async fn client_fetch(
    ctx: &RequestContext<'_>,
    cid: &str,
    mailbox: &str,
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
    let Some(uid) = uid_of(cid, server_id) else {
        return Ok(not_found());
    };
    let messages = ctx
        .app
        .mail
        .fetch_messages(&ctx.principal.credentials, mailbox, &[uid])
        .await?;
    let Some(message) = messages.first() else {
        return Ok(not_found());
    };
    Ok(Some(ItemResponse::Fetch {
        server_id: server_id.to_string(),
        status: status::SUCCESS,
        data: Some(application_data(ctx.version, options, server_id, message)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_are_checked_against_the_collection() {
        assert_eq!(uid_of("5", "5:42"), Some(42));
        for forged in [
            "6:42",
            "5:",
            "5:x",
            "5:-1",
            "5:1:2",
            "42",
            "",
            "5:99999999999",
        ] {
            assert_eq!(uid_of("5", forged), None, "{forged}");
        }
    }

    #[test]
    fn rights() {
        assert_eq!(Access::from_rights(None), Access::FULL);
        assert_eq!(Access::from_rights(Some("lrswipkxtecda")), Access::FULL);
        assert_eq!(
            Access::from_rights(Some("lr")),
            Access {
                change: false,
                delete: false,
                add: false
            }
        );
        assert_eq!(
            Access::from_rights(Some("lrs")),
            Access {
                change: false,
                delete: false,
                add: false
            }
        );
    }

    #[test]
    fn copies_whose_flags_disagree_with_the_snapshot_are_read_again() {
        let meta = |uid: Uid, flags: &[&str]| MessageMeta {
            uid,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            internal_date: 1_000,
            size: None,
            modseq: Some(7),
        };
        let listed = [
            meta(1, &["\\Seen"]),
            meta(2, &[]),
            meta(3, &[]),
            meta(4, &[]),
        ];
        let mut snap = Snapshot::default();
        for m in &listed {
            snap.items.entry(u64::from(m.uid)).or_default().upstream = Some(upstream_of(m));
        }
        let copies = [
            meta(1, &[]),            // older than the listing: unread again
            meta(2, &[]),            // as listed
            meta(3, &["\\Flagged"]), // newer, or older: not knowable, read again
            meta(4, &["\\Seen"]),    // this request read it itself
            meta(5, &["\\Seen"]),    // not in the snapshot
        ];
        let read_now = HashMap::from([(4, meta(4, &["\\Seen"]))]);
        let mut again = disagreeing(copies.iter(), &snap, &read_now);
        again.sort_unstable();
        assert_eq!(again, [1, 3]);
    }

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(&cursor_of(7, Some(99))), Some((7, 99)));
        assert_eq!(parse_cursor(""), None);
        assert_eq!(mime_truncation_bytes(Some(1)), Some(4096));
        assert_eq!(mime_truncation_bytes(Some(8)), None);
    }
}
