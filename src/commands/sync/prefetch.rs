//! Read-ahead for long initial syncs: when a Sync answers with MoreAvailable, the items
//! of the device's next window are fetched in the background while the phone reads this
//! answer, so its next request does not wait for the upstream. Mail windows are IMAP
//! messages, already converted for the device (`window.rs`); calendar, contact and task
//! windows are DAV objects (one multiget).
//!
//! Safe for mail because a message's content never changes under one UID and
//! UIDVALIDITY, which the key names; flags in a read-ahead copy can be stale, and the
//! Sync prefers the flags of its own upstream delta, which is newer. A DAV object can
//! change after it was read ahead: the copy is at most as old as the window's listing,
//! which a paging chain already reuses (see `pim::paging`), and the ETag it carries
//! makes the next delta send the newer version.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airsync_model::{BackendError, Credentials, DavObject, DavStore, Uid};
use moka::future::Cache;

use super::window::{Prepared, Reader};

/// One device's next window of one collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub login: String,
    pub device: String,
    pub collection: String,
    /// The SyncKey the device will send with its next request.
    pub sync_key: i64,
    /// Mail: the mailbox's UIDVALIDITY; DAV: 0.
    pub uidvalidity: u32,
}

/// What a window's item weighs in the cache (its bytes).
pub trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for DavObject {
    fn weight(&self) -> usize {
        self.data.len()
    }
}

/// A cache value that the first request to want it moves out: moka may still hold an
/// entry for a while after it is removed or invalidated, so an `Arc` is rarely unique
/// when taken, and a copy of a converted window (or a decoded snapshot) costs as much
/// as making it again.
pub struct TakeOnce<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for TakeOnce<T> {
    fn clone(&self) -> Self {
        TakeOnce(self.0.clone())
    }
}

impl<T> TakeOnce<T> {
    pub fn new(value: T) -> Self {
        TakeOnce(Arc::new(Mutex::new(Some(value))))
    }

    /// The value, unless another request took it first.
    pub fn take(&self) -> Option<T> {
        self.lock().take()
    }

    /// What `f` says of the value while it is still there (for a cache's weigher).
    pub fn peek<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        f(self.lock().as_ref())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<T>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A window in the cache.
type Window<T> = TakeOnce<Vec<T>>;

/// Windows of one kind fetched ahead, bounded by size (64 MiB) and time (60 s).
pub struct ReadAhead<T> {
    cache: Cache<Key, Window<T>>,
}

impl<T: Weight + Send + Sync + 'static> Default for ReadAhead<T> {
    fn default() -> Self {
        ReadAhead {
            cache: Cache::builder()
                // Weighed in KiB, when inserted.
                .weigher(|_, v: &Window<T>| {
                    let bytes = v.peek(|items| {
                        items
                            .into_iter()
                            .flatten()
                            .map(Weight::weight)
                            .sum::<usize>()
                    });
                    (bytes / 1024).min(u32::MAX as usize) as u32
                })
                .max_capacity(64 * 1024)
                .time_to_live(Duration::from_secs(60))
                .build(),
        }
    }
}

impl<T: Weight + Send + Sync + 'static> ReadAhead<T> {
    /// Starts `load` for `key` in the background, unless `key` is being read or was
    /// read already (and not yet taken).
    fn start<F>(&self, key: Key, load: F)
    where
        F: Future<Output = Result<Vec<T>, BackendError>> + Send + 'static,
    {
        let cache = self.cache.clone();
        tokio::spawn(async move {
            if let Err(e) = cache
                .try_get_with(key, async { load.await.map(Window::new) })
                .await
            {
                tracing::debug!(target: "airsync", error = %e, "read-ahead failed; the next Sync fetches itself");
            }
        });
    }

    /// The items `wanted` (in that order, those that exist), named by `id`: taken from a
    /// finished or still running read-ahead for `key` when there is one, the ones it
    /// lacks (a different window, or items that are gone) asked of `fetch` now. Without
    /// a read-ahead, `fetch` gets the whole window.
    async fn take<K, F, Fut>(
        &self,
        key: Key,
        wanted: &[K],
        id: impl Fn(&T) -> K,
        fetch: F,
    ) -> Result<Vec<T>, BackendError>
    where
        K: Clone + Eq + std::hash::Hash,
        F: Fn(Vec<K>) -> Fut,
        Fut: Future<Output = Result<Vec<T>, BackendError>>,
    {
        let ahead = self
            .cache
            .try_get_with(key.clone(), async {
                fetch(wanted.to_vec()).await.map(Window::new)
            })
            .await
            .map_err(|e| (*e).clone())?;
        self.cache.invalidate(&key).await;
        // Another request of the same device that took it first leaves nothing: the
        // items are then fetched again below.
        let ahead = ahead.take().unwrap_or_default();
        let mut by_id: HashMap<K, T> = ahead.into_iter().map(|t| (id(&t), t)).collect();
        let missing: Vec<K> = wanted
            .iter()
            .filter(|k| !by_id.contains_key(*k))
            .cloned()
            .collect();
        if !missing.is_empty() {
            for t in fetch(missing).await? {
                by_id.insert(id(&t), t);
            }
        }
        Ok(wanted.iter().filter_map(|k| by_id.remove(k)).collect())
    }
}

