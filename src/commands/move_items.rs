//! MoveItems (MS-ASCMD 2.2.1.12): moves messages between mail folders (IMAP UID MOVE)
//! and tells the device each message's new ServerId.

use airsync_model::BackendError;

use crate::eas::move_items::{self, MoveResponse, status};
use crate::error::Error;
use crate::mapping::folders::Resolved;
use crate::wbxml::Element;

use super::sync::mail;
use super::{Reply, RequestContext};

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let moves = move_items::parse(&document)?;
    let view = ctx.folder_view().await?;
    let mut answers = Vec::with_capacity(moves.len());
    for m in moves {
        let answer = |status, dst_msg_id| MoveResponse {
            src_msg_id: m.src_msg_id.clone(),
            status,
            dst_msg_id,
        };
        let Some(Resolved::Mail {
            mailbox: from,
            alias: from_alias,
            ..
        }) = view.resolve(&m.src_fld_id)
        else {
            answers.push(answer(status::INVALID_SOURCE, None));
            continue;
        };
        let Some(uid) = mail::uid_of(&m.src_fld_id, &m.src_msg_id) else {
            answers.push(answer(status::INVALID_SOURCE, None));
            continue;
        };
        let Some(Resolved::Mail {
            mailbox: to,
            alias: to_alias,
            ..
        }) = view.resolve(&m.dst_fld_id)
        else {
            answers.push(answer(status::INVALID_DESTINATION, None));
            continue;
        };
        // A read-only alias can be neither the source nor the target of a move.
        let may_remove = !from_alias || mail::Access::of(ctx, &from).await?.delete;
        let may_add = !to_alias || mail::Access::of(ctx, &to).await?.add;
        if !may_remove || !may_add {
            answers.push(answer(status::FAILED, None));
            continue;
        }
        if from == to {
            answers.push(answer(status::SAME_FOLDER, None));
            continue;
        }
        let creds = &ctx.principal.credentials;
        match ctx.app.mail.move_messages(creds, &from, &[uid], &to).await {
            Ok(pairs) => {
                let new_uid = pairs
                    .iter()
                    .find(|(old, _)| *old == uid)
                    .map(|(_, new)| *new);
                let Some(new_uid) = new_uid else {
                    // MOVE of a UID that no longer exists moves nothing.
                    answers.push(answer(status::INVALID_SOURCE, None));
                    continue;
                };
                let meta = mail::fetch_meta(ctx, &to, &[new_uid])
                    .await?
                    .into_iter()
                    .next();
                mail::record_device_move(
                    ctx,
                    (&m.src_fld_id, uid),
                    meta.as_ref().map(|meta| (m.dst_fld_id.as_str(), meta)),
                )
                .await?;
                answers.push(answer(
                    status::SUCCESS,
                    Some(mail::server_id(&m.dst_fld_id, new_uid)),
                ));
            }
            Err(BackendError::NotFound(_)) => answers.push(answer(status::INVALID_SOURCE, None)),
            Err(BackendError::Permanent(_) | BackendError::Conflict(_)) => {
                answers.push(answer(status::FAILED, None))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Reply::Wbxml(move_items::response(&answers)))
}
