//! Read-ahead for long initial syncs: when a mail Sync answers with MoreAvailable, the
//! messages of the device's next window are fetched in the background while the phone
//! reads this answer, so its next request does not wait for the upstream.
//!
//! Safe because a message's content never changes under one UID and UIDVALIDITY: the
//! key names both. Flags in a read-ahead copy can be stale; the Sync prefers the flags
//! of its own upstream delta, which is newer.

use std::sync::Arc;
use std::time::Duration;

use airsync_model::{BackendError, Credentials, FetchedMessage, MailStore, Uid};
use moka::future::Cache;

/// One device's next window of one collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub login: String,
    pub device: String,
    pub collection: String,
    /// The SyncKey the device will send with its next request.
    pub sync_key: i64,
    pub uidvalidity: u32,
}

/// Windows fetched ahead, bounded by size and time.
pub struct Prefetch {
    cache: Cache<Key, Arc<Vec<FetchedMessage>>>,
    /// Windows whose Sync may skip the upstream delta: the previous answer ended with
    /// MoreAvailable moments ago, so the device is still draining changes the server
    /// already knows of.
    fresh: Cache<Key, ()>,
}

/// How long after a MoreAvailable answer the next window may skip the upstream delta.
/// Changes made meanwhile are not lost: the snapshot's cursor stays where it was, and
/// the first Sync after this reads the delta from there.
const FRESH_FOR: Duration = Duration::from_secs(2);

impl Default for Prefetch {
    fn default() -> Self {
        Prefetch {
            cache: Cache::builder()
                // Weighed in KiB: at most 128 MiB of messages held ahead.
                .weigher(|_, v: &Arc<Vec<FetchedMessage>>| {
                    (v.iter().map(|m| m.raw.len()).sum::<usize>() / 1024).min(u32::MAX as usize)
                        as u32
                })
                .max_capacity(128 * 1024)
                .time_to_live(Duration::from_secs(60))
                .build(),
            fresh: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(FRESH_FOR)
                .build(),
        }
    }
}

impl Prefetch {
    /// The Sync that answered with MoreAvailable marks the device's next window.
    pub async fn mark_fresh(&self, key: Key) {
        self.fresh.insert(key, ()).await;
    }

    /// True (once) when the window's Sync may skip the upstream delta.
    pub async fn take_fresh(&self, key: &Key) -> bool {
        self.fresh.remove(key).await.is_some()
    }

    /// Starts fetching `uids` for `key` in the background.
    pub fn start(
        &self,
        key: Key,
        mail: Arc<dyn MailStore>,
        creds: Credentials,
        mailbox: String,
        uids: Vec<Uid>,
    ) {
        if uids.is_empty() {
            return;
        }
        let cache = self.cache.clone();
        tokio::spawn(async move {
            let load = async move {
                mail.fetch_messages(&creds, &mailbox, &uids)
                    .await
                    .map(Arc::new)
            };
            if let Err(e) = cache.try_get_with(key, load).await {
                tracing::debug!(target: "airsync", error = %e, "read-ahead failed; the next Sync fetches itself");
            }
        });
    }

    /// The messages `uids` (in that order, those that exist): taken from a finished or
    /// still running read-ahead for `key` when there is one, the rest fetched now.
    pub async fn take(
        &self,
        key: Key,
        mail: &Arc<dyn MailStore>,
        creds: &Credentials,
        mailbox: &str,
        uids: &[Uid],
    ) -> Result<Vec<FetchedMessage>, BackendError> {
        // A finished read-ahead is taken, a running one awaited; without one, this
        // window is fetched now.
        let (m, c, mb, wanted) = (
            mail.clone(),
            creds.clone(),
            mailbox.to_string(),
            uids.to_vec(),
        );
        let load = async move { m.fetch_messages(&c, &mb, &wanted).await.map(Arc::new) };
        let ahead = self
            .cache
            .try_get_with(key.clone(), load)
            .await
            .map_err(|e| (*e).clone())?;
        self.cache.invalidate(&key).await;
        let mut by_uid: std::collections::HashMap<Uid, &FetchedMessage> =
            ahead.iter().map(|m| (m.meta.uid, m)).collect();
        let missing: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|u| !by_uid.contains_key(u))
            .collect();
        let fetched = if missing.is_empty() {
            Vec::new()
        } else {
            mail.fetch_messages(creds, mailbox, &missing).await?
        };
        for m in &fetched {
            by_uid.insert(m.meta.uid, m);
        }
        Ok(uids
            .iter()
            .filter_map(|u| by_uid.get(u).map(|m| (*m).clone()))
            .collect())
    }
}
