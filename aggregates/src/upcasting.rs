//! Reading old event versions (pure: JSON in, events out): upcasters turn a stored payload into today's shape before it is
//! deserialised. Event names are forever; payloads change only by a new version plus an upcaster.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::Aggregate;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// The upcasters in force, by aggregate type.
#[derive(Default)]
pub struct Upcasters {
    by_type: HashMap<&'static str, Vec<Box<dyn EventUpcaster>>>,
}

impl Upcasters {
    /// The project's upcasters: `StaffAdded` v1 (no token expiry) to v2.
    pub fn standard() -> Self {
        Self::default().with(
            <crate::staff::Staff as Aggregate>::TYPE,
            crate::staff::staff_added_v1_upcaster(),
        )
    }

    /// Adds an upcaster for events of aggregate type `aggregate_type`.
    pub fn with(mut self, aggregate_type: &'static str, upcaster: Box<dyn EventUpcaster>) -> Self {
        self.by_type
            .entry(aggregate_type)
            .or_default()
            .push(upcaster);
        self
    }

    /// Upcasts a stored event of aggregate `A` and deserialises it as `A`'s event.
    pub fn decode<A: Aggregate>(&self, stored: &Stored<'_>) -> Result<A::Event, DecodeError> {
        let needs_upcast = self
            .by_type
            .get(A::TYPE)
            .into_iter()
            .flatten()
            .any(|u| u.can_upcast(stored.event_type, stored.event_version));
        if !needs_upcast {
            return A::Event::deserialize(stored.payload).map_err(|e| DecodeError::new(stored, e));
        }
        let mut event = SerializedEvent::new(
            stored.aggregate_id.to_string(),
            stored.sequence as usize,
            A::TYPE.to_string(),
            stored.event_type.to_string(),
            stored.event_version.to_string(),
            stored.payload.clone(),
            Value::Null,
        );
        for upcaster in self.by_type.get(A::TYPE).into_iter().flatten() {
            if upcaster.can_upcast(&event.event_type, &event.event_version) {
                event = upcaster.upcast(event);
            }
        }
        serde_json::from_value(event.payload).map_err(|e| DecodeError::new(stored, e))
    }
}

/// The parts of a stored event that decoding needs.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    /// The aggregate's id.
    pub aggregate_id: &'a str,
    /// Its sequence in the stream.
    pub sequence: i64,
    /// Stored event type name.
    pub event_type: &'a str,
    /// Stored payload version.
    pub event_version: &'a str,
    /// The stored payload.
    pub payload: &'a Value,
}

/// A stored event that cannot be read as any known event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {event_type} v{event_version} of {aggregate_id} #{sequence}: {reason}")]
pub struct DecodeError {
    /// The aggregate's id.
    pub aggregate_id: String,
    /// Its sequence.
    pub sequence: i64,
    /// Stored type.
    pub event_type: String,
    /// Stored version.
    pub event_version: String,
    /// What went wrong.
    pub reason: String,
}

impl DecodeError {
    fn new(stored: &Stored<'_>, e: serde_json::Error) -> Self {
        Self {
            aggregate_id: stored.aggregate_id.to_string(),
            sequence: stored.sequence,
            event_type: stored.event_type.to_string(),
            event_version: stored.event_version.to_string(),
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lot::{Lot, LotEvent};
    use cqrs_es::persist::SemanticVersionEventUpcaster;
    use serde_json::json;

    /// A made-up version 0 of ConsentPublished that called the text `body`.
    fn consent_v0_upcaster() -> Box<dyn EventUpcaster> {
        Box::new(SemanticVersionEventUpcaster::new(
            "ConsentPublished",
            "1",
            Box::new(|mut payload: Value| {
                let inner = &mut payload["ConsentPublished"]["consent"];
                if let Some(body) = inner.get("body").cloned() {
                    inner["text"] = body;
                    inner.as_object_mut().unwrap().remove("body");
                }
                payload
            }),
        ))
    }

    #[test]
    fn an_old_payload_is_upcast_before_it_is_read() {
        let old = json!({"ConsentPublished": {"consent": {"version": "v0", "body": "旧文本"}}});
        let stored = Stored {
            aggregate_id: "lot-1",
            sequence: 2,
            event_type: "ConsentPublished",
            event_version: "0",
            payload: &old,
        };
        assert!(Upcasters::standard().decode::<Lot>(&stored).is_err());
        let upcasters = Upcasters::default().with("lot", consent_v0_upcaster());
        let event = upcasters.decode::<Lot>(&stored).unwrap();
        assert_eq!(
            event,
            LotEvent::ConsentPublished {
                consent: crate::lot::Consent {
                    version: "v0".into(),
                    text: "旧文本".into()
                }
            }
        );
    }

    #[test]
    fn a_current_payload_is_read_as_it_is() {
        let payload = json!({"ConsentPublished": {"consent": {"version": "v2", "text": "t"}}});
        let stored = Stored {
            aggregate_id: "lot-1",
            sequence: 2,
            event_type: "ConsentPublished",
            event_version: "1",
            payload: &payload,
        };
        let upcasters = Upcasters::default().with("lot", consent_v0_upcaster());
        assert!(matches!(
            upcasters.decode::<Lot>(&stored),
            Ok(LotEvent::ConsentPublished { .. })
        ));
    }
}