/// The read-ahead windows of both kinds, and which mail windows may skip the delta.
pub struct Prefetch {
    mail: ReadAhead<Prepared>,
    dav: ReadAhead<DavObject>,
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
            mail: ReadAhead::default(),
            dav: ReadAhead::default(),
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
        // moka's `remove` returns an entry past its time to live until the cache's
        // housekeeping drops it; `get` does not.
        let fresh = self.fresh.get(key).await.is_some();
        self.fresh.invalidate(key).await;
        fresh
    }

    /// Starts reading the messages `wanted` (UID and INTERNALDATE) for `key` in the
    /// background, unless that window is being read already.
    pub fn start(&self, key: Key, reader: Reader, wanted: Vec<(Uid, i64)>) {
        if wanted.is_empty() {
            return;
        }
        self.mail
            .start(key, async move { reader.read(wanted).await });
    }

    /// The messages `wanted` (UID and INTERNALDATE; in that order, those that exist),
    /// prepared: taken from a finished or still running read-ahead for `key` when there
    /// is one, the rest read now.
    pub async fn take(
        &self,
        key: Key,
        reader: &Reader,
        wanted: &[(Uid, i64)],
    ) -> Result<Vec<Prepared>, BackendError> {
        self.mail
            .take(
                key,
                wanted,
                |p: &Prepared| (p.message.meta.uid, p.message.meta.internal_date),
                |wanted| reader.read(wanted),
            )
            .await
    }

    /// Starts a multiget of `hrefs` in `collection` for `key` in the background.
    pub fn start_dav(
        &self,
        key: Key,
        dav: Arc<dyn DavStore>,
        creds: Credentials,
        collection: String,
        hrefs: Vec<String>,
    ) {
        if hrefs.is_empty() {
            return;
        }
        self.dav.start(
            key,
            async move { dav.fetch(&creds, &collection, &hrefs).await },
        );
    }

    /// The objects `hrefs` of `collection` (those that exist), from the read-ahead for
    /// `key` as far as it has them (see [`ReadAhead::take`]).
    pub async fn take_dav(
        &self,
        key: Key,
        dav: &dyn DavStore,
        creds: &Credentials,
        collection: &str,
        hrefs: &[String],
    ) -> Result<Vec<DavObject>, BackendError> {
        self.dav
            .take(
                key,
                hrefs,
                |o: &DavObject| o.href.clone(),
                |hrefs| async move { dav.fetch(creds, collection, &hrefs).await },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, PartialEq)]
    struct Item(u32);

    impl Weight for Item {
        fn weight(&self) -> usize {
            1024
        }
    }

    fn key(sync_key: i64) -> Key {
        Key {
            login: "a".into(),
            device: "d".into(),
            collection: "5".into(),
            sync_key,
            uidvalidity: 1,
        }
    }

    #[tokio::test]
    async fn a_window_is_taken_once_and_gaps_are_fetched() {
        let ahead = ReadAhead::<Item>::default();
        // Read ahead: 1, 2, 3 (3 has gone by the time the window is asked for).
        ahead.start(key(2), async { Ok(vec![Item(1), Item(2), Item(3)]) });
        // Let the read-ahead task begin (a Sync arriving before it does fetches itself).
        tokio::task::yield_now().await;
        // A window already read ahead is not read again.
        ahead.start(key(2), async { Ok(vec![Item(9)]) });
        tokio::task::yield_now().await;
        let fetched = AtomicUsize::new(0);
        let fetch = |ids: Vec<u32>| {
            fetched.fetch_add(ids.len(), Ordering::SeqCst);
            async move { Ok(ids.into_iter().map(Item).collect()) }
        };
        let got = ahead
            .take(key(2), &[4, 2, 1], |i: &Item| i.0, fetch)
            .await
            .unwrap();
        assert_eq!(got, [Item(4), Item(2), Item(1)]);
        assert_eq!(fetched.load(Ordering::SeqCst), 1, "only 4 was fetched");
        // Taken: the same window again is fetched whole, as is one never read ahead.
        let again = ahead
            .take(key(2), &[1, 2], |i: &Item| i.0, fetch)
            .await
            .unwrap();
        assert_eq!(again, [Item(1), Item(2)]);
        assert_eq!(fetched.load(Ordering::SeqCst), 3);
        let other = ahead
            .take(key(3), &[7], |i: &Item| i.0, fetch)
            .await
            .unwrap();
        assert_eq!((other, fetched.load(Ordering::SeqCst)), (vec![Item(7)], 4));
    }
}
