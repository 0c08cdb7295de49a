//! Always-moved conversations (ItemOperations Move with MoveAlways): the folder each
//! goes to, by Email2:ConversationId, with the thread root the id stands for. Read with
//! the folder map, in `Store::account_folders`.

use super::{Store, StoreError};

impl Store {
    /// From now on, messages of this conversation (whose thread root is `root`) belong
    /// in folder `folder_id`.
    pub async fn set_always_move(
        &self,
        login: &str,
        conversation_id: &str,
        root: &str,
        folder_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO conversations (login, conversation_id, root_message_id, always_move_to) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (login, conversation_id) DO UPDATE SET always_move_to = $4",
        )
        .bind(login)
        .bind(conversation_id)
        .bind(root)
        .bind(folder_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::state::test_stores;

    #[tokio::test]
    async fn always_moves_are_kept_per_account() {
        for (s, _db) in test_stores().await {
            let id = |i: u32| format!("{i:032x}");
            assert!(
                s.account_folders("a")
                    .await
                    .unwrap()
                    .always_moves
                    .is_empty()
            );
            s.set_always_move("a", &id(1), "root1@x", 12).await.unwrap();
            s.set_always_move("a", &id(2), "root2@x", 13).await.unwrap();
            // Moved again: the newer destination wins.
            s.set_always_move("a", &id(1), "root1@x", 14).await.unwrap();
            let mut moves = s.account_folders("a").await.unwrap().always_moves;
            moves.sort();
            assert_eq!(moves, vec![(id(1), 14), (id(2), 13)]);
            assert!(
                s.account_folders("b")
                    .await
                    .unwrap()
                    .always_moves
                    .is_empty()
            );
        }
    }
}
