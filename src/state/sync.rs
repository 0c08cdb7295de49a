//! Sync keys per (account, device, collection), the ClientId map of client Adds, and
//! the cached last Sync request. The snapshots are opaque bytes here; their format
//! belongs to the Sync command (`commands/sync/snapshot.rs`).

use sqlx::Row;

use super::{Store, StoreError, now};

/// One stored Sync key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub key: i64,
    pub bytes: Vec<u8>,
    /// `Some`: `bytes` are a difference from the full snapshot of this key.
    pub base_key: Option<i64>,
}

/// Keys below $4 go, except the bases of keys that stay.
const PRUNE: &str = "DELETE FROM sync_state WHERE login = $1 AND device_id = $2 \
    AND collection_id = $3 AND sync_key < $4 AND sync_key NOT IN (\
    SELECT base_key FROM sync_state WHERE login = $1 AND device_id = $2 \
    AND collection_id = $3 AND sync_key >= $4 AND base_key IS NOT NULL)";

/// A key a Sync answers with, to be stored ([`Store::put_sync_answer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSyncKey {
    pub collection_id: String,
    pub key: i64,
    pub snapshot: Vec<u8>,
    /// `Some`: `snapshot` is a difference from the full snapshot of this key.
    pub base_key: Option<i64>,
    /// Keys below this one are pruned ([`Store::prune_sync_snapshots`]).
    pub keep_from: Option<i64>,
}

/// Inserts or replaces one key: $1 login, $2 device, $3 collection, $4 key, $5 the
/// snapshot, $6 created, $7 base key.
macro_rules! put_key {
    () => {
        "INSERT INTO sync_state (login, device_id, collection_id, sync_key, snapshot, created, base_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (login, device_id, collection_id, sync_key) \
         DO UPDATE SET snapshot = $5, created = $6, base_key = $7"
    };
}
/// Inserts or replaces the cached request (placeholder `$p`) of $1 login, $2 device.
macro_rules! put_cache {
    ($p:literal) => {
        concat!(
            "INSERT INTO sync_cache (login, device_id, request) VALUES ($1, $2, ",
            $p,
            ") ON CONFLICT (login, device_id) DO UPDATE SET request = ",
            $p
        )
    };
}
const PUT_KEY: &str = put_key!();
/// [`PUT_KEY`] and the cached request in one round trip to the database: two
/// statements for SQLite (which runs them in turn), one for PostgreSQL (which takes no
/// second statement in a prepared query, but a data-modifying WITH).
const PUT_KEY_AND_CACHE_SQLITE: &str = concat!(put_key!(), "; ", put_cache!("$8"));
const PUT_KEY_AND_CACHE_POSTGRES: &str = concat!(
    "WITH stored AS (",
    put_key!(),
    " RETURNING 1) ",
    put_cache!("$8")
);

