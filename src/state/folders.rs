//! Stable folder ids and FolderSync snapshots.
//!
//! A folder id is a small integer per account, handed out once and never reused. It
//! follows the upstream's own identity (RFC 8474 MAILBOXID, Dovecot's GUID, a DAV
//! collection URL) where there is one, so that a rename made outside airsync keeps the
//! id; without one it follows the name.

use std::collections::HashMap;

use sqlx::Row;

use super::{Store, StoreError};

/// A folder as the upstream shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFolder {
    /// Which upstream holds it: `imap`, `virtual` (airsync's own Outbox), later `caldav`…
    pub source: String,
    /// The upstream's name for it (IMAP mailbox name, collection path).
    pub name: String,
    /// The upstream's stable identity, when it has one.
    pub upstream_id: Option<String>,
}

/// One row of the folder map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRow {
    pub folder_id: i64,
    pub source: String,
    pub upstream_name: String,
    pub upstream_id: Option<String>,
    pub gone: bool,
}

/// Everything a request resolves the device's folder ids with, read in one statement:
/// the folder map, the account's hidden folders and aliases, and its always-moved
/// conversations (whose rules name folders of the map).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFolders {
    /// The whole folder map, by folder id.
    pub rows: Vec<FolderRow>,
    /// Mailboxes the account hides from its devices, sorted.
    pub hidden: Vec<String>,
    /// (name shown, mailbox it stands for), sorted by name.
    pub aliases: Vec<(String, String)>,
    /// (ConversationId in hex, folder id) of conversations always moved.
    pub always_moves: Vec<(String, i64)>,
}

/// How often a folder-map transaction is retried when a concurrent one won the race.
const ASSIGN_ATTEMPTS: usize = 8;

