//! Conversations by Email2:ConversationId: the thread root each id stands for, and the
//! folder an always-moved conversation goes to (ItemOperations Move with MoveAlways).

use super::{Store, StoreError};

/// Rows per INSERT: 401 bound values, below SQLite's oldest limit of 999.
const ROWS_PER_INSERT: usize = 200;

impl Store {
    /// Records (conversation id, root Message-ID) pairs; known ids are left alone.
    pub async fn remember_conversations(
        &self,
        login: &str,
        conversations: &[(String, String)],
    ) -> Result<(), StoreError> {
        if conversations.is_empty() {
            return Ok(());
        }
        // A few multi-row statements instead of one per conversation: each statement is
        // a hand-off to the database's worker, and a window shows up to 512 messages.
        for chunk in conversations.chunks(ROWS_PER_INSERT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO conversations (login, conversation_id, root_message_id) \
                 VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            );
            // Only placeholders are formatted in; every value is bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(login);
            for (id, root) in chunk {
                query = query.bind(id).bind(root);
            }
            query.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// The thread root Message-ID of a conversation the account has been shown.
    pub async fn conversation_root(
        &self,
        login: &str,
        conversation_id: &str,
    ) -> Result<Option<String>, StoreError> {
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
}
