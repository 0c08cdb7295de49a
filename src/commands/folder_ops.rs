//! FolderCreate, FolderUpdate and FolderDelete (MS-ASCMD 2.2.1.2–2.2.1.4) for mail
//! folders: the device changes its hierarchy; airsync does it upstream (IMAP CREATE,
//! RENAME, DELETE) and hands out the next hierarchy SyncKey.
//!
//! The new key's snapshot is the device's old one plus exactly the device's own change,
//! so that changes made elsewhere still reach the device with its next FolderSync.

use airsync_model::{BackendError, DavKind, Mailbox};

use crate::eas::folder_ops::{FolderRequest, FolderResponse, status};
use crate::eas::folder_sync::FolderEntry;
use crate::error::Error;
use crate::mapping::folders::{FolderView, PimClass, Resolved, folder_type};
use crate::wbxml::Element;
use crate::wbxml::pages::FolderHierarchy as F;

use super::folder_sync::current_tree;
use super::sync::pim;
use super::{Reply, RequestContext};

pub async fn create(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let request = FolderRequest::parse_create(&document)?;
    respond(F::FolderCreate, apply(ctx, &request).await?)
}

pub async fn update(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let request = FolderRequest::parse_update(&document)?;
    respond(F::FolderUpdate, apply(ctx, &request).await?)
}

pub async fn delete(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let request = FolderRequest::parse_delete(&document)?;
    respond(F::FolderDelete, apply(ctx, &request).await?)
}

fn respond(root: crate::wbxml::Tag, outcome: Outcome) -> Result<Reply, Error> {
    let (status, sync_key, server_id) = match outcome {
        Outcome::Done {
            sync_key,
            server_id,
        } => (status::SUCCESS, Some(sync_key), server_id),
        Outcome::Failed(status) => (status, None, None),
    };
    Ok(Reply::Wbxml(
        FolderResponse {
            root,
            status,
            sync_key,
            server_id,
        }
        .to_element(),
    ))
}

enum Outcome {
    Done {
        sync_key: String,
        server_id: Option<String>,
    },
    Failed(u16),
}

/// Types the device may not rename, move or delete (MS-ASCMD 2.2.3.177.3: Status 3):
/// the mail special folders and the default calendar, contacts and task list.
fn is_special(t: u8) -> bool {
    (folder_type::TASKS..=folder_type::CONTACTS).contains(&t)
        || (folder_type::INBOX..=folder_type::OUTBOX).contains(&t)
}

/// The IMAP name of a folder `display_name` under `parent` (an EAS ParentId).
fn child_name(
    parent: &str,
    display_name: &str,
    view: &FolderView,
    mailboxes: &[Mailbox],
) -> Result<String, u16> {
    if display_name.trim().is_empty() || display_name.contains(['/', '\\']) {
        return Err(status::BAD_REQUEST);
    }
    if parent == "0" {
        return Ok(display_name.to_string());
    }
    let Some(Resolved::Mail { mailbox, .. }) = view.resolve(parent) else {
        return Err(status::PARENT_NOT_FOUND);
    };
    let delimiter = mailboxes
        .iter()
        .find(|m| m.name == mailbox)
        .and_then(|m| m.delimiter)
        .ok_or(status::PARENT_NOT_FOUND)?;
    if display_name.contains(delimiter) {
        return Err(status::BAD_REQUEST);
    }
    Ok(format!("{mailbox}{delimiter}{display_name}"))
}

fn failed(e: BackendError) -> Result<Outcome, Error> {
    match e {
        BackendError::Conflict(_) => Ok(Outcome::Failed(status::EXISTS)),
        BackendError::NotFound(_) => Ok(Outcome::Failed(status::NOT_FOUND)),
        BackendError::Permanent(_) => Ok(Outcome::Failed(status::BAD_REQUEST)),
        other => Err(other.into()),
    }
}

