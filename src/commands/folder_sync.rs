//! FolderSync (MS-ASCMD 2.2.1.5): tells the device which folders exist and what
//! changed since its SyncKey.
//!
//! Each key stands for an immutable snapshot of the hierarchy the device was told
//! about (design.md, "State model"). A request with key N is answered with the
//! difference between snapshot N and the current tree; when there is none, the key
//! stays N. A repeated N (the device lost our answer) gets the same difference again,
//! never Status 9. Key 0 starts over without changing any folder id.

use crate::eas::folder_sync::{
    FolderChanges, FolderEntry, FolderSyncRequest, FolderSyncResponse, FolderSyncStatus,
};
use crate::error::Error;
use crate::mapping::folders;
use crate::wbxml::Element;

use super::{Reply, RequestContext};

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let request = FolderSyncRequest::parse(&document)?;
    let response = apply(ctx, &request).await?;
    Ok(Reply::Wbxml(response.to_element()))
}

async fn apply(
    ctx: &RequestContext<'_>,
    request: &FolderSyncRequest,
) -> Result<FolderSyncResponse, Error> {
    let store = &ctx.app.store;
    let (login, device) = (ctx.login(), ctx.device_id());
    let previous: Vec<FolderEntry> = if request.sync_key == "0" {
        Vec::new()
    } else {
        let Ok(key) = request.sync_key.parse::<i64>() else {
            return Ok(FolderSyncResponse::error(FolderSyncStatus::InvalidSyncKey));
        };
        match store.folder_snapshot(login, device, key).await? {
            Some(json) => match serde_json::from_str(&json) {
                Ok(entries) => entries,
                Err(_) => return Ok(FolderSyncResponse::error(FolderSyncStatus::InvalidSyncKey)),
            },
            None => return Ok(FolderSyncResponse::error(FolderSyncStatus::InvalidSyncKey)),
        }
    };
    let current = current_tree(ctx).await?;
    let changes = diff(&previous, &current);

    let next_key = if request.sync_key == "0" {
        // A reset starts a fresh chain; ids stay as they are in the folder map.
        let key = store.latest_folder_key(login, device).await?.unwrap_or(0) + 1;
        store
            .put_folder_snapshot(login, device, key, &to_json(&current), key)
            .await?;
        key
    } else {
        let key: i64 = request.sync_key.parse().unwrap_or(0);
        if changes.is_empty() {
            // The device holds key N: N-1 and older are no longer needed.
            store.prune_folder_snapshots(login, device, key).await?;
            key
        } else {
            // Keep N until the device uses N+1 (its answer may be lost).
            store
                .put_folder_snapshot(login, device, key + 1, &to_json(&current), key)
                .await?;
            key + 1
        }
    };
    Ok(FolderSyncResponse {
        status: FolderSyncStatus::Success,
        sync_key: Some(next_key.to_string()),
        changes,
    })
}

/// Whether the folder tree differs from what the device was last told (FolderSync
/// needed); a device that never ran FolderSync counts as changed. One LIST and one DAV
/// listing per kind.
pub(super) async fn hierarchy_changed(ctx: &RequestContext<'_>) -> Result<bool, Error> {
    let store = &ctx.app.store;
    let (login, device) = (ctx.login(), ctx.device_id());
    let Some(key) = store.latest_folder_key(login, device).await? else {
        return Ok(true);
    };
    let Some(previous) = store.folder_snapshot(login, device, key).await? else {
        return Ok(true);
    };
    let Ok(previous) = serde_json::from_str::<Vec<FolderEntry>>(&previous) else {
        return Ok(true);
    };
    Ok(!diff(&previous, &current_tree(ctx).await?).is_empty())
}

/// The account's folder tree as this device should see it now.
pub(super) async fn current_tree(ctx: &RequestContext<'_>) -> Result<Vec<FolderEntry>, Error> {
    let mailboxes = ctx
        .app
        .mail
        .list_mailboxes(&ctx.principal.credentials)
        .await?;
    let rules = ctx.tree_rules().await?;
    let mut candidates = folders::mail_candidates(&mailboxes, &rules);
    // An unreachable DAV server fails the FolderSync (retryable) rather than making the
    // device delete its calendars and contacts.
    let creds = &ctx.principal.credentials;
    let calendars = match &ctx.app.calendars {
        Some(dav) => {
            dav.collections(creds, airsync_model::DavKind::Calendar)
                .await?
        }
        None => Vec::new(),
    };
    let address_books = match &ctx.app.contacts {
        Some(dav) => {
            dav.collections(creds, airsync_model::DavKind::Contacts)
                .await?
        }
        None => Vec::new(),
    };
    candidates.extend(folders::pim_candidates(&calendars, &address_books, &rules));
    let upstream: Vec<_> = candidates.iter().map(|c| c.upstream.clone()).collect();
    let ids = ctx
        .app
        .store
        .assign_folder_ids(ctx.login(), &upstream)
        .await?;
    folders::settle_default_pim_folders(&mut candidates, &ids);
    Ok(folders::entries(&candidates, &ids))
}

fn to_json(entries: &[FolderEntry]) -> String {
    serde_json::to_string(entries).unwrap_or_else(|_| "[]".into())
}

/// What a device holding `previous` must be told to reach `current`.
fn diff(previous: &[FolderEntry], current: &[FolderEntry]) -> FolderChanges {
    let mut changes = FolderChanges::default();
    for f in current {
        match previous.iter().find(|p| p.server_id == f.server_id) {
            None => changes.add.push(f.clone()),
            Some(p) if p != f => changes.update.push(f.clone()),
            Some(_) => {}
        }
    }
    for p in previous {
        if !current.iter().any(|f| f.server_id == p.server_id) {
            changes.delete.push(p.server_id.clone());
        }
    }
    // Parents before children, so a device can place every Add as it reads it.
    changes.add.sort_by_key(|f| depth(current, f));
    changes
}

fn depth(tree: &[FolderEntry], f: &FolderEntry) -> usize {
    let mut depth = 0;
    let mut parent = f.parent_id.as_str();
    while parent != "0" && depth < 64 {
        match tree.iter().find(|p| p.server_id == parent) {
            Some(p) => parent = p.parent_id.as_str(),
            None => break,
        }
        depth += 1;
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: &str, parent: &str, name: &str) -> FolderEntry {
        FolderEntry {
            server_id: id.into(),
            parent_id: parent.into(),
            display_name: name.into(),
            folder_type: 12,
        }
    }

    #[test]
    fn diff_finds_adds_updates_deletes_in_parent_order() {
        let before = vec![f("1", "0", "A"), f("2", "0", "B")];
        let after = vec![
            f("4", "3", "Child"),
            f("1", "0", "A2"),
            f("3", "0", "Parent"),
        ];
        let d = diff(&before, &after);
        assert_eq!(d.update, vec![f("1", "0", "A2")]);
        assert_eq!(d.delete, vec!["2".to_string()]);
        assert_eq!(
            d.add
                .iter()
                .map(|f| f.server_id.as_str())
                .collect::<Vec<_>>(),
            ["3", "4"]
        );
        assert!(diff(&after, &after).is_empty());
    }
}
