//! The PostgreSQL event store.
//!
//! One statement loads a stream; one statement appends a command's events (an implicit
//! transaction, so all or none). The primary key (aggregate_type, aggregate_id, sequence) turns
//! a concurrent append to the same stream into [`StoreError::Conflict`].

use super::reads::{self, EventReads};
use super::{StoreError, StoredEvent};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::Row;
use std::sync::LazyLock;
use std::time::Duration;

/// Schema migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The reads: `json` columns as text; the feed stops below the oldest running writer's first
/// possible position, so it never skips an event that commits later (decisions/0002).
static READS: LazyLock<EventReads> = LazyLock::new(|| {
    EventReads::new(
        "position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload::text AS payload, metadata::text AS metadata, recorded_at, prev_hash, hash",
        " AND position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16)",
    )
});

const APPEND: &str = "
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                    payload, metadata, recorded_at, prev_hash, hash, position)
SELECT $1, $2, $3 + t.ord, t.event_type, t.event_version, t.payload::json, t.metadata::json,
       $4, t.prev_hash, t.hash, (pg_current_xact_id()::text::bigint << 16) + t.ord
  FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
       WITH ORDINALITY AS t(event_type, event_version, payload, metadata, prev_hash, hash, ord)
RETURNING position";

/// The event store on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgEventLog {
    pool: PgPool,
}

impl PgEventLog {
    /// Connects a pool of `max_connections` to `url`, waiting at most `connect_timeout`.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        connect_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(connect_timeout)
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    /// Uses an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, for readers that share it.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn load(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&READS.load)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Writes `rows` (one stream, consecutive sequences, chained) in one statement; returns
    /// their positions in order.
    pub(super) async fn append(&self, rows: &[StoredEvent]) -> Result<Vec<i64>, StoreError> {
        let first = &rows[0];
        let text = |f: fn(&StoredEvent) -> String| rows.iter().map(f).collect::<Vec<String>>();
        let fetched = sqlx::query(APPEND)
            .bind(&first.aggregate_type)
            .bind(&first.aggregate_id)
            .bind(first.sequence - 1)
            .bind(first.recorded_at)
            .bind(text(|r| r.event_type.clone()))
            .bind(text(|r| r.event_version.clone()))
            .bind(text(|r| r.payload.to_string()))
            .bind(text(|r| r.metadata.to_string()))
            .bind(text(|r| r.prev_hash.clone().unwrap_or_default()))
            .bind(text(|r| r.hash.clone().unwrap_or_default()))
            .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    pub(super) async fn head(&self) -> Result<i64, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(head.unwrap_or(0))
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn decode(row: &PgRow) -> Result<StoredEvent, StoreError> {
    reads::decode(row, row.try_get("recorded_at")?)
}
