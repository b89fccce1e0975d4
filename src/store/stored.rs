//! Events as the store holds them.

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

pub use projections::feed::FeedEvent as StoredEvent;