impl Store {
    /// The account's whole folder map, including folders that are gone upstream.
    pub async fn folder_rows(&self, login: &str) -> Result<Vec<FolderRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT folder_id, source, upstream_name, upstream_id, gone FROM folders \
             WHERE login = $1 ORDER BY folder_id",
        )
        .bind(login)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FolderRow {
                    folder_id: r.try_get("folder_id")?,
                    source: r.try_get("source")?,
                    upstream_name: r.try_get("upstream_name")?,
                    upstream_id: r.try_get("upstream_id")?,
                    gone: r.try_get::<i32, _>("gone")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// See [`AccountFolders`]. Four tables, one round trip: every request that resolves
    /// a CollectionId needs the first three, and every Sync window the fourth.
    pub async fn account_folders(&self, login: &str) -> Result<AccountFolders, StoreError> {
        let rows = sqlx::query(
            "SELECT 'folder' AS kind, folder_id, source, upstream_name AS name, \
             upstream_id AS target, gone FROM folders WHERE login = $1 \
             UNION ALL SELECT 'hidden', NULL, NULL, folder, NULL, NULL FROM hidden_folders \
             WHERE login = $1 \
             UNION ALL SELECT 'alias', NULL, NULL, name, target, NULL FROM folder_aliases \
             WHERE login = $1 \
             UNION ALL SELECT 'move', always_move_to, NULL, conversation_id, NULL, NULL \
             FROM conversations WHERE login = $1 AND always_move_to IS NOT NULL \
             ORDER BY kind, folder_id, name",
        )
        .bind(login)
        .fetch_all(self.pool())
        .await?;
        let mut out = AccountFolders::default();
        for r in &rows {
            let name: String = r.try_get("name")?;
            let folder_id = || r.try_get::<Option<i64>, _>("folder_id");
            match r.try_get::<String, _>("kind")?.as_str() {
                "folder" => out.rows.push(FolderRow {
                    folder_id: folder_id()?.unwrap_or_default(),
                    source: r
                        .try_get::<Option<String>, _>("source")?
                        .unwrap_or_default(),
                    upstream_name: name,
                    upstream_id: r.try_get("target")?,
                    gone: r.try_get::<Option<i32>, _>("gone")?.unwrap_or(0) != 0,
                }),
                "hidden" => out.hidden.push(name),
                "alias" => out.aliases.push((
                    name,
                    r.try_get::<Option<String>, _>("target")?
                        .unwrap_or_default(),
                )),
                _ => out
                    .always_moves
                    .push((name, folder_id()?.unwrap_or_default())),
            }
        }
        Ok(out)
    }

    /// Gives every folder in `current` its stable id (the result is in the same order)
    /// and marks folders no longer upstream as gone. Safe to run concurrently for one
    /// account: a transaction that loses a race is retried.
    pub async fn assign_folder_ids(
        &self,
        login: &str,
        current: &[UpstreamFolder],
    ) -> Result<Vec<i64>, StoreError> {
        let mut last_err = None;
        for _ in 0..ASSIGN_ATTEMPTS {
            match self.try_assign_folder_ids(login, current).await {
                Ok(ids) => return Ok(ids),
                Err(StoreError::Sql(e)) if is_retryable(&e) => {
                    last_err = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(
                        rand::random::<u64>() % 50,
                    ))
                    .await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Sql(last_err.expect("at least one attempt")))
    }

    async fn try_assign_folder_ids(
        &self,
        login: &str,
        current: &[UpstreamFolder],
    ) -> Result<Vec<i64>, StoreError> {
        let known = self.folder_rows(login).await?;
        let plan = plan_assignment(&known, current);
        if plan.writes.is_empty() && plan.to_retire.is_empty() {
            return Ok(plan.ids);
        }
        let mut tx = self.pool().begin().await?;
        // Re-check inside the transaction that nobody changed the map meanwhile.
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM folders WHERE login = $1")
            .bind(login)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if count != known.len() as i64 {
            return Err(StoreError::Sql(sqlx::Error::Protocol(
                "folder map changed".into(),
            )));
        }
        for id in &plan.to_retire {
            sqlx::query("UPDATE folders SET gone = 1 WHERE login = $1 AND folder_id = $2")
                .bind(login)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        // Rows that change name are parked first, so that swapped names cannot collide
        // on the unique index of live names.
        for w in plan.writes.iter().filter(|w| !w.insert) {
            sqlx::query("UPDATE folders SET gone = 1 WHERE login = $1 AND folder_id = $2")
                .bind(login)
                .bind(w.folder_id)
                .execute(&mut *tx)
                .await?;
        }
        for w in &plan.writes {
            let f = &current[w.index];
            let sql = if w.insert {
                "INSERT INTO folders (login, folder_id, source, upstream_name, upstream_id, gone) \
                 VALUES ($1, $2, $3, $4, $5, 0)"
            } else {
                "UPDATE folders SET source = $3, upstream_name = $4, upstream_id = $5, gone = 0 \
                 WHERE login = $1 AND folder_id = $2"
            };
            sqlx::query(sql)
                .bind(login)
                .bind(w.folder_id)
                .bind(&f.source)
                .bind(&f.name)
                .bind(f.upstream_id.as_deref())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(plan.ids)
    }

    /// The folder hierarchy a device was told about under FolderSync key `key`.
    pub async fn folder_snapshot(
        &self,
        login: &str,
        device_id: &str,
        key: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT snapshot FROM folder_sync WHERE login = $1 AND device_id = $2 AND sync_key = $3",
        )
        .bind(login)
        .bind(device_id)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("snapshot")).transpose()?)
    }

    /// The newest FolderSync key of a device, if it has one.
    pub async fn latest_folder_key(
        &self,
        login: &str,
        device_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(sync_key) FROM folder_sync WHERE login = $1 AND device_id = $2",
        )
        .bind(login)
        .bind(device_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Records the hierarchy behind a new key and forgets keys older than `keep_from`
    /// (design.md: keep N and N+1 until the device uses N+1).
    pub async fn put_folder_snapshot(
        &self,
        login: &str,
        device_id: &str,
        key: i64,
        snapshot: &str,
        keep_from: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO folder_sync (login, device_id, sync_key, snapshot, created) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (login, device_id, sync_key) \
             DO UPDATE SET snapshot = $4, created = $5",
        )
        .bind(login)
        .bind(device_id)
        .bind(key)
        .bind(snapshot)
        .bind(super::now())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM folder_sync WHERE login = $1 AND device_id = $2 AND sync_key < $3",
        )
        .bind(login)
        .bind(device_id)
        .bind(keep_from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets keys older than `keep_from`: the device has moved on to `keep_from`.
    pub async fn prune_folder_snapshots(
        &self,
        login: &str,
        device_id: &str,
        keep_from: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM folder_sync WHERE login = $1 AND device_id = $2 AND sync_key < $3",
        )
        .bind(login)
        .bind(device_id)
        .bind(keep_from)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Records a rename made through airsync: the folder (and its children, whose
    /// names start with `old` and the delimiter) keep their ids under the new names.
    pub async fn rename_folder_rows(
        &self,
        login: &str,
        folder_id: i64,
        old: &str,
        new: &str,
        delimiter: Option<char>,
    ) -> Result<(), StoreError> {
        let rows = self.folder_rows(login).await?;
        let renamed: Vec<(i64, String)> = rows
            .iter()
            .filter(|r| !r.gone)
            .filter_map(|r| {
                if r.folder_id == folder_id {
                    return Some((r.folder_id, new.to_string()));
                }
                let d = delimiter?;
                let rest = r.upstream_name.strip_prefix(old)?.strip_prefix(d)?;
                Some((r.folder_id, format!("{new}{d}{rest}")))
            })
            .collect();
        let mut tx = self.pool().begin().await?;
        for (id, name) in &renamed {
            // A stale live row under the new name (deleted outside since the last
            // FolderSync) must not block the unique index.
            sqlx::query("UPDATE folders SET gone = 1 WHERE login = $1 AND upstream_name = $2 AND folder_id <> $3 AND gone = 0")
                .bind(login)
                .bind(name)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE folders SET gone = 1 WHERE login = $1 AND folder_id = $2")
                .bind(login)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for (id, name) in &renamed {
            sqlx::query("UPDATE folders SET upstream_name = $3, gone = 0 WHERE login = $1 AND folder_id = $2")
                .bind(login)
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db
                    .code()
                    .is_some_and(|c| c == "5" || c == "517" || c == "40001" || c == "40P01")
                || db.message().contains("locked")
                || db.message().contains("busy")
        }
        _ => false,
    }
}

struct Write {
    index: usize,
    folder_id: i64,
    insert: bool,
}

struct Plan {
    ids: Vec<i64>,
    writes: Vec<Write>,
    to_retire: Vec<i64>,
}

/// Matches the current upstream folders against the stored map (pure; see
/// `assign_folder_ids`). Preference: same upstream identity, then same live name, then
/// a gone row of the same name whose identity does not contradict; else a new id.
fn plan_assignment(known: &[FolderRow], current: &[UpstreamFolder]) -> Plan {
    let mut taken: HashMap<i64, bool> = HashMap::new();
    let mut next_id = known.iter().map(|r| r.folder_id).max().unwrap_or(0) + 1;
    let mut ids = Vec::with_capacity(current.len());
    let mut writes = Vec::new();
    let compatible = |r: &FolderRow, f: &UpstreamFolder| match (&r.upstream_id, &f.upstream_id) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    for (index, f) in current.iter().enumerate() {
        let free = |r: &&FolderRow| r.source == f.source && !taken.contains_key(&r.folder_id);
        let by_identity = f.upstream_id.as_ref().and_then(|uid| {
            known
                .iter()
                .filter(free)
                .find(|r| r.upstream_id.as_ref() == Some(uid))
        });
        let by_live_name = || {
            known
                .iter()
                .filter(free)
                .find(|r| !r.gone && r.upstream_name == f.name && compatible(r, f))
        };
        let by_gone_name = || {
            known
                .iter()
                .filter(free)
                .find(|r| r.gone && r.upstream_name == f.name && compatible(r, f))
        };
        match by_identity.or_else(by_live_name).or_else(by_gone_name) {
            Some(r) => {
                taken.insert(r.folder_id, true);
                ids.push(r.folder_id);
                let unchanged =
                    !r.gone && r.upstream_name == f.name && r.upstream_id == f.upstream_id;
                if !unchanged {
                    writes.push(Write {
                        index,
                        folder_id: r.folder_id,
                        insert: false,
                    });
                }
            }
            None => {
                let id = next_id;
                next_id += 1;
                taken.insert(id, true);
                ids.push(id);
                writes.push(Write {
                    index,
                    folder_id: id,
                    insert: true,
                });
            }
        }
    }
    let to_retire = known
        .iter()
        .filter(|r| !r.gone && !taken.contains_key(&r.folder_id))
        .map(|r| r.folder_id)
        .collect();
    Plan {
        ids,
        writes,
        to_retire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_stores;

    fn imap(name: &str, id: Option<&str>) -> UpstreamFolder {
        UpstreamFolder {
            source: "imap".into(),
            name: name.into(),
            upstream_id: id.map(Into::into),
        }
    }

    #[tokio::test]
    async fn one_read_gives_the_map_the_settings_and_the_always_moves() {
        for (store, _db) in test_stores().await {
            let ids = store
                .assign_folder_ids("a", &[imap("INBOX", None), imap("Archive", Some("g2"))])
                .await
                .unwrap();
            store.set_folder_hidden("a", "Junk", true).await.unwrap();
            store
                .put_folder_alias("a", "Team", "shared/b/Team")
                .await
                .unwrap();
            let conversation = format!("{:032x}", 7);
            store
                .set_always_move("a", &conversation, "root@x", ids[1])
                .await
                .unwrap();
            let got = store.account_folders("a").await.unwrap();
            assert_eq!(got.rows, store.folder_rows("a").await.unwrap());
            assert_eq!(
                got.rows
                    .iter()
                    .map(|r| (
                        r.folder_id,
                        r.upstream_name.as_str(),
                        r.upstream_id.as_deref()
                    ))
                    .collect::<Vec<_>>(),
                [(ids[0], "INBOX", None), (ids[1], "Archive", Some("g2"))]
            );
            assert_eq!(got.hidden, ["Junk"]);
            assert_eq!(
                got.aliases,
                [("Team".to_string(), "shared/b/Team".to_string())]
            );
            assert_eq!(got.always_moves, [(conversation, ids[1])]);
            // Another account's read sees none of it.
            assert_eq!(
                store.account_folders("b").await.unwrap(),
                AccountFolders::default()
            );
        }
    }

    #[tokio::test]
    async fn ids_are_stable_across_renames_deletes_and_swaps() {
        for (store, _db) in test_stores().await {
            let login = "alice";
            let a = store
                .assign_folder_ids(
                    login,
                    &[
                        imap("INBOX", Some("g1")),
                        imap("Sent", Some("g2")),
                        imap("X", Some("g3")),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(a, vec![1, 2, 3]);
            // Same view again: same ids, no writes needed.
            let b = store
                .assign_folder_ids(
                    login,
                    &[
                        imap("X", Some("g3")),
                        imap("INBOX", Some("g1")),
                        imap("Sent", Some("g2")),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(b, vec![3, 1, 2]);
            // Names swapped outside airsync: each folder keeps its id by identity.
            let c = store
                .assign_folder_ids(
                    login,
                    &[
                        imap("INBOX", Some("g1")),
                        imap("X", Some("g2")),
                        imap("Sent", Some("g3")),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(c, vec![1, 2, 3]);
            // X deleted upstream, then a new folder: the old id is not reused.
            let d = store
                .assign_folder_ids(login, &[imap("INBOX", Some("g1")), imap("New", None)])
                .await
                .unwrap();
            assert_eq!(d, vec![1, 4]);
            let rows = store.folder_rows(login).await.unwrap();
            assert!(rows.iter().find(|r| r.folder_id == 2).unwrap().gone);
            // A folder with the same name but another identity is a new folder.
            let e = store
                .assign_folder_ids(login, &[imap("INBOX", Some("g1")), imap("X", Some("g9"))])
                .await
                .unwrap();
            assert_eq!(e, vec![1, 5]);
            // Other accounts have their own numbering.
            assert_eq!(
                store
                    .assign_folder_ids("bob", &[imap("INBOX", Some("g1"))])
                    .await
                    .unwrap(),
                vec![1]
            );
        }
    }

    #[tokio::test]
    async fn renames_through_airsync_keep_ids_without_upstream_identity() {
        for (store, _db) in test_stores().await {
            let ids = store
                .assign_folder_ids("a", &[imap("P", None), imap("P/Q", None), imap("PX", None)])
                .await
                .unwrap();
            store
                .rename_folder_rows("a", ids[0], "P", "R", Some('/'))
                .await
                .unwrap();
            let again = store
                .assign_folder_ids("a", &[imap("R", None), imap("R/Q", None), imap("PX", None)])
                .await
                .unwrap();
            assert_eq!(again, ids);
        }
    }

    #[tokio::test]
    async fn concurrent_assignment_agrees() {
        for (store, _db) in test_stores().await {
            let view: Vec<_> = (0..20).map(|i| imap(&format!("F{i}"), None)).collect();
            let tasks: Vec<_> = (0..6)
                .map(|_| {
                    let store = store.clone();
                    let view = view.clone();
                    tokio::spawn(
                        async move { store.assign_folder_ids("carol", &view).await.unwrap() },
                    )
                })
                .collect();
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap());
            }
            assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
            assert_eq!(store.folder_rows("carol").await.unwrap().len(), 20);
        }
    }

    #[tokio::test]
    async fn snapshots_keep_the_previous_key() {
        for (store, _db) in test_stores().await {
            store
                .put_folder_snapshot("a", "d", 1, "one", 1)
                .await
                .unwrap();
            store
                .put_folder_snapshot("a", "d", 2, "two", 1)
                .await
                .unwrap();
            assert_eq!(
                store.folder_snapshot("a", "d", 1).await.unwrap().as_deref(),
                Some("one")
            );
            assert_eq!(store.latest_folder_key("a", "d").await.unwrap(), Some(2));
            store
                .put_folder_snapshot("a", "d", 3, "three", 2)
                .await
                .unwrap();
            assert_eq!(store.folder_snapshot("a", "d", 1).await.unwrap(), None);
            assert_eq!(
                store.folder_snapshot("a", "d", 2).await.unwrap().as_deref(),
                Some("two")
            );
            assert_eq!(store.latest_folder_key("a", "x").await.unwrap(), None);
        }
    }
}