async fn apply(ctx: &RequestContext<'_>, request: &FolderRequest) -> Result<Outcome, Error> {
    let store = &ctx.app.store;
    let (login, device) = (ctx.login(), ctx.device_id());
    let Ok(key) = request.sync_key().parse::<i64>() else {
        return Ok(Outcome::Failed(status::SYNC_KEY_MISMATCH));
    };
    let Some(snapshot) = store.folder_snapshot(login, device, key).await? else {
        return Ok(Outcome::Failed(status::SYNC_KEY_MISMATCH));
    };
    let mut known: Vec<FolderEntry> = serde_json::from_str(&snapshot).unwrap_or_default();
    let creds = &ctx.principal.credentials;
    let mail = &ctx.app.mail;
    let mailboxes = mail.list_mailboxes(creds).await?;
    let view = ctx.folder_view().await?;
    let entry_of = |id: &str| known.iter().find(|f| f.server_id == id).cloned();
    let mut new_server_id = None;
    match request {
        FolderRequest::Create {
            parent_id,
            display_name,
            folder_type: kind,
            ..
        } if pim_class(*kind).is_some() => {
            // Calendars, task lists and address books are DAV collections (flat).
            if parent_id != "0" {
                return Ok(Outcome::Failed(status::PARENT_NOT_FOUND));
            }
            let class = pim_class(*kind).unwrap_or(PimClass::Calendar);
            let (dav_kind, components): (DavKind, &[&str]) = match class {
                PimClass::Calendar => (DavKind::Calendar, &["VEVENT"]),
                PimClass::Tasks => (DavKind::Calendar, &["VTODO"]),
                PimClass::Contacts => (DavKind::Contacts, &[]),
            };
            let href = match pim::dav_for(ctx, class)?
                .create_collection(creds, dav_kind, display_name, components)
                .await
            {
                Ok(href) => href,
                Err(e) => return failed(e),
            };
            let tree = current_tree(ctx).await?;
            let rows = store.folder_rows(login).await?;
            let created = rows
                .iter()
                .find(|r| !r.gone && r.upstream_name == href)
                .map(|r| r.folder_id.to_string());
            let Some(entry) = created.and_then(|id| tree.into_iter().find(|f| f.server_id == id))
            else {
                return Ok(Outcome::Failed(status::SERVER_ERROR));
            };
            new_server_id = Some(entry.server_id.clone());
            known.push(entry);
        }
        FolderRequest::Create {
            parent_id,
            display_name,
            folder_type: kind,
            ..
        } => {
            if ![1, folder_type::USER_MAIL].contains(kind) {
                return Ok(Outcome::Failed(status::BAD_REQUEST));
            }
            if let Some(parent) = entry_of(parent_id) {
                // Children of Sent and Deleted Items are never shown (product page).
                if [
                    folder_type::SENT_ITEMS,
                    folder_type::DELETED_ITEMS,
                    folder_type::OUTBOX,
                ]
                .contains(&parent.folder_type)
                {
                    return Ok(Outcome::Failed(status::SPECIAL_FOLDER));
                }
            } else if parent_id != "0" {
                return Ok(Outcome::Failed(status::PARENT_NOT_FOUND));
            }
            let name = match child_name(parent_id, display_name, &view, &mailboxes) {
                Ok(n) => n,
                Err(s) => return Ok(Outcome::Failed(s)),
            };
            if let Err(e) = mail.create_mailbox(creds, &name).await {
                return failed(e);
            }
            let tree = current_tree(ctx).await?;
            let rows = store.folder_rows(login).await?;
            let created = rows
                .iter()
                .find(|r| !r.gone && r.upstream_name == name)
                .map(|r| r.folder_id.to_string());
            let Some(entry) = created.and_then(|id| tree.into_iter().find(|f| f.server_id == id))
            else {
                return Ok(Outcome::Failed(status::SERVER_ERROR));
            };
            new_server_id = Some(entry.server_id.clone());
            known.push(entry);
        }
        FolderRequest::Update {
            server_id,
            parent_id,
            display_name,
            ..
        } => {
            let Some(entry) = entry_of(server_id) else {
                return Ok(Outcome::Failed(status::NOT_FOUND));
            };
            if is_special(entry.folder_type) {
                return Ok(Outcome::Failed(status::SPECIAL_FOLDER));
            }
            if (parent_id != "0" && entry_of(parent_id).is_none()) || parent_id == server_id {
                return Ok(Outcome::Failed(status::PARENT_NOT_FOUND));
            }
            let (folder_id, old) = match view.resolve(server_id) {
                Some(Resolved::Mail {
                    folder_id, mailbox, ..
                }) => (folder_id, mailbox),
                Some(Resolved::Pim { class, href, .. }) => {
                    if parent_id != "0" {
                        return Ok(Outcome::Failed(status::PARENT_NOT_FOUND));
                    }
                    if let Err(e) = pim::dav_for(ctx, class)?
                        .rename_collection(creds, &href, display_name)
                        .await
                    {
                        return failed(e);
                    }
                    if let Some(f) = known.iter_mut().find(|f| f.server_id == *server_id) {
                        f.display_name = display_name.clone();
                    }
                    return done(ctx, key, &known, None).await;
                }
                _ => return Ok(Outcome::Failed(status::NOT_FOUND)),
            };
            let new = match child_name(parent_id, display_name, &view, &mailboxes) {
                Ok(n) => n,
                Err(s) => return Ok(Outcome::Failed(s)),
            };
            if new != old {
                if let Err(e) = mail.rename_mailbox(creds, &old, &new).await {
                    return failed(e);
                }
                // A rename through airsync keeps the folder's id even where the upstream
                // has no stable identity of its own (the design's promise).
                let delimiter = mailboxes
                    .iter()
                    .find(|m| m.name == old)
                    .and_then(|m| m.delimiter);
                store
                    .rename_folder_rows(login, folder_id, &old, &new, delimiter)
                    .await?;
            }
            if let Some(f) = known.iter_mut().find(|f| f.server_id == *server_id) {
                f.parent_id = parent_id.clone();
                f.display_name = display_name.clone();
            }
        }
        FolderRequest::Delete { server_id, .. } => {
            let Some(entry) = entry_of(server_id) else {
                return Ok(Outcome::Failed(status::NOT_FOUND));
            };
            if is_special(entry.folder_type) {
                return Ok(Outcome::Failed(status::SPECIAL_FOLDER));
            }
            let mailbox = match view.resolve(server_id) {
                Some(Resolved::Mail { mailbox, .. }) => mailbox,
                Some(Resolved::Pim { class, href, .. }) => {
                    match pim::dav_for(ctx, class)?
                        .delete_collection(creds, &href)
                        .await
                    {
                        Ok(()) | Err(BackendError::NotFound(_)) => {}
                        Err(e) => return failed(e),
                    }
                    known.retain(|f| f.server_id != *server_id);
                    current_tree(ctx).await?;
                    return done(ctx, key, &known, None).await;
                }
                _ => return Ok(Outcome::Failed(status::NOT_FOUND)),
            };
            // EAS deletes a folder with its subfolders; IMAP DELETE does not: children
            // first, deepest first.
            let delimiter = mailboxes
                .iter()
                .find(|m| m.name == mailbox)
                .and_then(|m| m.delimiter);
            let mut doomed: Vec<&str> = mailboxes
                .iter()
                .filter(|m| delimiter.is_some_and(|d| m.name.starts_with(&format!("{mailbox}{d}"))))
                .map(|m| m.name.as_str())
                .collect();
            doomed.sort_by_key(|n| std::cmp::Reverse(n.len()));
            doomed.push(&mailbox);
            for name in doomed {
                match mail.delete_mailbox(creds, name).await {
                    Ok(()) | Err(BackendError::NotFound(_)) => {}
                    Err(e) => return failed(e),
                }
            }
            let mut gone = vec![server_id.clone()];
            while let Some(child) = known
                .iter()
                .find(|f| gone.contains(&f.parent_id) && !gone.contains(&f.server_id))
            {
                gone.push(child.server_id.clone());
            }
            known.retain(|f| !gone.contains(&f.server_id));
            current_tree(ctx).await?;
        }
    }
    done(ctx, key, &known, new_server_id).await
}

/// Stores the device's hierarchy after its own change under the next key.
async fn done(
    ctx: &RequestContext<'_>,
    key: i64,
    known: &[FolderEntry],
    server_id: Option<String>,
) -> Result<Outcome, Error> {
    let json = serde_json::to_string(known).unwrap_or_else(|_| "[]".into());
    ctx.app
        .store
        .put_folder_snapshot(ctx.login(), ctx.device_id(), key + 1, &json, key)
        .await?;
    Ok(Outcome::Done {
        sync_key: (key + 1).to_string(),
        server_id,
    })
}

/// The class of a user-created PIM folder type (MS-ASCMD 2.2.3.186.3).
fn pim_class(folder_type: u8) -> Option<PimClass> {
    match folder_type {
        folder_type::USER_CALENDAR => Some(PimClass::Calendar),
        folder_type::USER_TASKS => Some(PimClass::Tasks),
        folder_type::USER_CONTACTS => Some(PimClass::Contacts),
        _ => None,
    }
}
