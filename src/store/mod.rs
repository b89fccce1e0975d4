//! The store: the event log, and the side tables (read models, sessions, outboxes) beside it.
//!
//! [`EventLog`] is the one interface the command side and the feed readers use, with a
//! PostgreSQL and an embedded SQLite implementation. [`Db`] is the same database seen through
//! sqlx's `Any` driver, for the side tables, whose SQL is written once for both stores.

mod chain;
mod db;
mod open;
mod postgres;
mod reads;
mod sqlite;
mod stored;

pub use chain::{canonical_json, canonical_time, event_hash, Hashed, GENESIS};
pub use db::{Backend, Db};
pub use open::{open, sqlite_path, OpenError, Store, StoreConfig};
pub use postgres::PgEventLog;
pub use sqlite::SqliteEventLog;
pub use stored::{NewEvent, StoredEvent};

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the same stream first (optimistic concurrency).
    #[error("the stream changed since it was read")]
    Conflict,
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Stored data could not be decoded.
    #[error("stored event is malformed: {0}")]
    Malformed(String),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// An append's failure: a primary-key clash means another writer appended first.
    pub(crate) fn from_append(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(e),
        }
    }
}

/// The `position` column of appended rows, in increasing order.
pub(crate) fn sorted_positions<R: sqlx::Row>(rows: &[R]) -> Result<Vec<i64>, StoreError>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    let mut positions = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("position"))
        .collect::<Result<Vec<_>, _>>()?;
    positions.sort_unstable();
    Ok(positions)
}

/// The event log behind the command side and the readers.
#[derive(Clone, Debug)]
pub enum EventLog {
    /// PostgreSQL.
    Postgres(PgEventLog),
    /// The embedded SQLite file.
    Sqlite(SqliteEventLog),
}

impl EventLog {
    /// All events of one stream, in sequence order.
    pub async fn load(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            EventLog::Postgres(s) => s.load(aggregate_type, aggregate_id).await,
            EventLog::Sqlite(s) => s.load(aggregate_type, aggregate_id).await,
        }
    }

    /// Every event of every stream of one aggregate type, in feed order (for small types such
    /// as staff).
    pub async fn load_type(&self, aggregate_type: &str) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            EventLog::Postgres(s) => s.load_type(aggregate_type).await,
            EventLog::Sqlite(s) => s.load_type(aggregate_type).await,
        }
    }

    /// Appends events to a stream whose last sequence is `expected_sequence` and whose last
    /// hash is `prev_hash` ([`GENESIS`] for a new stream), in one atomic write;
    /// [`StoreError::Conflict`] when another writer got there first. Returns the stored events
    /// with their positions and hashes.
    pub async fn append(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        expected_sequence: i64,
        prev_hash: &str,
        events: &[NewEvent],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if events.is_empty() {
            return Ok(vec![]);
        }
        let rows = chained(
            aggregate_type,
            aggregate_id,
            expected_sequence,
            prev_hash,
            events,
        );
        let positions = match self {
            EventLog::Postgres(s) => s.append(&rows).await?,
            EventLog::Sqlite(s) => s.append(&rows).await?,
        };
        Ok(rows
            .into_iter()
            .zip(positions)
            .map(|(mut row, position)| {
                row.position = position;
                row
            })
            .collect())
    }

    /// Up to `limit` events after `position`, in commit order, never past a writer that has not
    /// committed yet.
    pub async fn read_feed(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            EventLog::Postgres(s) => s.read_feed(after, limit).await,
            EventLog::Sqlite(s) => s.read_feed(after, limit).await,
        }
    }

    /// The highest position written (committed or not yet readable); 0 when empty.
    pub async fn head(&self) -> Result<i64, StoreError> {
        match self {
            EventLog::Postgres(s) => s.head().await,
            EventLog::Sqlite(s) => s.head().await,
        }
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            EventLog::Postgres(s) => s.ping().await,
            EventLog::Sqlite(s) => s.ping().await,
        }
    }
}

/// The rows to write: sequences, the append time and the hash chain filled in; positions are
/// assigned by the store.
fn chained(
    aggregate_type: &str,
    aggregate_id: &str,
    expected_sequence: i64,
    prev_hash: &str,
    events: &[NewEvent],
) -> Vec<StoredEvent> {
    let recorded_at = chain::now();
    let mut prev = prev_hash.to_string();
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let sequence = expected_sequence + 1 + i as i64;
            let hash = event_hash(&Hashed {
                aggregate_type,
                aggregate_id,
                sequence,
                event_type: &e.event_type,
                event_version: &e.event_version,
                payload: &e.payload,
                metadata: &e.metadata,
                recorded_at,
                prev_hash: &prev,
            });
            StoredEvent {
                position: 0,
                aggregate_type: aggregate_type.to_string(),
                aggregate_id: aggregate_id.to_string(),
                sequence,
                event_type: e.event_type.clone(),
                event_version: e.event_version.clone(),
                payload: e.payload.clone(),
                metadata: e.metadata.clone(),
                recorded_at,
                prev_hash: Some(std::mem::replace(&mut prev, hash.clone())),
                hash: Some(hash),
            }
        })
        .collect()
}
