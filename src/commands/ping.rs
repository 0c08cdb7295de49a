//! Ping (MS-ASCMD 2.2.1.13): the device names folders and a heartbeat; the answer comes
//! when one of them changes (Status 2 with those folders), when the folder hierarchy
//! changes (Status 7), or when the heartbeat expires (Status 1). The waiting itself is
//! `push`'s: a subscription to the user's watcher, no upstream connection of its own.

use airsync_model::BackendError;

use crate::eas::ping::{PingFolder, PingRequest, PingResponse, status};
use crate::error::Error;
use crate::push::Outcome;
use crate::wbxml::Element;

use super::{Reply, RequestContext, folder_sync, sync};

fn reply(response: PingResponse) -> Result<Reply, Error> {
    Ok(Reply::Wbxml(response.to_element()))
}

pub async fn run(ctx: &RequestContext<'_>, document: Option<Element>) -> Result<Reply, Error> {
    // A new Ping ends the device's waiting Ping or hanging Sync, on every node.
    ctx.app.push.supersede(ctx.login(), ctx.device_id()).await;
    let Ok(request) = PingRequest::parse(document.as_ref()) else {
        return reply(PingResponse::Status(status::SYNTAX_ERROR));
    };
    let (store, bounds) = (&ctx.app.store, &ctx.app.settings.push);
    // What the request leaves out comes from the device's last Ping (MS-ASCMD 3.1.5.?:
    // an empty Ping repeats the previous one).
    let saved: Option<(u32, Vec<PingFolder>)> = store
        .ping_state(ctx.login(), ctx.device_id())
        .await?
        .and_then(|(heartbeat, json)| Some((heartbeat, serde_json::from_str(&json).ok()?)));
    let heartbeat = request.heartbeat_interval.or(saved.as_ref().map(|s| s.0));
    let folders = request.folders.clone().or(saved.map(|s| s.1));
    let (Some(heartbeat), Some(folders)) = (heartbeat, folders) else {
        return reply(PingResponse::Status(status::MISSING_PARAMETERS));
    };
    if folders.is_empty() {
        return reply(PingResponse::Status(status::MISSING_PARAMETERS));
    }
    if heartbeat < bounds.min_heartbeat_secs {
        return reply(PingResponse::HeartbeatOutOfRange(bounds.min_heartbeat_secs));
    }
    if heartbeat > bounds.max_heartbeat_secs {
        return reply(PingResponse::HeartbeatOutOfRange(bounds.max_heartbeat_secs));
    }
    if folders.len() > bounds.max_folders {
        return reply(PingResponse::TooManyFolders(bounds.max_folders));
    }
    if request.heartbeat_interval.is_some() || request.folders.is_some() {
        let json = serde_json::to_string(&folders).unwrap_or_else(|_| "[]".into());
        store
            .put_ping_state(ctx.login(), ctx.device_id(), heartbeat, &json)
            .await?;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(heartbeat.into());
    let ids: Vec<String> = folders.into_iter().map(|f| f.id).collect();
    let Some(targets) = sync::push_targets(ctx, &ids).await? else {
        // A folder the device names is gone: it must FolderSync.
        return reply(PingResponse::Status(status::FOLDER_SYNC_NEEDED));
    };
    // Subscribe before looking, so that nothing that happens from here on is missed.
    let mut waiter = ctx
        .app
        .push
        .register(&ctx.principal.credentials, ctx.device_id(), targets);
    if folder_sync::hierarchy_changed(ctx).await? {
        return reply(PingResponse::Status(status::FOLDER_SYNC_NEEDED));
    }
    loop {
        return match waiter.wait(deadline).await {
            Outcome::Changed(ids) => reply(PingResponse::Changes(ids)),
            Outcome::Hierarchy => {
                if folder_sync::hierarchy_changed(ctx).await? {
                    reply(PingResponse::Status(status::FOLDER_SYNC_NEEDED))
                } else {
                    continue;
                }
            }
            // A newer request of the device, or the server stopping: the phone simply
            // Pings again (where it is answered at once if something changed meanwhile).
            Outcome::Expired | Outcome::Superseded | Outcome::Shutdown => {
                reply(PingResponse::Status(status::EXPIRED))
            }
            Outcome::Down => Err(Error::Backend(BackendError::Transient(
                "push: the upstream cannot be reached".into(),
            ))),
        };
    }
}
