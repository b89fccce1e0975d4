//! Fresh stores for the bench: a new PostgreSQL database next to the one `DATABASE_URL` names,
//! or a new embedded data directory under the system's temporary folder; removed afterwards.

use super::BenchStore;
use crate::store::{open, EventLog, Store, StoreConfig};
use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};
use std::path::PathBuf;

/// A fresh, migrated store that the bench owns.
pub(crate) struct Scratch {
    pub store: Store,
    /// (the URL the database was created from, its name)
    pg: Option<(String, String)>,
    dir: Option<PathBuf>,
}

/// `url` with its database name replaced by `name` (query string kept).
pub(crate) fn sibling_url(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let rest = base
        .split_once("://")
        .map(|(_, rest)| rest)
        .context("DATABASE_URL is not a URL")?;
    let prefix = if rest.contains('/') {
        base.rsplit_once('/').map(|(p, _)| p).unwrap_or(base)
    } else {
        base
    };
    Ok(match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    })
}

impl Scratch {
    /// Creates and opens a fresh store of `kind` with a pool of `pool_size`.
    pub async fn create(
        kind: BenchStore,
        database_url: Option<&str>,
        pool_size: u32,
    ) -> anyhow::Result<Self> {
        let name = format!("permit_ledger_bench_{}", uuid::Uuid::new_v4().simple());
        match kind {
            BenchStore::Postgres => {
                let admin = database_url
                    .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
                    .context("--store postgres needs DATABASE_URL (a postgres:// URL)")?;
                let mut conn = PgConnection::connect(admin)
                    .await
                    .context("connect to DATABASE_URL")?;
                conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .context("create the bench database")?;
                let _ = conn.close().await;
                let url = sibling_url(admin, &name)?;
                let config = StoreConfig {
                    database_url: Some(url),
                    data_dir: PathBuf::new(),
                    pool_size,
                };
                let pg = Some((admin.to_string(), name));
                match open(&config).await {
                    Ok(store) => Ok(Self {
                        store,
                        pg,
                        dir: None,
                    }),
                    Err(e) => {
                        drop_database(pg.as_ref()).await;
                        Err(e).context("open the bench database")
                    }
                }
            }
            BenchStore::Embedded => {
                let dir = std::env::temp_dir().join(name.replace('_', "-"));
                let config = StoreConfig {
                    database_url: None,
                    data_dir: dir.clone(),
                    pool_size,
                };
                match open(&config).await {
                    Ok(store) => Ok(Self {
                        store,
                        pg: None,
                        dir: Some(dir),
                    }),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        Err(e).context("open the bench data directory")
                    }
                }
            }
        }
    }

    /// Closes the pools and removes the database or the directory.
    pub async fn destroy(self) {
        if let EventLog::Postgres(pg) = &self.store.log {
            pg.pool().close().await;
        }
        self.store.db.read.close().await;
        self.store.db.write.close().await;
        drop_database(self.pg.as_ref()).await;
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn drop_database(pg: Option<&(String, String)>) {
    let Some((admin, name)) = pg else { return };
    match PgConnection::connect(admin).await {
        Ok(mut conn) => {
            let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
            if let Err(e) = conn.execute(sql.as_str()).await {
                tracing::warn!(database = %name, error = %e, "cannot drop the bench database");
            }
            let _ = conn.close().await;
        }
        Err(e) => tracing::warn!(database = %name, error = %e, "cannot drop the bench database"),
    }
}

#[cfg(test)]
mod tests {
    use super::sibling_url;

    #[test]
    fn the_sibling_database_keeps_host_and_options() {
        assert_eq!(
            sibling_url("postgres://postgres@127.0.0.1:5432/test", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            sibling_url("postgres://u:p@h/test?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            sibling_url("postgres://h:5432", "b").unwrap(),
            "postgres://h:5432/b"
        );
    }
}
