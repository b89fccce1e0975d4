//! Who may run a projection: one runner per projection at a time, across instances.
//!
//! The claim is a lock the operating system or the database drops with its holder, so a runner
//! whose process died gives way at once (no TTL to wait out):
//!
//! - PostgreSQL: a session advisory lock per projection, taken on one connection that this
//!   instance keeps for the purpose; PostgreSQL releases it when that connection ends, and a
//!   killed process's connection ends with it.
//! - Embedded: an exclusive lock on a file beside the database (`ledger.sqlite3.runners`), held
//!   by the one process that runs the projections; the kernel releases it when that process
//!   ends.
//!
//! Whoever holds the claim writes itself into `projection_state.owner`, and every batch a runner
//! commits is fenced on that column, so a runner that lost its claim (its lock connection cut,
//! say) cannot commit after another has taken over.

use crate::store::{Db, EventLog, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::File;
use std::path::PathBuf;
use tokio::sync::Mutex;

/// The locks one read side holds.
pub(super) struct Claims {
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// Projections whose lock this instance holds.
    locked: HashSet<String>,
    /// Projections whose `owner` column names this instance (a subset of `locked`).
    owned: HashSet<String>,
    /// PostgreSQL: the connection the advisory locks live on.
    connection: Option<sqlx::PgConnection>,
    /// Embedded: the locked file.
    file: Option<File>,
}

impl Claims {
    pub(super) fn new() -> Self {
        Self {
            held: Mutex::new(Held::default()),
        }
    }

    /// Takes (or confirms) the claim on projection `name` for `owner`; true when held.
    pub(super) async fn acquire(
        &self,
        log: &EventLog,
        db: &Db,
        name: &str,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let mut held = self.held.lock().await;
        let locked = match log {
            EventLog::Postgres(pg) => held.advisory(pg.pool(), name).await?,
            EventLog::Sqlite(_) => held.file(db).await?,
        };
        if !locked {
            held.locked.remove(name);
            held.owned.remove(name);
            return Ok(false);
        }
        held.locked.insert(name.to_string());
        if !held.owned.contains(name) {
            // The lock proves no live runner elsewhere holds the projection: whoever the row
            // names is gone (or has lost its own lock), so its fenced commits fail from now on.
            let written = sqlx::query(
                "UPDATE projection_state SET owner = $1, lease_until = NULL WHERE name = $2",
            )
            .bind(owner)
            .bind(name)
            .execute(&db.write)
            .await?
            .rows_affected();
            if written != 1 {
                // Its row is not there yet (`prepare` has not run): nothing to run.
                return Ok(false);
            }
            held.owned.insert(name.to_string());
            tracing::info!(projection = name, "projection claimed");
        }
        Ok(true)
    }

    /// After a fenced commit failed: the row no longer names this instance, so the next
    /// `acquire` writes it again (if the lock is still held).
    pub(super) async fn forget(&self, name: &str) {
        self.held.lock().await.owned.remove(name);
    }

    /// Gives the claim up (at shutdown), so another instance takes over at once.
    pub(super) async fn release(&self, log: &EventLog, db: &Db, name: &str, owner: &str) {
        let mut held = self.held.lock().await;
        held.owned.remove(name);
        if !held.locked.remove(name) {
            return;
        }
        let r = sqlx::query(
            "UPDATE projection_state SET owner = NULL, lease_until = NULL
              WHERE name = $1 AND owner = $2",
        )
        .bind(name)
        .bind(owner)
        .execute(&db.write)
        .await;
        if let Err(e) = r {
            tracing::warn!(projection = name, error = %e, "cannot clear the projection's owner");
        }
        match log {
            EventLog::Postgres(_) => {
                if let Some(c) = held.connection.as_mut() {
                    let r = sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(lock_key(name))
                        .execute(&mut *c)
                        .await;
                    if r.is_err() {
                        held.connection = None;
                    }
                }
                if held.locked.is_empty() {
                    held.connection = None;
                }
            }
            EventLog::Sqlite(_) => {
                if held.locked.is_empty() {
                    held.file = None;
                }
            }
        }
    }
}

impl Held {
    /// The advisory lock of `name` on this instance's lock connection (opened if needed). A
    /// lock already held is confirmed by the connection answering; if it does not, every lock
    /// on it is gone.
    async fn advisory(&mut self, pool: &sqlx::PgPool, name: &str) -> Result<bool, StoreError> {
        use sqlx::Connection;
        if self.connection.is_none() {
            self.locked.clear();
            self.owned.clear();
            let options = pool.connect_options().as_ref().clone();
            let c = sqlx::PgConnection::connect_with(
                &options.application_name("permit-ledger runner locks"),
            )
            .await?;
            self.connection = Some(c);
        }
        let c = self.connection.as_mut().expect("just opened");
        let answer = if self.locked.contains(name) {
            sqlx::query_scalar::<_, bool>("SELECT true")
                .fetch_one(&mut *c)
                .await
        } else {
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(lock_key(name))
                .fetch_one(&mut *c)
                .await
        };
        match answer {
            Ok(locked) => Ok(locked),
            Err(e) => {
                // The connection is gone, and with it every lock on it.
                self.connection = None;
                self.locked.clear();
                self.owned.clear();
                Err(e.into())
            }
        }
    }

    /// The runners' file lock (taken if free).
    async fn file(&mut self, db: &Db) -> Result<bool, StoreError> {
        if self.file.is_some() {
            return Ok(true);
        }
        let path = lock_path(db).await?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Malformed(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {
                self.file = Some(file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Malformed(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}

/// The file beside the embedded database that the running process locks.
async fn lock_path(db: &Db) -> Result<PathBuf, StoreError> {
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&db.write)
            .await?;
    Ok(PathBuf::from(format!("{file}.runners")))
}

/// The advisory-lock key of projection `name`: stable across versions and instances.
fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("permit-ledger projection {name}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}
