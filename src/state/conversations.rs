//! Conversations by Email2:ConversationId: the thread root each id stands for, and the
//! folder an always-moved conversation goes to (ItemOperations Move with MoveAlways).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{Store, StoreError};

/// Rows per INSERT: 401 bound values, below SQLite's oldest limit of 999.
const ROWS_PER_INSERT: usize = 200;
/// How long remembered roots may wait to be written with later ones.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// Written at once when this many wait.
const WRITE_AT: usize = 2_000;

/// Roots remembered but not yet written, per login: id → root. A Sync window's roots
/// are written together with those of the windows around it: each id lands on a
/// random page of the table's index, and ten windows written at once touch each such
/// page once instead of ten times (the writes were 14% of an initial sync's CPU).
/// Lookups see them before they are written. The lock is held while writing, so a
/// root is always either here or in the table.
#[derive(Default)]
pub(crate) struct PendingRoots {
    rows: tokio::sync::Mutex<HashMap<String, HashMap<String, String>>>,
}

impl PendingRoots {
    /// Writes roots every [`WRITE_EVERY`] for as long as `pending` lives.
    pub(crate) fn start_writer(store: &Store) {
        let pending = Arc::downgrade(&store.roots);
        let pool = store.pool().clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(WRITE_EVERY);
            loop {
                tick.tick().await;
                let Some(pending) = Weak::upgrade(&pending) else {
                    return;
                };
                if let Err(e) = write(&pool, &mut *pending.rows.lock().await, None).await {
                    tracing::warn!(target: "airsync", error = %e, "conversation roots not written yet; retrying");
                }
            }
        });
    }
}

/// Writes the waiting roots (of one login, or all) and forgets those written.
async fn write(
    pool: &sqlx::AnyPool,
    rows: &mut HashMap<String, HashMap<String, String>>,
    only: Option<&str>,
) -> Result<(), StoreError> {
    let logins: Vec<String> = match only {
        Some(login) if rows.contains_key(login) => vec![login.to_string()],
        Some(_) => vec![],
        None => rows.keys().cloned().collect(),
    };
    for login in logins {
        let pairs: Vec<(&String, &String)> = rows[&login].iter().collect();
        // A few multi-row statements instead of one per conversation: each statement
        // is a hand-off to the database's worker.
        for chunk in pairs.chunks(ROWS_PER_INSERT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO conversations (login, conversation_id, root_message_id) \
                 VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            );
            // Only placeholders are formatted in; every value is bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&login);
            for (id, root) in chunk {
                query = query.bind(*id).bind(*root);
            }
            query.execute(pool).await?;
        }
        rows.remove(&login);
    }
    Ok(())
}

impl Store {
    /// Records (conversation id, root Message-ID) pairs; known ids are left alone.
    /// They are written within a second (see [`PendingRoots`]); a crash in that second
    /// forgets them, and a Move of such a conversation then finds nothing to move.
    pub async fn remember_conversations(
        &self,
        login: &str,
        conversations: &[(String, String)],
    ) -> Result<(), StoreError> {
        if conversations.is_empty() {
            return Ok(());
        }
        let mut rows = self.roots.rows.lock().await;
        let waiting = rows.entry(login.to_string()).or_default();
        for (id, root) in conversations {
            waiting.entry(id.clone()).or_insert_with(|| root.clone());
        }
        if rows.values().map(HashMap::len).sum::<usize>() >= WRITE_AT {
            write(self.pool(), &mut rows, None).await?;
        }
        Ok(())
    }

    /// Writes every root still waiting (at shutdown).
    pub async fn write_conversations(&self) -> Result<(), StoreError> {
        write(self.pool(), &mut *self.roots.rows.lock().await, None).await
    }

