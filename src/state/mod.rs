//! What airsync keeps of its own: devices and policy keys, stable folder ids and sync
//! state (design.md, "State model"). One SQL dialect serves SQLite (the default) and
//! PostgreSQL (several nodes) through sqlx's `any` driver, which hands the SQL to the
//! engine unchanged: the migrations in `migrations/` and every query are written in
//! the subset both engines share — `$N` placeholders, `ON CONFLICT … DO UPDATE/NOTHING`,
//! BIGINT for every number that can exceed 2^31, INTEGER 0/1 for flags, BYTEA for
//! bytes (SQLite stores them as blobs), no AUTOINCREMENT (ids are handed out by
//! airsync). One write is said in each engine's own words: a Sync's new key and its
//! cached request in one round trip (`sync.rs`, `PUT_KEY_AND_CACHE_*`). The unit tests
//! of this module run on both engines (see `test_stores`).

mod admin;
mod conversations;
mod dav;
mod devices;
mod folders;
mod sent;
mod sync;

pub use admin::{AuditEntry, Overrides, Scope, Setting};
pub use devices::{Device, DeviceInfo, DeviceSeen, WipeState};
pub use folders::{FolderRow, UpstreamFolder};
pub use sent::SendClaim;
pub use sync::{NewSyncKey, StoredSnapshot};

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

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// One file, one node.
    Sqlite,
    /// Shared by several nodes.
    Postgres,
}

/// The shared handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// The connection URL (it may hold a password: never logged), for connections
    /// outside the pool such as the PostgreSQL listener of `push::cluster`.
    url: std::sync::Arc<str>,
    /// DAV item numbers per (login, folder id) (see `dav.rs`): the table only grows,
    /// so a copy answers lookups of the numbers it holds.
    dav_items: dav::ItemCache,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let engine = engine_of(url)?;
        let is_sqlite = engine == Engine::Sqlite;
        let url = if is_sqlite {
            sqlite_url(url)?
        } else {
            url.to_string()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if is_sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            // A SQLite connection is a file handle on a worker thread: it does not go
            // stale, and the ping would cost a thread hand-off before every query.
            .test_before_acquire(!is_sqlite)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if is_sqlite {
                        // Writers wait for each other instead of failing with SQLITE_BUSY.
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        // Checkpoints are the checkpointer's (below), not a request's.
                        conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if is_sqlite {
            // WAL lets readers run beside the writer; it is a property of the file.
            pool.execute("PRAGMA journal_mode = WAL").await?;
            start_checkpointer(&pool);
        }
        // On PostgreSQL the migrator holds an advisory lock: nodes starting together
        // migrate one after the other.
        MIGRATOR.run(&pool).await?;
        let store = Store {
            pool,
            engine,
            url: url.into(),
            dav_items: dav::ItemCache::default(),
        };
        Ok(store)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The connection URL; holds the password, if any: never log it.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The engine a store URL names.
fn engine_of(url: &str) -> Result<Engine, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        Err(StoreError::BadUrl(
            url.split_once("://")
                .map_or("?", |(scheme, _)| scheme)
                .into(),
        ))
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

/// How often the WAL of an SQLite store is written back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// SQLite writes every commit to its write-ahead log, and by default the commit that
/// takes the log past 1,000 pages also copies it back into the database file: a Sync
/// request then waited milliseconds for that. Every connection switches this off
/// (`wal_autocheckpoint = 0`); this task checkpoints once a second instead, without
/// waiting for readers (PASSIVE). The last connection to close checkpoints as well.
fn start_checkpointer(pool: &AnyPool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let pool = pool.clone();
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = pool.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(target: "airsync", error = %e, "SQLite checkpoint failed; retrying");
            }
        }
    });
}

#[cfg(test)]
pub(crate) async fn temp_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    (Store::connect(&url).await.unwrap(), dir)
}

/// What keeps a test store alive: its SQLite directory, or nothing (a PostgreSQL
/// schema of the test stack, left for the stack to be thrown away with).
#[cfg(test)]
pub(crate) enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres,
}

/// A fresh store on every engine the test run has: SQLite always, and PostgreSQL
/// when the test stack is there (`AIRSYNC_TEST_STACK`, whose `PG_URL` must then be
/// set: a stack without PostgreSQL fails the test). Each PostgreSQL store lives in a
/// schema of its own, so tests run in parallel on one database.
#[cfg(test)]
pub(crate) async fn test_stores() -> Vec<(Store, TestDb)> {
    let (sqlite, dir) = temp_store().await;
    let mut stores = vec![(sqlite, TestDb::Sqlite(dir))];
    if let Some(url) = test_pg_url() {
        let url = pg_test_schema(&url).await;
        stores.push((Store::connect(&url).await.unwrap(), TestDb::Postgres));
    }
    stores
}

/// `PG_URL` of the test stack, if a stack is configured.
#[cfg(test)]
fn test_pg_url() -> Option<String> {
    let dir = std::env::var_os("AIRSYNC_TEST_STACK").filter(|d| !d.is_empty())?;
    let env = std::path::Path::new(&dir).join("stack.env");
    let text = std::fs::read_to_string(&env)
        .unwrap_or_else(|e| panic!("AIRSYNC_TEST_STACK is set but {}: {e}", env.display()));
    let url = text
        .lines()
        .find_map(|l| l.strip_prefix("PG_URL="))
        .unwrap_or_else(|| panic!("{} has no PG_URL: restart the stack", env.display()));
    Some(url.trim().to_string())
}

/// Creates a new schema in the database of `url` and returns a URL whose connections
/// use it.
#[cfg(test)]
pub(crate) async fn pg_test_schema(url: &str) -> String {
    use sqlx::Connection;
    let schema = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    // The name is ours (hex), not input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options[search_path]={schema}")
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

    /// Rows committed to the WAL reach the database file without any commit doing it:
    /// a connection that reads the file alone (`immutable`, which ignores the WAL)
    /// sees them after the checkpointer's next turn.
    #[tokio::test]
    async fn the_checkpointer_writes_the_wal_back() {
        let (store, dir) = temp_store().await;
        let file_alone = format!("sqlite://{}/t.db?immutable=1", dir.path().display());
        let count = || async {
            let pool = sqlx::AnyPool::connect(&file_alone).await.unwrap();
            let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM hidden_folders")
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n.0
        };
        tokio::time::sleep(CHECKPOINT_EVERY * 2).await;
        for i in 0..50 {
            store
                .set_folder_hidden("a@x", &format!("F{i}"), true)
                .await
                .unwrap();
        }
        let autocheckpoint: (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(autocheckpoint.0, 0, "no commit checkpoints");
        let mut waited = Duration::ZERO;
        while count().await < 50 {
            assert!(waited < CHECKPOINT_EVERY * 5, "not checkpointed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += Duration::from_millis(100);
        }
    }
}
