//! What airsync keeps of its own: devices and policy keys, stable folder ids and sync
//! state (design.md, "State model"). One SQL dialect serves SQLite (the default) and
//! PostgreSQL (several nodes) through sqlx's `any` driver; the migrations in
//! `migrations/` are written in the subset both engines share.

mod admin;
mod dav;
mod devices;
mod folders;
mod sent;
mod sync;

pub use admin::{AuditEntry, Overrides, Scope, Setting};
pub use devices::{Device, DeviceInfo, DeviceSeen, WipeState};
pub use folders::{FolderRow, UpstreamFolder};
pub use sent::SendClaim;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

/// Errors of the store layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: bad url {0:?}")]
    BadUrl(String),
    #[error("store: corrupt record: {0}")]
    Corrupt(String),
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The shared handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let url = if is_sqlite {
            sqlite_url(url)?
        } else {
            url.to_string()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if is_sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if is_sqlite {
                        // Writers wait for each other instead of failing with SQLITE_BUSY.
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if is_sqlite {
            // WAL lets readers run beside the writer; it is a property of the file.
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// `sqlite:///abs/path.db` → a sqlx URL that creates the file when missing.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::BadUrl(url.into()))?;
    if path.is_empty() {
        return Err(StoreError::BadUrl(url.into()));
    }
    if path == ":memory:" || path.contains('?') {
        return Ok(format!("sqlite:{path}"));
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        let _ = std::fs::create_dir_all(dir);
    }
    Ok(format!("sqlite://{path}?mode=rwc"))
}

/// Seconds since the Unix epoch, as stored in every timestamp column.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) async fn temp_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    (Store::connect(&url).await.unwrap(), dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            sqlite_url("sqlite:///var/x.db").unwrap(),
            "sqlite:///var/x.db?mode=rwc"
        );
        assert!(sqlite_url("sqlite://").is_err());
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        store.ping().await.unwrap();
        drop(store);
        Store::connect(&url).await.unwrap().ping().await.unwrap();
    }
}
