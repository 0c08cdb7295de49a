//! Idempotence of sending (SendMail, SmartReply, SmartForward): which messages an
//! account has submitted, by ClientId (or Message-ID).

use super::{Store, StoreError, now};

/// What [`Store::claim_send`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendClaim {
    /// The key was free (or abandoned): the caller submits now.
    Claimed,
    /// The MTA accepted a message with this key.
    Sent,
    /// Another request is submitting it right now.
    InProgress,
}

impl Store {
    /// Claims `key` for a submission. A claim still `sending` since before
    /// `abandoned_before` (Unix seconds) belonged to a submission that cannot be running
    /// any more (its process died mid-submission, e.g. killed): it is taken over, so
    /// that the device's retry sends the message instead of losing it.
    pub async fn claim_send(
        &self,
        login: &str,
        key: &str,
        abandoned_before: i64,
    ) -> Result<SendClaim, StoreError> {
        let done = sqlx::query(
            "INSERT INTO sent_messages (login, send_key, state, created) VALUES ($1, $2, 'sending', $3) \
             ON CONFLICT (login, send_key) DO UPDATE SET created = excluded.created \
             WHERE sent_messages.state = 'sending' AND sent_messages.created < $4",
        )
        .bind(login)
        .bind(key)
        .bind(now())
        .bind(abandoned_before)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 1 {
            return Ok(SendClaim::Claimed);
        }
        let state: Option<String> = sqlx::query_scalar(
            "SELECT state FROM sent_messages WHERE login = $1 AND send_key = $2",
        )
        .bind(login)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        Ok(match state.as_deref() {
            Some("sent") => SendClaim::Sent,
            _ => SendClaim::InProgress,
        })
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
    use crate::state::{now, test_stores};

    #[tokio::test]
    async fn a_key_is_claimed_once_per_account() {
        use super::SendClaim::*;
        for (s, _db) in test_stores().await {
            let fresh = now() - 100;
            assert_eq!(s.claim_send("a", "c1", fresh).await.unwrap(), Claimed);
            assert_eq!(s.claim_send("a", "c1", fresh).await.unwrap(), InProgress);
            assert_eq!(s.claim_send("b", "c1", fresh).await.unwrap(), Claimed);
            s.release_send("a", "c1").await.unwrap();
            assert_eq!(s.claim_send("a", "c1", fresh).await.unwrap(), Claimed);
            s.mark_sent("a", "c1").await.unwrap();
            s.release_send("a", "c1").await.unwrap();
            assert_eq!(
                s.claim_send("a", "c1", fresh).await.unwrap(),
                Sent,
                "a sent message is never released"
            );
            // Even when it is old: only a claim still `sending` can be abandoned.
            assert_eq!(s.claim_send("a", "c1", now() + 100).await.unwrap(), Sent);
        }
    }

    #[tokio::test]
    async fn an_abandoned_claim_is_taken_over() {
        use super::SendClaim::*;
        for (s, _db) in test_stores().await {
            assert_eq!(s.claim_send("a", "k", now() - 100).await.unwrap(), Claimed);
            // Its submission died with its process; once the claim is older than the
            // cut-off, a retry claims it again.
            assert_eq!(s.claim_send("a", "k", now() + 1).await.unwrap(), Claimed);
            assert_eq!(
                s.claim_send("a", "k", now() - 100).await.unwrap(),
                InProgress
            );
        }
    }
}
