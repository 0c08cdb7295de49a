//! Conversation moves (MS-ASCON 3.1.4.x, MS-ASCMD 2.2.3.117.1): ItemOperations Move
//! sends a whole conversation, and every message that joins it later, to one folder.
//!
//! A device names a conversation by its Email2:ConversationId, which airsync derives
//! from the thread root's Message-ID (`mapping::email::conversation`). A hash cannot be
//! reversed, so every Sync that shows a device a message remembers which root its id
//! stands for ([`remember`]). A move then searches each of the account's own visible
//! mail folders except Sent Items for that thread (IMAP SEARCH on Message-ID,
//! References and In-Reply-To), checks each hit's id, and moves the matches with UID
//! MOVE. The devices learn the new places from ordinary Sync Deletes and Adds.
//!
//! MoveAlways (MS-ASCMD 2.2.3.118) also covers future messages: the conversation keeps
//! its destination in the store, and a Sync that would offer a new message of it in
//! another folder moves the message there instead ([`apply_always_move`]).

use std::collections::HashMap;

use airsync_model::{FetchedMessage, SearchKey, Uid};

use crate::commands::sync::window::Prepared;
use crate::eas::item_operations::status;
use crate::error::Error;
use crate::mapping::email;
use crate::mapping::folders::{self, FolderView, Resolved};
use crate::wbxml::Element;
use crate::wbxml::pages::ItemOperations as I;

use super::RequestContext;

/// MS-ASCMD 2.2.3.118: a conversation Move without MoveAlways is refused with 155.
const MOVE_ALWAYS_MISSING: u16 = 155;
/// ItemOperations Status 16: access to the resource is denied.
const ACCESS_DENIED: u16 = 16;
/// How many messages of one conversation a move takes from one folder.
const MAX_PER_FOLDER: usize = 1000;

/// The store's key for a ConversationId.
pub(crate) fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers one ItemOperations Move: `<Move><ConversationId/><Status/></Move>`.
pub async fn move_conversation(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    conversation_id: &[u8],
    dst_fld_id: &str,
    move_always: bool,
) -> Result<Element, Error> {
    let answer = |code: u16| {
        Element::new(I::Move)
            .child(Element::with_opaque(
                I::ConversationId,
                conversation_id.to_vec(),
            ))
            .text_child(I::Status, code.to_string())
    };
    if conversation_id.len() != 16 {
        return Ok(answer(status::PROTOCOL_ERROR));
    }
    if !move_always {
        return Ok(answer(MOVE_ALWAYS_MISSING));
    }
    let (dst_id, dst) = match view.resolve(dst_fld_id) {
        Some(Resolved::Mail {
            folder_id,
            mailbox,
            alias: false,
        }) => (folder_id, mailbox),
        // Another account's mailbox is no place to file one's own conversations.
        Some(Resolved::Mail { alias: true, .. }) => return Ok(answer(ACCESS_DENIED)),
        _ => return Ok(answer(status::OBJECT_NOT_FOUND)),
    };
    let id = hex(conversation_id);
    let login = ctx.login();
    let Some(root) = ctx.app.store.conversation_root(login, &id).await? else {
        return Ok(answer(status::OBJECT_NOT_FOUND));
    };
    ctx.app.store.set_always_move(login, &id, dst_id).await?;

    let creds = &ctx.principal.credentials;
    let sent = folders::sent_mailbox(&ctx.app.mail.list_mailboxes(creds).await?);
    let thread = SearchKey::AnyOf(
        ["Message-ID", "References", "In-Reply-To"]
            .into_iter()
            .map(|h| SearchKey::Header(h.into(), root.clone()))
            .collect(),
    );
    let mut moved = 0usize;
    for source in own_mail_folders(view) {
        if source == dst || sent.as_deref() == Some(source.as_str()) {
            continue;
        }
        let hits = ctx
            .app
            .mail
            .search(
                creds,
                &source,
                std::slice::from_ref(&thread),
                MAX_PER_FOLDER,
            )
            .await?;
        if hits.newest.is_empty() {
            continue;
        }
        let uids: Vec<Uid> = hits.newest.iter().map(|m| m.uid).collect();
        // HEADER matches substrings and later References: keep exactly this thread.
        let members = in_conversation(
            &ctx.app.mail.fetch_messages(creds, &source, &uids).await?,
            conversation_id,
        );
        if !members.is_empty() {
            ctx.app
                .mail
                .move_messages(creds, &source, &members, &dst)
                .await?;
            moved += members.len();
        }
    }
    tracing::info!(target: "airsync", conversation = %id, moved, "conversation moved");
    Ok(answer(status::SUCCESS))
}

