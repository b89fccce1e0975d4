//! Events as the store holds them.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// An event ready to append: already serialised.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Stable event type name.
    pub event_type: String,
    /// Payload version.
    pub event_version: String,
    /// The serialised event.
    pub payload: Value,
    /// The serialised metadata.
    pub metadata: Value,
}

/// An event read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Commit-ordered global position.
    pub position: i64,
    /// The aggregate's type.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// Position within the aggregate's stream, from 1.
    pub sequence: i64,
    /// Stable event type name.
    pub event_type: String,
    /// Payload version.
    pub event_version: String,
    /// The serialised event.
    pub payload: Value,
    /// The serialised metadata.
    pub metadata: Value,
    /// When it was appended.
    pub recorded_at: DateTime<Utc>,
}
