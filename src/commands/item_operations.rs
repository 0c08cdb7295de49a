//! ItemOperations (MS-ASCMD 2.2.1.10): fetches a whole message (by ServerId or LongId)
//! or an attachment (by FileReference), empties a folder, or moves a conversation (see `conversation.rs`).
//! Fetching never marks a message read (the backend uses BODY.PEEK).
//!
//! Attachments come base64-encoded inside the WBXML by default, or as separate binary
//! parts when the client asks for multipart (`MS-ASAcceptMultiPart: T` or the base64
//! query's Options bit 0x02).

use airsync_model::BackendError;

use crate::eas::item_operations::{self, FetchOptions, FetchTarget, Operation, status};
use crate::eas::sync::SyncOptions;
use crate::error::Error;
use crate::mapping::email;
use crate::mapping::folders::{FolderView, Resolved};
use crate::wbxml::Element;
use crate::wbxml::pages::{AirSync as A, AirSyncBase as B, ItemOperations as I};

use super::sync::mail;
use super::{Reply, RequestContext};

pub async fn run(
    ctx: &RequestContext<'_>,
    document: Element,
    multipart: bool,
) -> Result<Reply, Error> {
    let operations = item_operations::parse(&document)?;
    let view = ctx.folder_view().await?;
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut response = Element::new(I::Response);
    for op in operations {
        let answer = match op {
            Operation::Fetch {
                store,
                target,
                options,
            } => {
                fetch(
                    ctx,
                    &view,
                    &store,
                    target,
                    &options,
                    multipart.then_some(&mut parts),
                )
                .await?
            }
            Operation::EmptyFolderContents {
                collection_id,
                delete_sub_folders,
            } => empty_folder(ctx, &view, &collection_id, delete_sub_folders).await?,
            Operation::Move {
                conversation_id,
                dst_fld_id,
                move_always,
            } => {
                super::conversation::move_conversation(
                    ctx,
                    &view,
                    &conversation_id,
                    &dst_fld_id,
                    move_always,
                )
                .await?
            }
        };
        response.push(answer);
    }
    let document = Element::new(I::ItemOperations)
        .text_child(I::Status, status::SUCCESS.to_string())
        .child(response);
    if multipart {
        Ok(Reply::Multipart { document, parts })
    } else {
        Ok(Reply::Wbxml(document))
    }
}

fn fetch_status(code: u16) -> Element {
    Element::new(I::Fetch).text_child(I::Status, code.to_string())
}

async fn fetch(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    store: &str,
    target: Option<FetchTarget>,
    options: &FetchOptions,
    parts: Option<&mut Vec<Vec<u8>>>,
) -> Result<Element, Error> {
    if !store.eq_ignore_ascii_case("Mailbox") {
        return Ok(fetch_status(status::STORE_UNKNOWN));
    }
    let creds = &ctx.principal.credentials;
    match target {
        None => Ok(fetch_status(status::PROTOCOL_ERROR)),
        Some(FetchTarget::FileReference(reference)) => {
            let Some((folder, uid, index)) = email::parse_file_reference(&reference) else {
                return Ok(fetch_status(status::ATTACHMENT_INVALID));
            };
            // The reference is untrusted: it must name a folder of this account.
            let Some(Resolved::Mail { mailbox, .. }) = view.resolve(&folder) else {
                return Ok(fetch_status(status::ATTACHMENT_INVALID));
            };
            let messages = ctx.app.mail.fetch_messages(creds, &mailbox, &[uid]).await?;
            let Some(attachment) = messages
                .first()
                .and_then(|m| email::attachment(&m.raw, index))
            else {
                return Ok(fetch_status(status::ATTACHMENT_INVALID));
            };
            let total = attachment.data.len() as u64;
            let data = match options.range {
                None => attachment.data,
                Some((first, _)) if first >= total && total > 0 => {
                    return Ok(fetch_status(status::BYTE_RANGE_INVALID));
                }
                Some((first, last)) => {
                    let end = (last + 1).min(total) as usize;
                    attachment.data[(first as usize).min(end)..end].to_vec()
                }
            };
            let mut properties =
                Element::new(I::Properties).text_child(B::ContentType, attachment.content_type);
            if let Some((first, _)) = options.range {
                let last = (first + data.len() as u64).saturating_sub(1);
                properties.push(Element::with_text(I::Range, format!("{first}-{last}")));
                properties.push(Element::with_text(I::Total, total.to_string()));
            }
            match parts {
                Some(parts) => {
                    parts.push(data);
                    properties.push(Element::with_text(I::Part, parts.len().to_string()));
                }
                None => {
                    use base64::Engine;
                    properties.push(Element::with_text(
                        I::Data,
                        base64::engine::general_purpose::STANDARD.encode(data),
                    ));
                }
            }
            Ok(Element::new(I::Fetch)
                .text_child(I::Status, status::SUCCESS.to_string())
                .text_child(B::FileReference, reference)
                .child(properties))
        }
        Some(FetchTarget::Item {
            collection_id,
            server_id,
        }) => fetch_item(ctx, view, &collection_id, &server_id, options, false).await,
        Some(FetchTarget::LongId(long_id)) => {
            // LongIds from Search name the message as "{CollectionId}:{UID}".
            let collection_id = long_id.split(':').next().unwrap_or("").to_string();
            fetch_item(ctx, view, &collection_id, &long_id, options, true).await
        }
    }
}

