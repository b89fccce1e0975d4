//! Opening the store named by the settings: PostgreSQL for a `postgres://` URL, otherwise the
//! embedded SQLite file in the data directory. Migrations are applied on open.

use super::{sqlite, Backend, Db, EventLog, PgEventLog, SqliteEventLog, StoreError};
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AnyPool, Executor};
use std::path::PathBuf;
use std::time::Duration;

/// Where the ledger lives.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A `postgres://` URL selects PostgreSQL; `None` selects the embedded store.
    pub database_url: Option<String>,
    /// The embedded store's folder.
    pub data_dir: PathBuf,
    /// Connections per pool.
    pub pool_size: u32,
}

/// An opened, migrated store.
#[derive(Clone, Debug)]
pub struct Store {
    /// The event log.
    pub log: EventLog,
    /// The side tables.
    pub db: Db,
}

impl Store {
    /// Which store this is.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no supported store.
    #[error("DATABASE_URL must be a postgres:// URL (or unset for the embedded store)")]
    UnsupportedUrl,
    /// The data directory cannot be created.
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    /// Connecting or migrating failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for OpenError {
    fn from(e: sqlx::Error) -> Self {
        OpenError::Store(StoreError::Database(e))
    }
}

/// Opens and migrates the store.
pub async fn open(config: &StoreConfig) -> Result<Store, OpenError> {
    sqlx::any::install_default_drivers();
    match config.database_url.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            open_postgres(url, config.pool_size).await
        }
        Some(_) => Err(OpenError::UnsupportedUrl),
        None => open_sqlite(config).await,
    }
}

async fn open_postgres(url: &str, pool_size: u32) -> Result<Store, OpenError> {
    // No ping before each checkout: it is a round trip per command on a healthy database, and a
    // connection that died is dropped on its first error anyway.
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    let pg = PgEventLog::from_pool(pool);
    pg.migrate().await?;
    let any = AnyPoolOptions::new()
        .max_connections(pool_size)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    Ok(Store {
        log: EventLog::Postgres(pg),
        db: Db {
            backend: Backend::Postgres,
            read: any.clone(),
            write: any,
        },
    })
}

/// The embedded store's file inside the data directory.
pub fn sqlite_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("ledger.sqlite3")
}

async fn sqlite_pool(url: &str, connections: u32) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL: readers never block the writer. FULL: a commit is on disk before it is
                // acknowledged, so no acknowledged event is lost to a crash or power cut.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

async fn open_sqlite(config: &StoreConfig) -> Result<Store, OpenError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| OpenError::DataDir(config.data_dir.clone(), e))?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        sqlite_path(&config.data_dir).display()
    );
    let write = sqlite_pool(&url, 1).await?;
    sqlite::MIGRATOR
        .run(&write)
        .await
        .map_err(StoreError::from)?;
    let read = sqlite_pool(&url, config.pool_size.clamp(1, 8)).await?;
    Ok(Store {
        log: EventLog::Sqlite(SqliteEventLog::new(read.clone(), write.clone())),
        db: Db {
            backend: Backend::Sqlite,
            read,
            write,
        },
    })
}
