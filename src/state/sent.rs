//! Idempotence of sending (SendMail, SmartReply, SmartForward): which messages an
//! account has submitted, by ClientId (or Message-ID).

use super::{Store, StoreError, now};

impl Store {
    /// Claims `key` for a submission: true when it was free (the caller submits now),
    /// false when a message with this key was already sent (or is being sent).
    pub async fn claim_send(&self, login: &str, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO sent_messages (login, send_key, state, created) VALUES ($1, $2, 'sending', $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(login)
        .bind(key)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The MTA accepted the message.
    pub async fn mark_sent(&self, login: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sent_messages SET state = 'sent' WHERE login = $1 AND send_key = $2")
            .bind(login)
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The MTA refused the message: a retry may send it.
    pub async fn release_send(&self, login: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM sent_messages WHERE login = $1 AND send_key = $2 AND state = 'sending'",
        )
        .bind(login)
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::state::test_stores;

    #[tokio::test]
    async fn a_key_is_claimed_once_per_account() {
        for (s, _db) in test_stores().await {
            assert!(s.claim_send("a", "c1").await.unwrap());
            assert!(!s.claim_send("a", "c1").await.unwrap());
            assert!(s.claim_send("b", "c1").await.unwrap());
            s.release_send("a", "c1").await.unwrap();
            assert!(s.claim_send("a", "c1").await.unwrap());
            s.mark_sent("a", "c1").await.unwrap();
            s.release_send("a", "c1").await.unwrap();
            assert!(
                !s.claim_send("a", "c1").await.unwrap(),
                "a sent message is never released"
            );
        }
    }
}
