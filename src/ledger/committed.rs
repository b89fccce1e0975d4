//! What a successful command leaves behind.

use crate::store::StoredEvent;
use cqrs_es::Aggregate;

/// The outcome of an accepted command.
pub struct Committed<A: Aggregate> {
    /// The aggregate after the new events.
    pub aggregate: A,
    /// The new events (empty when the command changed nothing, e.g. a duplicate notification).
    pub events: Vec<A::Event>,
    /// The new events as stored, with their positions.
    pub stored: Vec<StoredEvent>,
    /// The ledger position of the stream's last event after the command (the new last event,
    /// or the existing one when nothing was appended); `None` for a still-empty stream.
    pub position: Option<i64>,
}

impl<A: Aggregate> std::fmt::Debug for Committed<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committed")
            .field("events", &self.events)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}
