//! What the two event stores share about reading events: the statements' shape and decoding a
//! row. Only the column list (PostgreSQL casts its `json` columns to text) and the feed's
//! visibility condition (PostgreSQL reads no position a running writer may still take) differ.

use super::{StoreError, StoredEvent};
use chrono::{DateTime, Utc};

/// One event log's three reads.
#[derive(Debug, Clone)]
pub(super) struct EventReads {
    /// A stream in sequence order: binds aggregate type and id.
    pub load: String,
    /// Every stream of a type in feed order: binds the aggregate type.
    pub load_type: String,
    /// A page of the feed: binds the position to read after and the page size.
    pub read_feed: String,
}

impl EventReads {
    /// The reads selecting `columns` (the event's eleven columns, as text where the driver
    /// needs it); `visible` is an extra condition on the feed (`AND …`), or empty.
    pub(super) fn new(columns: &str, visible: &str) -> Self {
        Self {
            load: format!(
                "SELECT {columns} FROM events \
                 WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
            ),
            load_type: format!(
                "SELECT {columns} FROM events WHERE aggregate_type = $1 ORDER BY position"
            ),
            read_feed: format!(
                "SELECT {columns} FROM events WHERE position > $1{visible} \
                 ORDER BY position LIMIT $2"
            ),
        }
    }
}

/// An event from its row; `recorded_at` as the store keeps it (a timestamp, or RFC 3339 text).
pub(super) fn decode<R: sqlx::Row>(
    row: &R,
    recorded_at: DateTime<Utc>,
) -> Result<StoredEvent, StoreError>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    let json = |name: &str| -> Result<serde_json::Value, StoreError> {
        let text: String = row.try_get(name)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Malformed(format!("{name}: {e}")))
    };
    Ok(StoredEvent {
        position: row.try_get("position")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: json("payload")?,
        metadata: json("metadata")?,
        recorded_at,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