/// The account's own (not aliased) visible mail folders.
fn own_mail_folders(view: &FolderView) -> Vec<String> {
    view.rows
        .iter()
        .filter_map(|row| match view.resolve(&row.folder_id.to_string()) {
            Some(Resolved::Mail {
                mailbox,
                alias: false,
                ..
            }) => Some(mailbox),
            _ => None,
        })
        .collect()
}

/// The UIDs of the messages that belong to the conversation.
fn in_conversation(messages: &[FetchedMessage], conversation_id: &[u8]) -> Vec<Uid> {
    messages
        .iter()
        .filter(|m| email::conversation(&m.raw).is_some_and(|(id, _)| id[..] == *conversation_id))
        .map(|m| m.meta.uid)
        .collect()
}

/// Called by mail Sync with the new messages it is about to offer from `mailbox`: the
/// ones whose conversation is always moved elsewhere are moved there now and taken out
/// of `fetched`, so the device sees them only in their destination folder. Sent Items
/// and other accounts' folders are left alone (MS-ASCON 2.2.2.8).
pub async fn apply_always_move(
    ctx: &RequestContext<'_>,
    collection_id: &str,
    mailbox: &str,
    fetched: &mut HashMap<Uid, Prepared>,
) -> Result<(), Error> {
    if fetched.is_empty() {
        return Ok(());
    }
    let rules: HashMap<String, i64> = ctx
        .app
        .store
        .always_moves(ctx.login())
        .await?
        .into_iter()
        .collect();
    if rules.is_empty() {
        return Ok(());
    }
    // Destination folder id → the UIDs going there.
    let mut moves: HashMap<i64, Vec<Uid>> = HashMap::new();
    for (uid, message) in fetched.iter() {
        if let Some((id, _)) = &message.conversation
            && let Some(&folder_id) = rules.get(&hex(id))
        {
            moves.entry(folder_id).or_default().push(*uid);
        }
    }
    if moves.is_empty() {
        return Ok(());
    }
    let view = ctx.folder_view().await?;
    if !matches!(
        view.resolve(collection_id),
        Some(Resolved::Mail { alias: false, .. })
    ) {
        return Ok(());
    }
    let creds = &ctx.principal.credentials;
    let sent = folders::sent_mailbox(&ctx.app.mail.list_mailboxes(creds).await?);
    if sent.as_deref() == Some(mailbox) {
        return Ok(());
    }
    for (folder_id, uids) in moves {
        // A destination folder that is gone or hidden by now ends the rule's effect.
        let Some(Resolved::Mail {
            mailbox: dst,
            alias: false,
            ..
        }) = view.resolve(&folder_id.to_string())
        else {
            continue;
        };
        if dst == mailbox {
            continue;
        }
        ctx.app
            .mail
            .move_messages(creds, mailbox, &uids, &dst)
            .await?;
        for uid in uids {
            fetched.remove(&uid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use airsync_model::MessageMeta;

    fn message(uid: Uid, raw: &str) -> FetchedMessage {
        FetchedMessage {
            meta: MessageMeta {
                uid,
                flags: vec![],
                internal_date: 0,
                size: raw.len() as u64,
                modseq: None,
            },
            raw: raw.as_bytes().to_vec(),
        }
    }

    #[test]
    fn only_messages_of_the_thread_are_members() {
        let root = message(1, "Message-ID: <root@x>\r\n\r\nhi");
        let reply = message(2, "Message-ID: <r@x>\r\nReferences: <root@x>\r\n\r\nre");
        // Mentions the root only as a later reference: another thread's message.
        let other = message(
            3,
            "Message-ID: <o@x>\r\nReferences: <first@x> <root@x>\r\n\r\nx",
        );
        let (id, _) = email::conversation(&root.raw).unwrap();
        assert_eq!(in_conversation(&[root, reply, other], &id), vec![1, 2]);
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
