//! Conversation moves (MS-ASCON 3.1.4.x, MS-ASCMD 2.2.3.117.1): ItemOperations Move
//! sends a whole conversation, and every message that joins it later, to one folder.
//!
//! A device names a conversation by its Email2:ConversationId, which airsync derives
//! from the thread root's Message-ID (`mapping::email::conversation`). A hash cannot be
//! reversed, and nothing upstream can be searched for it, so a move reads the thread
//! header fields (Message-ID, References, In-Reply-To) of every message in each of the
//! account's own visible mail folders except the destination and Sent Items, computes
//! each one's id, and moves the matches with UID MOVE. The devices learn the new places
//! from ordinary Sync Deletes and Adds. (airsync used to record every id a device was
//! shown, with its root, while syncing — 10–15 % of an initial sync's cost, paid for a
//! command that is rare — and searched upstream for that root.)
//!
//! MoveAlways (MS-ASCMD 2.2.3.118) also covers future messages: the conversation keeps
//! its destination in the store, and a Sync that would offer a new message of it in
//! another folder moves the message there instead ([`apply_always_move`]).

use std::collections::HashMap;

use airsync_model::{MessageMeta, Uid};

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
/// The header fields that place a message in its thread (`email::conversation`).
const THREAD_FIELDS: [&str; 3] = ["Message-ID", "References", "In-Reply-To"];

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
    let creds = &ctx.principal.credentials;
    let sent = folders::sent_mailbox(&ctx.app.mail.list_mailboxes(creds).await?);
    // Each folder's members of the thread, found by the thread header fields of every
    // message (the id is a hash: nothing upstream can be searched for it).
    // The destination keeps its own, and Sent Items the user's sent copies: they are
    // read only when no other folder names the thread's root.
    let (stay, sources): (Vec<String>, Vec<String>) = own_mail_folders(view)
        .into_iter()
        .partition(|f| *f == dst || sent.as_deref() == Some(f.as_str()));
    let mut root = None;
    let mut members: Vec<(String, Vec<Uid>)> = Vec::new();
    for (folder, movable) in sources
        .into_iter()
        .map(|f| (f, true))
        .chain(stay.into_iter().map(|f| (f, false)))
    {
        if !movable && root.is_some() {
            break;
        }
        let headers = ctx
            .app
            .mail
            .fetch_header_fields(creds, &folder, &THREAD_FIELDS)
            .await?;
        let (found, thread_root) = in_conversation(&headers, conversation_id);
        root = root.or(thread_root);
        if movable && !found.is_empty() {
            members.push((folder, found));
        }
    }
    let Some(root) = root else {
        return Ok(answer(status::OBJECT_NOT_FOUND));
    };
    ctx.app
        .store
        .set_always_move(ctx.login(), &id, &root, dst_id)
        .await?;
    let mut moved = 0usize;
    for (source, uids) in members {
        ctx.app
            .mail
            .move_messages(creds, &source, &uids, &dst)
            .await?;
        moved += uids.len();
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

/// The messages of one folder that belong to the conversation, from their thread header
/// fields: the newest [`MAX_PER_FOLDER`] of their UIDs, and the thread's root Message-ID
/// when any belongs.
fn in_conversation(
    headers: &[(MessageMeta, Vec<u8>)],
    conversation_id: &[u8],
) -> (Vec<Uid>, Option<String>) {
    let mut root = None;
    let mut found: Vec<&MessageMeta> = Vec::new();
    for (meta, text) in headers {
        if let Some((id, thread_root)) = email::conversation(text)
            && id[..] == *conversation_id
        {
            root.get_or_insert(thread_root);
            found.push(meta);
        }
    }
    found.sort_by_key(|m| std::cmp::Reverse((m.internal_date, m.uid)));
    found.truncate(MAX_PER_FOLDER);
    (found.into_iter().map(|m| m.uid).collect(), root)
}

/// Called by mail Sync with the new messages it is about to offer from `mailbox`: the
/// ones whose conversation is always moved elsewhere are moved there now and taken out
/// of `fetched`, so the device sees them only in their destination folder. Sent Items
/// and other accounts' folders are left alone (MS-ASCON 2.2.2.8). `view` is the
/// request's folder view, which holds the account's rules.
pub async fn apply_always_move(
    ctx: &RequestContext<'_>,
    view: &FolderView,
    collection_id: &str,
    mailbox: &str,
    fetched: &mut HashMap<Uid, Prepared>,
) -> Result<(), Error> {
    let rules = &view.always_moves;
    if fetched.is_empty() || rules.is_empty() {
        return Ok(());
    }
    // Destination folder id → the UIDs going there.
    let mut moves: HashMap<i64, Vec<Uid>> = HashMap::new();
    for (uid, message) in fetched.iter() {
        if let Some(id) = &message.conversation
            && let Some(&folder_id) = rules.get(&hex(id))
        {
            moves.entry(folder_id).or_default().push(*uid);
        }
    }
    if moves.is_empty() {
        return Ok(());
    }
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

    fn message(uid: Uid, internal_date: i64, header: &str) -> (MessageMeta, Vec<u8>) {
        let meta = MessageMeta {
            uid,
            flags: vec![],
            internal_date,
            size: None,
            modseq: None,
        };
        (meta, header.as_bytes().to_vec())
    }

    #[test]
    fn only_messages_of_the_thread_are_members() {
        let root = message(1, 10, "Message-ID: <root@x>\r\n\r\n");
        let reply = message(2, 20, "Message-ID: <r@x>\r\nReferences: <root@x>\r\n\r\n");
        // Mentions the root only as a later reference: another thread's message.
        let other = message(
            3,
            30,
            "Message-ID: <o@x>\r\nReferences: <first@x> <root@x>\r\n\r\n",
        );
        // No Message-ID at all: its own conversation, never a member.
        let bare = message(4, 40, "Subject: x\r\n\r\n");
        let (id, _) = email::conversation(&root.1).unwrap();
        // Newest first; the root is the thread's, whichever member came first.
        assert_eq!(
            in_conversation(&[root, reply, other, bare], &id),
            (vec![2, 1], Some("root@x".to_string()))
        );
        assert_eq!(in_conversation(&[], &id), (vec![], None));
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