async fn fetch_item(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    collection_id: &str,
    server_id: &str,
    options: &FetchOptions,
    by_long_id: bool,
) -> Result<Element, Error> {
    let Some(Resolved::Mail { mailbox, .. }) = view.resolve(collection_id) else {
        return Ok(fetch_status(status::OBJECT_NOT_FOUND));
    };
    let Some(uid) = mail::uid_of(collection_id, server_id) else {
        return Ok(fetch_status(status::OBJECT_NOT_FOUND));
    };
    let messages = ctx
        .app
        .mail
        .fetch_messages(&ctx.principal.credentials, &mailbox, &[uid])
        .await?;
    let Some(message) = messages.first() else {
        return Ok(fetch_status(status::OBJECT_NOT_FOUND));
    };
    let sync_options = SyncOptions {
        body_preferences: options.body_preferences.clone(),
        mime_support: options.mime_support,
        ..Default::default()
    };
    let data = mail::application_data(ctx.version, &sync_options, server_id, message);
    let properties = Element {
        tag: I::Properties,
        children: data.children,
    };
    let mut fetch = Element::new(I::Fetch).text_child(I::Status, status::SUCCESS.to_string());
    if by_long_id {
        fetch.push(Element::with_text(
            crate::wbxml::pages::Search::LongId,
            server_id,
        ));
    } else {
        fetch.push(Element::with_text(A::CollectionId, collection_id));
        fetch.push(Element::with_text(A::ServerId, server_id));
    }
    fetch.push(Element::with_text(A::Class, "Email"));
    fetch.push(properties);
    Ok(fetch)
}

/// EmptyFolderContents: every message of the folder goes (and with DeleteSubFolders,
/// its subfolders too). The device learns the deletions with its next Sync.
async fn empty_folder(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    collection_id: &str,
    delete_sub_folders: bool,
) -> Result<Element, Error> {
    let answer = |code: u16| {
        Element::new(I::EmptyFolderContents)
            .text_child(I::Status, code.to_string())
            .text_child(A::CollectionId, collection_id)
    };
    let Some(Resolved::Mail { mailbox, .. }) = view.resolve(collection_id) else {
        return Ok(answer(status::OBJECT_NOT_FOUND));
    };
    let creds = &ctx.principal.credentials;
    let listing = ctx.app.mail.list_messages(creds, &mailbox, None).await?;
    let uids: Vec<u32> = listing.messages.iter().map(|m| m.uid).collect();
    if !uids.is_empty() {
        ctx.app.mail.delete_messages(creds, &mailbox, &uids).await?;
    }
    if delete_sub_folders {
        let mut children: Vec<String> = ctx
            .app
            .mail
            .list_mailboxes(creds)
            .await?
            .into_iter()
            .filter(|m| {
                m.delimiter
                    .is_some_and(|d| m.name.starts_with(&format!("{mailbox}{d}")))
            })
            .map(|m| m.name)
            .collect();
        children.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for child in children {
            match ctx.app.mail.delete_mailbox(creds, &child).await {
                Ok(()) | Err(BackendError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(answer(status::SUCCESS))
}

/// GetAttachment (EAS 12.x, MS-ASCMD 2.2.1.8): the attachment named by the
/// AttachmentName query parameter, as the raw HTTP body.
pub async fn get_attachment(ctx: &RequestContext<'_>) -> Result<Reply, Error> {
    let not_found = || Error::Backend(BackendError::NotFound("attachment".into()));
    let reference = ctx.line.attachment_name.as_deref().ok_or_else(not_found)?;
    let (folder, uid, index) = email::parse_file_reference(reference).ok_or_else(not_found)?;
    let view = ctx.folder_view().await?;
    let Some(Resolved::Mail { mailbox, .. }) = view.resolve(&folder) else {
        return Err(not_found());
    };
    let messages = ctx
        .app
        .mail
        .fetch_messages(&ctx.principal.credentials, &mailbox, &[uid])
        .await?;
    let attachment = messages
        .first()
        .and_then(|m| email::attachment(&m.raw, index))
        .ok_or_else(not_found)?;
    Ok(Reply::Raw {
        content_type: attachment.content_type,
        body: attachment.data,
    })
}