impl Store {
    /// The snapshot behind `key`, if the device may still use that key.
    pub async fn sync_snapshot(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
        key: i64,
    ) -> Result<Option<StoredSnapshot>, StoreError> {
        let row = sqlx::query(
            "SELECT snapshot, base_key FROM sync_state \
             WHERE login = $1 AND device_id = $2 AND collection_id = $3 AND sync_key = $4",
        )
        .bind(login)
        .bind(device_id)
        .bind(collection_id)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredSnapshot {
            key,
            bytes: row.try_get("snapshot")?,
            base_key: row.try_get("base_key")?,
        }))
    }

    /// Every stored key of a collection on a device, with its snapshot.
    pub async fn sync_snapshots(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
    ) -> Result<Vec<StoredSnapshot>, StoreError> {
        let rows = sqlx::query(
            "SELECT sync_key, snapshot, base_key FROM sync_state WHERE login = $1 AND device_id = $2 AND collection_id = $3",
        )
        .bind(login)
        .bind(device_id)
        .bind(collection_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredSnapshot {
                    key: r.try_get("sync_key")?,
                    bytes: r.try_get("snapshot")?,
                    base_key: r.try_get("base_key")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Replaces the snapshot behind an existing key with a full one (used when the
    /// device changed its own state outside Sync, e.g. with MoveItems, and when a key
    /// learns a newer cursor). Rows based on it keep their own differences.
    pub async fn replace_sync_snapshot(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
        key: i64,
        snapshot: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_state SET snapshot = $5, base_key = NULL WHERE login = $1 AND device_id = $2 AND collection_id = $3 AND sync_key = $4",
        )
        .bind(login)
        .bind(device_id)
        .bind(collection_id)
        .bind(key)
        .bind(snapshot)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest key of a collection on a device.
    pub async fn latest_sync_key(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(sync_key) FROM sync_state WHERE login = $1 AND device_id = $2 AND collection_id = $3",
        )
        .bind(login)
        .bind(device_id)
        .bind(collection_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Records the snapshot behind a new key — full, or a difference from the full
    /// snapshot of `base_key` — then forgets keys below `keep_from` (`None`: keeps them
    /// for now). The answer naming `key` is sent only after this returns, so a crash in
    /// between leads to a replay of the old key, never to a gap. Two statements, not one
    /// transaction: BEGIN and COMMIT would be two more hand-offs to the database on every
    /// Sync window, and a crash between the two only leaves old keys for the next call
    /// to forget.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_sync_snapshot(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
        key: i64,
        snapshot: &[u8],
        base_key: Option<i64>,
        keep_from: Option<i64>,
    ) -> Result<(), StoreError> {
        let new_key = NewSyncKey {
            collection_id: collection_id.to_string(),
            key,
            snapshot: snapshot.to_vec(),
            base_key,
            keep_from,
        };
        self.put_key(login, device_id, &new_key, None).await
    }

    /// One new key, with the cached request when `cached_request` is given.
    async fn put_key(
        &self,
        login: &str,
        device_id: &str,
        k: &NewSyncKey,
        cached_request: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = match (cached_request, self.engine) {
            (None, _) => PUT_KEY,
            (Some(_), super::Engine::Sqlite) => PUT_KEY_AND_CACHE_SQLITE,
            (Some(_), super::Engine::Postgres) => PUT_KEY_AND_CACHE_POSTGRES,
        };
        let mut query = sqlx::query(sql)
            .bind(login)
            .bind(device_id)
            .bind(&k.collection_id)
            .bind(k.key)
            .bind(&k.snapshot)
            .bind(now())
            .bind(k.base_key);
        if let Some(request) = cached_request {
            query = query.bind(request);
        }
        query.execute(self.pool()).await?;
        match k.keep_from {
            Some(keep_from) => {
                self.prune_sync_snapshots(login, device_id, &k.collection_id, keep_from)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Forgets keys below `keep_from` (the device has moved on), but for the bases of
    /// the keys it keeps.
    pub async fn prune_sync_snapshots(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
        keep_from: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(PRUNE)
            .bind(login)
            .bind(device_id)
            .bind(collection_id)
            .bind(keep_from)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Forgets all sync state of one collection (or, with `None`, of every collection)
    /// of a device: its next Sync must start from key 0.
    pub async fn forget_sync_state(
        &self,
        login: &str,
        device_id: &str,
        collection_id: Option<&str>,
    ) -> Result<(), StoreError> {
        for table in ["sync_state", "client_ids"] {
            let sql = match (table, collection_id.is_some()) {
                ("sync_state", true) => {
                    "DELETE FROM sync_state WHERE login = $1 AND device_id = $2 AND collection_id = $3"
                }
                ("sync_state", false) => {
                    "DELETE FROM sync_state WHERE login = $1 AND device_id = $2"
                }
                (_, true) => {
                    "DELETE FROM client_ids WHERE login = $1 AND device_id = $2 AND collection_id = $3"
                }
                (_, false) => "DELETE FROM client_ids WHERE login = $1 AND device_id = $2",
            };
            let mut q = sqlx::query(sql).bind(login).bind(device_id);
            if let Some(c) = collection_id {
                q = q.bind(c);
            }
            q.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// The ServerId a client Add with `client_id` already created, if any.
    pub async fn client_add(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT server_id FROM client_ids WHERE login = $1 AND device_id = $2 \
             AND collection_id = $3 AND client_id = $4",
        )
        .bind(login)
        .bind(device_id)
        .bind(collection_id)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("server_id")).transpose()?)
    }

    /// Remembers that a client Add created `server_id`.
    pub async fn record_client_add(
        &self,
        login: &str,
        device_id: &str,
        collection_id: &str,
        client_id: &str,
        server_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO client_ids (login, device_id, collection_id, client_id, server_id, created) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(login)
        .bind(device_id)
        .bind(collection_id)
        .bind(client_id)
        .bind(server_id)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The cached last Sync request of a device (JSON, owned by the Sync command).
    pub async fn sync_cache(
        &self,
        login: &str,
        device_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT request FROM sync_cache WHERE login = $1 AND device_id = $2")
            .bind(login)
            .bind(device_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("request")).transpose()?)
    }

    pub async fn put_sync_cache(
        &self,
        login: &str,
        device_id: &str,
        request: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(put_cache!("$3"))
            .bind(login)
            .bind(device_id)
            .bind(request)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Stores the keys a Sync answers with and the request it caches (MS-ASCMD
    /// 3.1.5.3). The usual answer has one key: it goes to the database with the cache
    /// in one round trip, which in a long initial sync saves one of the two writes of
    /// every window.
    pub async fn put_sync_answer(
        &self,
        login: &str,
        device_id: &str,
        keys: &[NewSyncKey],
        cached_request: &str,
    ) -> Result<(), StoreError> {
        let Some((last, others)) = keys.split_last() else {
            return self.put_sync_cache(login, device_id, cached_request).await;
        };
        for k in others {
            self.put_key(login, device_id, k, None).await?;
        }
        self.put_key(login, device_id, last, Some(cached_request))
            .await
    }

    /// The device's last Ping: heartbeat seconds and its folders (JSON, owned by Ping).
    pub async fn ping_state(
        &self,
        login: &str,
        device_id: &str,
    ) -> Result<Option<(u32, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT heartbeat, folders FROM ping_state WHERE login = $1 AND device_id = $2",
        )
        .bind(login)
        .bind(device_id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let heartbeat: i64 = r.try_get("heartbeat")?;
                Ok(Some((
                    u32::try_from(heartbeat).unwrap_or(0),
                    r.try_get("folders")?,
                )))
            }
        }
    }

    pub async fn put_ping_state(
        &self,
        login: &str,
        device_id: &str,
        heartbeat: u32,
        folders: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ping_state (login, device_id, heartbeat, folders) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (login, device_id) DO UPDATE SET heartbeat = $3, folders = $4",
        )
        .bind(login)
        .bind(device_id)
        .bind(i64::from(heartbeat))
        .bind(folders)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::NewSyncKey;
    use crate::state::test_stores;

    #[tokio::test]
    async fn keys_client_ids_and_cache() {
        for (s, _db) in test_stores().await {
            let bytes = |key| {
                let s = s.clone();
                async move {
                    s.sync_snapshot("a", "d", "5", key)
                        .await
                        .unwrap()
                        .map(|st| (st.bytes, st.base_key))
                }
            };
            s.put_sync_snapshot("a", "d", "5", 1, b"one", None, Some(1))
                .await
                .unwrap();
            s.put_sync_snapshot("a", "d", "5", 2, &[0, 255, 1], None, None)
                .await
                .unwrap();
            // Key 2 was stored without pruning: key 1 stays usable.
            assert_eq!(bytes(1).await, Some((b"one".to_vec(), None)));
            assert_eq!(bytes(2).await, Some((vec![0, 255, 1], None)));
            assert_eq!(s.latest_sync_key("a", "d", "5").await.unwrap(), Some(2));
            s.prune_sync_snapshots("a", "d", "5", 2).await.unwrap();
            assert_eq!(bytes(1).await, None);
            assert_eq!(s.latest_sync_key("a", "d", "6").await.unwrap(), None);

            // Differences from key 2: the base outlives
            // the pruning of older keys as long as a kept key needs it.
            for key in 3..=5 {
                s.put_sync_snapshot("a", "d", "5", key, &[key as u8], Some(2), Some(key - 1))
                    .await
                    .unwrap();
            }
            assert_eq!(bytes(5).await, Some((vec![5], Some(2))));
            assert_eq!(bytes(3).await, None, "pruned");
            assert!(bytes(2).await.is_some(), "the base of 4 and 5 stays");
            let mut keys: Vec<i64> = s
                .sync_snapshots("a", "d", "5")
                .await
                .unwrap()
                .iter()
                .map(|st| st.key)
                .collect();
            keys.sort();
            assert_eq!(keys, [2, 4, 5]);
            // A full key 6: the base is no longer needed once 5 goes too.
            s.put_sync_snapshot("a", "d", "5", 6, b"six", None, Some(6))
                .await
                .unwrap();
            assert_eq!(bytes(2).await, None);
            assert_eq!(bytes(6).await, Some((b"six".to_vec(), None)));
            // Replacing a difference makes it full.
            s.put_sync_snapshot("a", "d", "5", 7, &[7], Some(6), Some(6))
                .await
                .unwrap();
            s.replace_sync_snapshot("a", "d", "5", 7, b"seven")
                .await
                .unwrap();
            assert_eq!(bytes(7).await, Some((b"seven".to_vec(), None)));

            assert_eq!(s.client_add("a", "d", "5", "c1").await.unwrap(), None);
            s.record_client_add("a", "d", "5", "c1", "5:10")
                .await
                .unwrap();
            s.record_client_add("a", "d", "5", "c1", "5:11")
                .await
                .unwrap();
            assert_eq!(
                s.client_add("a", "d", "5", "c1").await.unwrap().as_deref(),
                Some("5:10")
            );

            s.put_sync_cache("a", "d", "{}").await.unwrap();
            s.put_sync_cache("a", "d", "[1]").await.unwrap();
            assert_eq!(
                s.sync_cache("a", "d").await.unwrap().as_deref(),
                Some("[1]")
            );

            // An answer: its keys and the cached request, together.
            let new_key = |cid: &str, key: i64, keep_from| NewSyncKey {
                collection_id: cid.into(),
                key,
                snapshot: vec![key as u8, 0],
                base_key: None,
                keep_from,
            };
            s.put_sync_snapshot("a", "d", "7", 1, b"old", None, None)
                .await
                .unwrap();
            let keys = [new_key("8", 3, None), new_key("7", 2, Some(2))];
            s.put_sync_answer("a", "d", &keys, "[2]").await.unwrap();
            assert_eq!(
                s.sync_cache("a", "d").await.unwrap().as_deref(),
                Some("[2]")
            );
            for (cid, key) in [("8", 3), ("7", 2)] {
                let stored = s.sync_snapshot("a", "d", cid, key).await.unwrap();
                assert_eq!(stored.map(|st| st.bytes), Some(vec![key as u8, 0]));
            }
            assert_eq!(
                s.sync_snapshot("a", "d", "7", 1).await.unwrap(),
                None,
                "pruned"
            );
            // A key answered again (a repeated request) is replaced; no key, no snapshot.
            let again = NewSyncKey {
                snapshot: vec![9],
                ..new_key("7", 2, None)
            };
            s.put_sync_answer("a", "d", &[again], "[3]").await.unwrap();
            s.put_sync_answer("a", "d", &[], "[4]").await.unwrap();
            let stored = s.sync_snapshot("a", "d", "7", 2).await.unwrap();
            assert_eq!(stored.map(|st| st.bytes), Some(vec![9]));
            assert_eq!(
                s.sync_cache("a", "d").await.unwrap().as_deref(),
                Some("[4]")
            );

            assert_eq!(s.ping_state("a", "d").await.unwrap(), None);
            s.put_ping_state("a", "d", 480, "[]").await.unwrap();
            s.put_ping_state("a", "d", 600, "[1]").await.unwrap();
            assert_eq!(
                s.ping_state("a", "d").await.unwrap(),
                Some((600, "[1]".to_string()))
            );

            s.forget_sync_state("a", "d", Some("5")).await.unwrap();
            assert_eq!(s.latest_sync_key("a", "d", "5").await.unwrap(), None);
            assert_eq!(s.client_add("a", "d", "5", "c1").await.unwrap(), None);
        }
    }
}
