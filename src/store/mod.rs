//! The event store: where events are appended and read back.
//!
//! [`EventLog`] is the one interface the command side and readers use. PostgreSQL is the only
//! backend today (see `postgres.rs`); the embedded store plugs in behind the same interface.

mod postgres;
mod stored;

pub use postgres::PgEventLog;
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

/// The event store behind the command side and the readers.
#[derive(Clone)]
pub enum EventLog {
    /// PostgreSQL.
    Postgres(PgEventLog),
}

impl EventLog {
    /// All events of one stream, in sequence order.
    pub async fn load(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            EventLog::Postgres(pg) => pg.load(aggregate_type, aggregate_id).await,
        }
    }

    /// Appends events to a stream whose last sequence is `expected_sequence`, in one atomic
    /// write; [`StoreError::Conflict`] when another writer got there first. Returns the stored
    /// events with their positions.
    pub async fn append(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        expected_sequence: i64,
        events: &[NewEvent],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            EventLog::Postgres(pg) => {
                pg.append(aggregate_type, aggregate_id, expected_sequence, events)
                    .await
            }
        }
    }

    /// Up to `limit` events after `position`, in commit order, never past a writer that has not
    /// committed yet.
    pub async fn read_feed(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            EventLog::Postgres(pg) => pg.read_feed(after, limit).await,
        }
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            EventLog::Postgres(pg) => pg.ping().await,
        }
    }
}
