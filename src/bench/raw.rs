//! The database's own limit: plain single-row INSERTs of the ledger's event rows into a scratch
//! table with the events table's schema, over the event log's own pool; a plain SELECT of the
//! events table; and the bulk loader that fills a ledger for the rebuild phase.

use super::stats::Latencies;
use crate::store::{canonical_time, EventLog, Store, StoredEvent};
use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{AnyPool, PgPool, Row};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The scratch table with the events table's schema (columns, keys, checks, indexes).
pub(crate) const RAW_TABLE: &str = "bench_raw_events";
/// The same, plus the events table's statement-level NOTIFY trigger (PostgreSQL only).
pub(crate) const RAW_NOTIFY_TABLE: &str = "bench_raw_events_notify";

const SQLITE_RAW_DDL: &str = "CREATE TABLE IF NOT EXISTS bench_raw_events
(
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
) STRICT";

/// An event row, already serialised (the raw path measures the database, not serde).
#[derive(Debug, Clone)]
pub(crate) struct RawRow {
    aggregate_type: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
    recorded_at: DateTime<Utc>,
    recorded_at_text: String,
    prev_hash: String,
    hash: String,
}

impl From<&StoredEvent> for RawRow {
    fn from(e: &StoredEvent) -> Self {
        Self {
            aggregate_type: e.aggregate_type.clone(),
            sequence: e.sequence,
            event_type: e.event_type.clone(),
            event_version: e.event_version.clone(),
            payload: e.payload.to_string(),
            metadata: e.metadata.to_string(),
            recorded_at: e.recorded_at,
            recorded_at_text: canonical_time(e.recorded_at),
            prev_hash: e.prev_hash.clone().unwrap_or_default(),
            hash: e.hash.clone().unwrap_or_default(),
        }
    }
}

/// The pool the event log writes through.
#[derive(Clone)]
enum WritePool {
    Pg(PgPool),
    Sqlite(AnyPool),
}

fn write_pool(store: &Store) -> WritePool {
    match &store.log {
        EventLog::Postgres(pg) => WritePool::Pg(pg.pool().clone()),
        EventLog::Sqlite(_) => WritePool::Sqlite(store.db.write.clone()),
    }
}

/// Creates the scratch tables.
pub(crate) async fn prepare(store: &Store) -> anyhow::Result<()> {
    match write_pool(store) {
        WritePool::Pg(pool) => {
            for table in [RAW_TABLE, RAW_NOTIFY_TABLE] {
                sqlx::query(&format!(
                    "CREATE TABLE IF NOT EXISTS {table} (LIKE events INCLUDING ALL)"
                ))
                .execute(&pool)
                .await
                .context("create the raw scratch table")?;
            }
            // The NOTIFY-per-append design the service used before migration 0004, kept here to
            // show what it cost.
            sqlx::query(
                "CREATE OR REPLACE FUNCTION bench_notify_events() RETURNS trigger AS $$ \
                 BEGIN PERFORM pg_notify('permit_ledger_bench', ''); RETURN NULL; END; \
                 $$ LANGUAGE plpgsql",
            )
            .execute(&pool)
            .await
            .context("create the raw scratch notify function")?;
            sqlx::query(&format!(
                "CREATE OR REPLACE TRIGGER {RAW_NOTIFY_TABLE}_notify AFTER INSERT ON \
                 {RAW_NOTIFY_TABLE} FOR EACH STATEMENT \
                 EXECUTE FUNCTION bench_notify_events()"
            ))
            .execute(&pool)
            .await
            .context("create the raw scratch trigger")?;
        }
        WritePool::Sqlite(pool) => {
            sqlx::query(SQLITE_RAW_DDL)
                .execute(&pool)
                .await
                .context("create the raw scratch table")?;
        }
    }
    Ok(())
}

