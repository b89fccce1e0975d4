//! The embedded event store: one SQLite file in WAL mode with full fsync on commit.
//!
//! All writes go through one connection, so positions (rowids) are assigned in commit order and
//! no reader can see a later event before an earlier one. A command's events are one multi-row
//! INSERT: all or nothing. The UNIQUE (aggregate_type, aggregate_id, sequence) constraint turns
//! a concurrent append to the same stream into [`StoreError::Conflict`].

use super::reads::{self, EventReads};
use super::{canonical_time, StoreError, StoredEvent};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::sync::LazyLock;

/// Schema migrations for the embedded store, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The reads: every committed event is visible (one writer assigns positions in commit order).
static READS: LazyLock<EventReads> = LazyLock::new(|| {
    EventReads::new(
        "position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
         metadata, recorded_at, prev_hash, hash",
        "",
    )
});

/// The event store on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteEventLog {
    read: AnyPool,
    write: AnyPool,
}

impl SqliteEventLog {
    /// Over a read pool and a single-connection write pool on the same file.
    pub fn new(read: AnyPool, write: AnyPool) -> Self {
        Self { read, write }
    }

    pub(super) async fn load(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&READS.load)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Writes `rows` (one stream, consecutive sequences, chained) in one statement; returns
    /// their positions in order.
    pub(super) async fn append(&self, rows: &[StoredEvent]) -> Result<Vec<i64>, StoreError> {
        const COLUMNS: usize = 10;
        let values: Vec<String> = (0..rows.len())
            .map(|i| {
                let params: Vec<String> = (1..=COLUMNS)
                    .map(|c| format!("${}", i * COLUMNS + c))
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, recorded_at, prev_hash, hash) VALUES {} \
             RETURNING position",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for r in rows {
            query = query
                .bind(r.aggregate_type.as_str())
                .bind(r.aggregate_id.as_str())
                .bind(r.sequence)
                .bind(r.event_type.as_str())
                .bind(r.event_version.as_str())
                .bind(r.payload.to_string())
                .bind(r.metadata.to_string())
                .bind(canonical_time(r.recorded_at))
                .bind(r.prev_hash.clone().unwrap_or_default())
                .bind(r.hash.clone().unwrap_or_default());
        }
        let fetched = query
            .fetch_all(&self.write)
            .await
            .map_err(StoreError::from_append)?;
        super::sorted_positions(&fetched)
    }

    pub(super) async fn load_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&READS.load_type)
            .bind(aggregate_type)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(decode).collect()
    }

    pub(super) async fn read_feed(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&READS.read_feed)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(decode).collect()
    }

    pub(super) async fn head(&self) -> Result<i64, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.read)
            .await?;
        Ok(head.unwrap_or(0))
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}

fn parse_time(text: String) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Malformed(format!("recorded_at {text:?}: {e}")))
}

fn decode(row: &AnyRow) -> Result<StoredEvent, StoreError> {
    reads::decode(row, parse_time(row.try_get("recorded_at")?)?)
}
