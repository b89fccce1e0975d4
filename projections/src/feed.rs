//! An event as the global feed delivers it.

use aggregates::upcasting::Stored;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// An event read back from the store, with its place in the global feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
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
    /// This event's hash in its stream's chain.
    pub hash: Option<String>,
    /// The previous event's hash in the stream (all zeros for the first).
    pub prev_hash: Option<String>,
}

impl FeedEvent {
    /// The parts decoding needs.
    pub fn as_decodable(&self) -> Stored<'_> {
        Stored {
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            payload: &self.payload,
        }
    }
}