/// What a raw insert run did.
#[derive(Debug, Default)]
pub(crate) struct RawResult {
    pub events: u64,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

/// `clients` concurrent clients insert `rows` (round-robin, each under a new aggregate id) one
/// row per statement into `table` until `duration` has passed.
pub(crate) async fn insert(
    store: &Store,
    table: &'static str,
    rows: Arc<Vec<RawRow>>,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<RawResult> {
    anyhow::ensure!(!rows.is_empty(), "no event rows to insert");
    let pool = write_pool(store);
    let counter = Arc::new(AtomicU64::new(0));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (pool, rows, counter, run) = (pool.clone(), rows.clone(), counter.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            let mut events = 0u64;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let row = &rows[(n % rows.len() as u64) as usize];
                let id = format!("raw-{run}-{n}");
                let began = Instant::now();
                insert_one(&pool, table, row, &id).await?;
                latencies.record(began.elapsed());
                events += 1;
            }
            Ok::<_, anyhow::Error>((events, latencies))
        }));
    }
    let mut result = RawResult::default();
    for task in tasks {
        let (events, latencies) = task.await.context("a raw client panicked")??;
        result.events += events;
        result.latencies.extend(latencies);
    }
    result.elapsed = start.elapsed();
    Ok(result)
}

async fn insert_one(pool: &WritePool, table: &str, row: &RawRow, id: &str) -> anyhow::Result<()> {
    match pool {
        WritePool::Pg(pool) => {
            sqlx::query(&format!(
                "INSERT INTO {table} (aggregate_type, aggregate_id, sequence, event_type, \
                 event_version, payload, metadata, recorded_at, prev_hash, hash, position) \
                 VALUES ($1, $2, $3, $4, $5, $6::json, $7::json, $8, $9, $10, \
                 (pg_current_xact_id()::text::bigint << 16) + 1)"
            ))
            .bind(&row.aggregate_type)
            .bind(id)
            .bind(row.sequence)
            .bind(&row.event_type)
            .bind(&row.event_version)
            .bind(&row.payload)
            .bind(&row.metadata)
            .bind(row.recorded_at)
            .bind(&row.prev_hash)
            .bind(&row.hash)
            .execute(pool)
            .await
            .context("raw insert")?;
        }
        WritePool::Sqlite(pool) => {
            sqlx::query(&format!(
                "INSERT INTO {table} (aggregate_type, aggregate_id, sequence, event_type, \
                 event_version, payload, metadata, recorded_at, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(row.aggregate_type.as_str())
            .bind(id)
            .bind(row.sequence)
            .bind(row.event_type.as_str())
            .bind(row.event_version.as_str())
            .bind(row.payload.as_str())
            .bind(row.metadata.as_str())
            .bind(row.recorded_at_text.as_str())
            .bind(row.prev_hash.as_str())
            .bind(row.hash.as_str())
            .execute(pool)
            .await
            .context("raw insert")?;
        }
    }
    Ok(())
}

/// Reads every event row in position order with one plain SELECT, decoding each column to its
/// Rust type but not parsing the JSON; returns the rows read and the time taken.
pub(crate) async fn select_all(store: &Store) -> anyhow::Result<(u64, Duration)> {
    const COLUMNS: &str = "position, aggregate_type, aggregate_id, sequence, event_type, \
        event_version, payload::text AS payload, metadata::text AS metadata, recorded_at, \
        prev_hash, hash";
    let start = Instant::now();
    let mut n = 0u64;
    match &store.log {
        EventLog::Postgres(pg) => {
            let sql = format!("SELECT {COLUMNS} FROM events ORDER BY position");
            let mut rows = sqlx::query(&sql).fetch(pg.pool());
            while let Some(row) = rows.try_next().await.context("raw select")? {
                let _: (i64, String, String, i64, String, String, String, String) = (
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                    row.try_get(4)?,
                    row.try_get(5)?,
                    row.try_get(6)?,
                    row.try_get(7)?,
                );
                let _: (DateTime<Utc>, String, String) =
                    (row.try_get(8)?, row.try_get(9)?, row.try_get(10)?);
                n += 1;
            }
        }
        EventLog::Sqlite(_) => {
            let sql = format!(
                "SELECT {} FROM events ORDER BY position",
                COLUMNS.replace("::text", "")
            );
            let mut rows = sqlx::query(&sql).fetch(&store.db.read);
            while let Some(row) = rows.try_next().await.context("raw select")? {
                let _: (i64, String, String, i64, String, String, String, String) = (
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                    row.try_get(4)?,
                    row.try_get(5)?,
                    row.try_get(6)?,
                    row.try_get(7)?,
                );
                let _: (String, String, String) =
                    (row.try_get(8)?, row.try_get(9)?, row.try_get(10)?);
                n += 1;
            }
        }
    }
    Ok((n, start.elapsed()))
}

/// Appends `rows` (whole streams, chained, in order) in large statements: the bulk loader that
/// fills a ledger for the rebuild phase. Positions are assigned as the event log assigns them.
pub(crate) async fn bulk_append(store: &Store, rows: &[StoredEvent]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    match write_pool(store) {
        WritePool::Pg(pool) => {
            // At most 65 535 events per transaction: positions are (xid << 16) + index.
            for chunk in rows.chunks(20_000) {
                let col = |f: fn(&StoredEvent) -> String| chunk.iter().map(f).collect::<Vec<_>>();
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                         event_version, payload, metadata, recorded_at,
                                         prev_hash, hash, position)
                     SELECT t.aggregate_type, t.aggregate_id, t.sequence, t.event_type,
                            t.event_version, t.payload::json, t.metadata::json, t.recorded_at,
                            t.prev_hash, t.hash, (pg_current_xact_id()::text::bigint << 16) + t.ord
                       FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[],
                                   $6::text[], $7::text[], $8::timestamptz[], $9::text[],
                                   $10::text[])
                            WITH ORDINALITY AS t(aggregate_type, aggregate_id, sequence,
                                 event_type, event_version, payload, metadata, recorded_at,
                                 prev_hash, hash, ord)",
                )
                .bind(col(|r| r.aggregate_type.clone()))
                .bind(col(|r| r.aggregate_id.clone()))
                .bind(chunk.iter().map(|r| r.sequence).collect::<Vec<_>>())
                .bind(col(|r| r.event_type.clone()))
                .bind(col(|r| r.event_version.clone()))
                .bind(col(|r| r.payload.to_string()))
                .bind(col(|r| r.metadata.to_string()))
                .bind(chunk.iter().map(|r| r.recorded_at).collect::<Vec<_>>())
                .bind(col(|r| r.prev_hash.clone().unwrap_or_default()))
                .bind(col(|r| r.hash.clone().unwrap_or_default()))
                .execute(&pool)
                .await
                .context("bulk load")?;
            }
        }
        WritePool::Sqlite(pool) => {
            const PER_STATEMENT: usize = 200;
            let mut tx = pool.begin().await?;
            for chunk in rows.chunks(PER_STATEMENT) {
                let values = (0..chunk.len())
                    .map(|i| {
                        let p: Vec<String> = (1..=10).map(|c| format!("${}", i * 10 + c)).collect();
                        format!("({})", p.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                     event_version, payload, metadata, recorded_at, prev_hash, hash) VALUES {values}"
                );
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    q = q
                        .bind(r.aggregate_type.clone())
                        .bind(r.aggregate_id.clone())
                        .bind(r.sequence)
                        .bind(r.event_type.clone())
                        .bind(r.event_version.clone())
                        .bind(r.payload.to_string())
                        .bind(r.metadata.to_string())
                        .bind(canonical_time(r.recorded_at))
                        .bind(r.prev_hash.clone().unwrap_or_default())
                        .bind(r.hash.clone().unwrap_or_default());
                }
                q.execute(&mut *tx).await.context("bulk load")?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}