    /// The thread root Message-ID of a conversation the account has been shown.
    pub async fn conversation_root(
        &self,
        login: &str,
        conversation_id: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(root) = self
            .roots
            .rows
            .lock()
            .await
            .get(login)
            .and_then(|w| w.get(conversation_id))
        {
            return Ok(Some(root.clone()));
        }
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT root_message_id FROM conversations WHERE login = $1 AND conversation_id = $2",
        )
        .bind(login)
        .bind(conversation_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(root,)| root))
    }

    /// From now on, messages of this conversation belong in folder `folder_id`.
    pub async fn set_always_move(
        &self,
        login: &str,
        conversation_id: &str,
        folder_id: i64,
    ) -> Result<(), StoreError> {
        // The row to mark may still be waiting.
        write(self.pool(), &mut *self.roots.rows.lock().await, Some(login)).await?;
        sqlx::query(
            "UPDATE conversations SET always_move_to = $1 WHERE login = $2 AND conversation_id = $3",
        )
        .bind(folder_id)
        .bind(login)
        .bind(conversation_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every always-moved conversation of the account: (conversation id, folder id).
    pub async fn always_moves(&self, login: &str) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT conversation_id, always_move_to FROM conversations \
             WHERE login = $1 AND always_move_to IS NOT NULL",
        )
        .bind(login)
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use crate::state::test_stores;

    #[tokio::test]
    async fn roots_are_kept_per_account_and_always_moves_listed() {
        for (s, _db) in test_stores().await {
            let batch: Vec<(String, String)> = (0..450)
                .map(|i| (format!("{i:032x}"), format!("root{i}@x")))
                .collect();
            s.remember_conversations("a", &batch).await.unwrap();
            // A second sighting never changes the root.
            s.remember_conversations("a", &[(batch[7].0.clone(), "other@x".into())])
                .await
                .unwrap();
            assert_eq!(
                s.conversation_root("a", &batch[7].0)
                    .await
                    .unwrap()
                    .as_deref(),
                Some("root7@x")
            );
            assert_eq!(s.conversation_root("b", &batch[7].0).await.unwrap(), None);
            assert!(s.always_moves("a").await.unwrap().is_empty());
            s.set_always_move("a", &batch[449].0, 12).await.unwrap();
            assert_eq!(
                s.always_moves("a").await.unwrap(),
                vec![(batch[449].0.clone(), 12)]
            );
            assert!(s.always_moves("b").await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn waiting_roots_are_seen_and_reach_the_table() {
        for (s, _db) in test_stores().await {
            let pair = |i: u32| (format!("{i:032x}"), format!("root{i}@x"));
            s.remember_conversations("a", &[pair(1), pair(2)])
                .await
                .unwrap();
            // Not written yet, but seen by lookups.
            let in_table = |id: String| {
                let s = s.clone();
                async move {
                    sqlx::query(
                        "SELECT 1 FROM conversations WHERE login = 'a' AND conversation_id = $1",
                    )
                    .bind(id)
                    .fetch_optional(s.pool())
                    .await
                    .unwrap()
                    .is_some()
                }
            };
            assert!(!in_table(pair(1).0).await);
            assert_eq!(
                s.conversation_root("a", &pair(1).0)
                    .await
                    .unwrap()
                    .as_deref(),
                Some("root1@x")
            );
            // Marking a waiting conversation writes the login's roots first.
            s.set_always_move("a", &pair(2).0, 7).await.unwrap();
            assert_eq!(s.always_moves("a").await.unwrap(), vec![(pair(2).0, 7)]);
            assert!(in_table(pair(1).0).await);
            // The writer writes the rest within about a second.
            s.remember_conversations("a", &[pair(3)]).await.unwrap();
            let mut waited = 0;
            while !in_table(pair(3).0).await {
                assert!(waited < 50, "not written after 5 s");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                waited += 1;
            }
            // Enough at once are written at once.
            let many: Vec<_> = (10..2_010).map(pair).collect();
            s.remember_conversations("b", &many).await.unwrap();
            let written: (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM conversations WHERE login = 'b'")
                    .fetch_one(s.pool())
                    .await
                    .unwrap();
            assert_eq!(written.0, 2_000);
            s.write_conversations().await.unwrap();
        }
    }
}
