//! Checkpoints: `(position, event_count, feed_hash)` sealed over the global feed.
//!
//! Checkpoint `n + 1` extends checkpoint `n` over the events read after its position (at most
//! [`MAX_EVENTS_PER_CHECKPOINT`]), so every checkpoint is a claim about the whole history up to
//! its position. Writing one is a conditional insert: id `n + 1`, only while checkpoint `n` is
//! still there with the feed hash it was extended from. Two instances extending at once write
//! one row; the other insert does nothing, so writing is idempotent.

use super::feed::{feed_step, FEED_START};
use super::signing::CheckpointSigner;
use super::AuditError;
use crate::store::{canonical_time, Db, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// At most this many events per checkpoint, so a damaged span stays small enough to pin down.
pub const MAX_EVENTS_PER_CHECKPOINT: i64 = 1000;

/// A sealed prefix of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// 1, 2, 3, … in the order written.
    pub id: i64,
    /// The position of the last event covered.
    pub position: i64,
    /// How many events the feed holds up to and including `position`.
    pub event_count: i64,
    /// The feed hash after those events.
    pub feed_hash: String,
    /// When it was written (RFC 3339, UTC, microseconds; not signed).
    pub created_at: String,
    /// Ed25519 signature (hex) over [`super::signing::message`], if signed.
    #[serde(default)]
    pub signature: Option<String>,
    /// The signing key's id, if signed.
    #[serde(default)]
    pub key_id: Option<String>,
}

const COLUMNS: &str = "id, position, event_count, feed_hash, created_at, signature, key_id";

fn decode(row: &AnyRow) -> Result<Checkpoint, sqlx::Error> {
    Ok(Checkpoint {
        id: row.try_get("id")?,
        position: row.try_get("position")?,
        event_count: row.try_get("event_count")?,
        feed_hash: row.try_get("feed_hash")?,
        created_at: row.try_get("created_at")?,
        signature: row.try_get("signature")?,
        key_id: row.try_get("key_id")?,
    })
}

/// The latest checkpoint, if any.
pub async fn latest(db: &Db) -> Result<Option<Checkpoint>, AuditError> {
    let sql = format!("SELECT {COLUMNS} FROM ledger_checkpoints ORDER BY id DESC LIMIT 1");
    let row = sqlx::query(&sql).fetch_optional(&db.read).await?;
    Ok(row.as_ref().map(decode).transpose()?)
}

/// Up to `limit` checkpoints after id `after_id`, in id order.
pub async fn page(db: &Db, after_id: i64, limit: i64) -> Result<Vec<Checkpoint>, AuditError> {
    let sql =
        format!("SELECT {COLUMNS} FROM ledger_checkpoints WHERE id > $1 ORDER BY id LIMIT $2");
    let rows = sqlx::query(&sql)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&db.read)
        .await?;
    Ok(rows.iter().map(decode).collect::<Result<_, _>>()?)
}

/// How many checkpoints there are.
pub async fn count(db: &Db) -> Result<i64, AuditError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM ledger_checkpoints")
            .fetch_one(&db.read)
            .await?,
    )
}

/// Inserts `cp` unless a checkpoint with its id or position exists, and only while its
/// predecessor (`prev_id`, `prev_hash`; id 0 for the first) is there. Whether it was written.
async fn insert_after(
    db: &Db,
    cp: &Checkpoint,
    prev_id: i64,
    prev_hash: &str,
) -> Result<bool, AuditError> {
    let done = sqlx::query(
        "INSERT INTO ledger_checkpoints (id, position, event_count, feed_hash, created_at,
                                         signature, key_id)
         SELECT $1, $2, $3, $4, $5, $6, $7
          WHERE ($8 = 0 OR EXISTS (SELECT 1 FROM ledger_checkpoints
                                    WHERE id = $8 AND feed_hash = $9))
         ON CONFLICT DO NOTHING",
    )
    .bind(cp.id)
    .bind(cp.position)
    .bind(cp.event_count)
    .bind(&cp.feed_hash)
    .bind(&cp.created_at)
    .bind(cp.signature.clone())
    .bind(cp.key_id.clone())
    .bind(prev_id)
    .bind(prev_hash)
    .execute(&db.write)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Seals the feed read after the latest checkpoint (at most [`MAX_EVENTS_PER_CHECKPOINT`]
/// events) in a new checkpoint, signed when a signer is given. `None` when there is nothing new
/// or another instance wrote the next checkpoint first.
pub async fn extend(
    store: &Store,
    signer: Option<&CheckpointSigner>,
) -> Result<Option<Checkpoint>, AuditError> {
    let base = latest(&store.db).await?;
    let (prev_id, after, count, hash) = match &base {
        Some(b) => (b.id, b.position, b.event_count, b.feed_hash.clone()),
        None => (0, 0, 0, FEED_START.to_string()),
    };
    let events = store
        .log
        .read_feed(after, MAX_EVENTS_PER_CHECKPOINT)
        .await?;
    let Some(last) = events.last() else {
        return Ok(None);
    };
    let mut feed_hash = hash.clone();
    for e in &events {
        let event_hash = e
            .hash
            .as_deref()
            .ok_or_else(|| StoreError::Malformed(format!("event {} has no hash", e.position)))?;
        feed_hash = feed_step(&feed_hash, event_hash);
    }
    let position = last.position;
    let event_count = count + events.len() as i64;
    let cp = Checkpoint {
        id: prev_id + 1,
        position,
        event_count,
        signature: signer.map(|s| s.sign(position, event_count, &feed_hash)),
        key_id: signer.map(CheckpointSigner::key_id),
        feed_hash,
        created_at: canonical_time(chrono::Utc::now()),
    };
    if insert_after(&store.db, &cp, prev_id, &hash).await? {
        Ok(Some(cp))
    } else {
        Ok(None)
    }
}

/// Extends checkpoints until they cover the whole readable feed; returns how many were written.
pub async fn extend_all(
    store: &Store,
    signer: Option<&CheckpointSigner>,
) -> Result<usize, AuditError> {
    let mut written = 0;
    // `None`: nothing new, or another instance wrote the next one first (the next round goes
    // on from there).
    while extend(store, signer).await?.is_some() {
        written += 1;
    }
    Ok(written)
}

/// Checkpoints as JSON for answers and exports, with what a verifier needs.
pub fn checkpoint_json(cp: &Checkpoint) -> serde_json::Value {
    serde_json::json!({
        "id": cp.id,
        "position": cp.position,
        "event_count": cp.event_count,
        "feed_hash": cp.feed_hash,
        "created_at": cp.created_at,
        "signature": cp.signature,
        "key_id": cp.key_id,
    })
}

/// Writes an imported checkpoint as it is (the caller checked it and the store is empty).
pub(super) fn insert_sql() -> &'static str {
    "INSERT INTO ledger_checkpoints (id, position, event_count, feed_hash, created_at,
                                     signature, key_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)"
}
