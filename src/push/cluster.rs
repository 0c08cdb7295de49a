//! Several nodes on one PostgreSQL store: a device's waiting Ping or hanging Sync on
//! one node ends when the same device's next Ping or Sync lands on another node, as
//! it does within one node (`Hub::supersede`).
//!
//! The engine's own mechanism, no protocol of ours: every node LISTENs on one channel
//! of the database (sqlx `PgListener`, which reconnects and re-subscribes by itself),
//! and a node that takes a Ping or Sync NOTIFYs the channel with (node, login, device)
//! before it goes on. Every other node ends that device's waiting request, if it holds
//! one. On SQLite there is a single node and nothing here runs.
//!
//! What a lost notification costs (the listener was reconnecting): the old request
//! waits until its heartbeat for a client that has gone — nothing the device sees.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgListener;

use crate::state::{Store, StoreError};

use super::Inner;

/// This node's membership: its id and the channel it shares with the others.
pub(super) struct Cluster {
    /// Random per process: a node ignores its own notifications.
    node: String,
    channel: String,
    store: Store,
}

/// One notification: `device` of `login` made a new request on `node`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Superseded {
    node: String,
    login: String,
    device: String,
}

impl Cluster {
    /// Subscribes to the store's channel (so that from the moment this returns nothing
    /// is missed) and starts the task that ends this node's waiters on notifications
    /// of the others.
    pub(super) async fn join(store: &Store, inner: Arc<Inner>) -> Result<Cluster, StoreError> {
        // One channel per database schema: deployments sharing a database in separate
        // schemas do not hear each other.
        let schema: String = sqlx::query("SELECT CAST(current_schema() AS TEXT)")
            .fetch_one(store.pool())
            .await?
            .try_get(0)?;
        let channel = channel_name(&schema);
        let mut listener = PgListener::connect(store.url()).await?;
        listener.listen(&channel).await?;
        let node = hex::encode(rand::random::<[u8; 8]>());
        tokio::spawn(listen(listener, node.clone(), inner));
        tracing::info!(target: "airsync", %node, %channel, "push: several-node mode (PostgreSQL LISTEN/NOTIFY)");
        Ok(Cluster {
            node,
            channel,
            store: store.clone(),
        })
    }

    /// Tells the other nodes that the device made a new request. A failure is logged,
    /// not fatal: the request goes on, and an old one elsewhere waits out its heartbeat.
    pub(super) async fn announce(&self, login: &str, device: &str) {
        let payload = serde_json::to_string(&Superseded {
            node: self.node.clone(),
            login: login.into(),
            device: device.into(),
        })
        .unwrap_or_default();
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(payload)
            .execute(self.store.pool())
            .await;
        if let Err(e) = sent {
            tracing::warn!(target: "airsync", error = %e, "push: could not tell the other nodes about a new request");
        }
    }
}

/// `airsync_` and a digest of the schema: a valid, short channel name.
fn channel_name(schema: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(schema.as_bytes());
    format!("airsync_{}", hex::encode(&digest[..8]))
}

/// Ends this node's waiting request of every device another node announces, until
/// the server shuts down.
async fn listen(mut listener: PgListener, node: String, inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut backoff = Duration::from_millis(200);
    loop {
        let received = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            r = listener.recv() => r,
        };
        match received {
            Ok(n) => {
                backoff = Duration::from_millis(200);
                match serde_json::from_str::<Superseded>(n.payload()) {
                    Ok(m) if m.node != node => {
                        tracing::debug!(target: "airsync", login = %m.login, device = %m.device, from = %m.node, "push: newer request on another node");
                        super::end_waiting(&inner, &m.login, &m.device);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(target: "airsync", error = %e, "push: unreadable notification")
                    }
                }
            }
            // recv() reconnects by itself; an error means it could not, for now.
            Err(e) => {
                tracing::warn!(target: "airsync", error = %e, "push: lost the store's notification channel; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_identifiers_per_schema() {
        let a = channel_name("public");
        assert!(a.len() < 63 && a.starts_with("airsync_"));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_ne!(a, channel_name("other"));
    }
}
