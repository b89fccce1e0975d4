//! Reading old event versions: upcasters turn a stored payload into today's shape before it is
//! deserialised. Event names are forever; payloads change only by a new version plus an upcaster.

use crate::store::{StoreError, StoredEvent};
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::Aggregate;
use std::collections::HashMap;

/// The upcasters in force, by aggregate type.
#[derive(Default)]
pub struct Upcasters {
    by_type: HashMap<&'static str, Vec<Box<dyn EventUpcaster>>>,
}

impl Upcasters {
    /// The project's upcasters. Every event is at version 1 so far: none yet.
    pub fn standard() -> Self {
        Self::default()
    }

    /// Adds an upcaster for events of aggregate type `aggregate_type`.
    pub fn with(mut self, aggregate_type: &'static str, upcaster: Box<dyn EventUpcaster>) -> Self {
        self.by_type
            .entry(aggregate_type)
            .or_default()
            .push(upcaster);
        self
    }

    /// Upcasts a stored event and deserialises it as the aggregate's event.
    pub fn decode<A: Aggregate>(&self, stored: &StoredEvent) -> Result<A::Event, StoreError> {
        let mut event = SerializedEvent::new(
            stored.aggregate_id.clone(),
            stored.sequence as usize,
            stored.aggregate_type.clone(),
            stored.event_type.clone(),
            stored.event_version.clone(),
            stored.payload.clone(),
            stored.metadata.clone(),
        );
        for upcaster in self.by_type.get(A::TYPE).into_iter().flatten() {
            if upcaster.can_upcast(&event.event_type, &event.event_version) {
                event = upcaster.upcast(event);
            }
        }
        serde_json::from_value(event.payload).map_err(|e| {
            StoreError::Malformed(format!(
                "{} {} #{} ({} v{}): {e}",
                stored.aggregate_type,
                stored.aggregate_id,
                stored.sequence,
                stored.event_type,
                stored.event_version
            ))
        })
    }
}
