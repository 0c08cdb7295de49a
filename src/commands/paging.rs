//! The request context of a paging chain: a device in the middle of a long Sync (the
//! last answer said MoreAvailable) sends its next Sync moments later, and that request
//! reuses what the previous one read of the store — the account's override layers, the
//! device's record and the account's folder view — instead of reading all three again
//! (three of the few statements a window costs).
//!
//! Kept for at most [`REUSE_FOR`] and taken by the device's very next request,
//! whatever its command: only a Sync uses it, so a Provision, FolderSync or MoveItems
//! in between ends the reuse. What an administrator changes meanwhile (a remote wipe,
//! a block, a hidden folder) reaches the device at most `REUSE_FOR` later, on any node;
//! the same bound within which a paging chain already skips the upstream delta
//! (`sync::prefetch::FRESH_FOR`). Authentication is never reused: every request is
//! still checked against the upstream (or its verified-credentials cache).

use std::time::Duration;

use moka::future::Cache;

use crate::mapping::folders::FolderView;
use crate::state::{Device, Overrides};

use super::RequestContext;
use super::sync::prefetch::TakeOnce;

/// How long after a MoreAvailable answer the device's next Sync may reuse its context.
pub const REUSE_FOR: Duration = Duration::from_secs(2);

/// What a paging chain's next Sync reuses.
#[derive(Debug, Clone)]
pub struct Reused {
    /// The account's and its domain's override layers.
    pub layers: [Overrides; 2],
    /// The device as stored after the previous request (and allowed by the gate).
    pub device: Device,
    /// The account's folder map and rules.
    pub view: FolderView,
}

impl Reused {
    /// What the request of `ctx` leaves to the device's next one: its layers, its
    /// folder view, and its device as the gate let it through (allowed, and so recorded
    /// as not blocked).
    pub fn of(ctx: &RequestContext<'_>, view: FolderView) -> Reused {
        let mut device = ctx.device.clone();
        device.blocked = false;
        Reused {
            layers: ctx.layers.clone(),
            device,
            view,
        }
    }
}

/// The contexts kept for the next request of each (login, device).
pub struct PagingContexts(Cache<(String, String), TakeOnce<Reused>>);

impl Default for PagingContexts {
    fn default() -> Self {
        PagingContexts(
            Cache::builder()
                .max_capacity(100_000)
                .time_to_live(REUSE_FOR)
                .build(),
        )
    }
}

impl PagingContexts {
    /// A Sync that answered MoreAvailable keeps its context for the device's next
    /// request.
    pub async fn keep(&self, reused: Reused) {
        let key = (reused.device.login.clone(), reused.device.device_id.clone());
        self.0.insert(key, TakeOnce::new(reused)).await;
    }

    /// The context kept for this device's next request, if any and still young; taken,
    /// so that it serves one request at most.
    pub async fn take(&self, login: &str, device_id: &str) -> Option<Reused> {
        let key = (login.to_string(), device_id.to_string());
        // `get` never returns an entry past its time to live (`remove` may, until the
        // cache's housekeeping runs).
        let kept = self.0.get(&key).await;
        self.0.invalidate(&key).await;
        kept?.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reused(login: &str, device_id: &str) -> Reused {
        Reused {
            layers: Default::default(),
            device: Device::unregistered(login, device_id, "TestPhone"),
            view: FolderView::default(),
        }
    }

    #[tokio::test]
    async fn a_context_serves_the_next_request_of_its_device_once() {
        let contexts = PagingContexts::default();
        contexts.keep(reused("a@x", "D1")).await;
        contexts.keep(reused("b@x", "D1")).await;
        // Another account's device of the same id, or another device, gets nothing.
        assert!(contexts.take("a@x", "D2").await.is_none());
        let got = contexts.take("a@x", "D1").await.expect("kept");
        assert_eq!(
            (got.device.login.as_str(), got.device.device_id.as_str()),
            ("a@x", "D1")
        );
        assert!(contexts.take("a@x", "D1").await.is_none(), "taken once");
        assert_eq!(
            contexts.take("b@x", "D1").await.unwrap().device.login,
            "b@x"
        );
    }

    #[tokio::test]
    async fn a_context_expires() {
        let contexts = PagingContexts::default();
        contexts.keep(reused("a@x", "D1")).await;
        tokio::time::sleep(REUSE_FOR + Duration::from_millis(100)).await;
        assert!(contexts.take("a@x", "D1").await.is_none());
    }
}
