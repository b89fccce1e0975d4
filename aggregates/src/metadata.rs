//! Who did what, on whose behalf and why: the metadata every event carries.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// The role an actor acted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Security-office staff at the desk: lots, cards, holders, staff.
    Admin,
    /// Parking-office staff who approve or reject paid renewals.
    Reviewer,
    /// Reads everything, changes nothing.
    Auditor,
    /// A lot's barrier controller or plate camera: asks the gate check, nothing else.
    Gate,
    /// A vehicle owner, identified by a verified phone.
    Owner,
    /// The payment provider's notifications.
    PaymentProvider,
    /// The service itself (timers such as closing unpaid renewals).
    System,
}

impl Role {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Gate => "gate",
            Role::Owner => "owner",
            Role::PaymentProvider => "payment_provider",
            Role::System => "system",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Admin,
            Role::Reviewer,
            Role::Auditor,
            Role::Gate,
            Role::Owner,
            Role::PaymentProvider,
            Role::System,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A staff member, by staff id.
    Staff(uuid::Uuid),
    /// An owner, by the keyed hash of their phone (never the phone itself).
    Owner(String),
    /// The payment provider.
    PaymentProvider,
    /// The service itself.
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Staff(id) => write!(f, "staff:{id}"),
            Actor::Owner(hash) => write!(f, "owner:{hash}"),
            Actor::PaymentProvider => f.write_str("payment-provider"),
            Actor::System => f.write_str("system"),
        }
    }
}

impl Actor {
    /// Parses the form written by `Display`.
    pub fn parse(s: &str) -> Option<Actor> {
        match s {
            "payment-provider" => Some(Actor::PaymentProvider),
            "system" => Some(Actor::System),
            _ => {
                if let Some(id) = s.strip_prefix("staff:") {
                    id.parse().ok().map(Actor::Staff)
                } else {
                    s.strip_prefix("owner:")
                        .filter(|h| !h.is_empty())
                        .map(|h| Actor::Owner(h.to_string()))
                }
            }
        }
    }
}

/// The metadata stored with every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    /// Who did it.
    pub actor: Actor,
    /// In which role.
    pub role: Role,
    /// The business flow this belongs to (one renewal's whole life shares it where known).
    pub correlation_id: String,
    /// What directly caused it: the request, or the event a process reacted to.
    pub causation_id: String,
    /// The HTTP or CLI request that carried the command.
    pub request_id: String,
}

/// Metadata stored in the ledger could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event metadata is missing or malformed field `{0}`")]
pub struct MetadataError(pub &'static str);

impl EventMetadata {
    /// The flat string map stored in the event's metadata column (cqrs-es's metadata shape).
    pub fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            ("actor".to_string(), self.actor.to_string()),
            ("role".to_string(), self.role.as_str().to_string()),
            ("correlation_id".to_string(), self.correlation_id.clone()),
            ("causation_id".to_string(), self.causation_id.clone()),
            ("request_id".to_string(), self.request_id.clone()),
        ])
    }

    /// Reads the map written by [`EventMetadata::to_map`].
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, MetadataError> {
        let field = |name: &'static str| map.get(name).ok_or(MetadataError(name));
        Ok(Self {
            actor: Actor::parse(field("actor")?).ok_or(MetadataError("actor"))?,
            role: Role::parse(field("role")?).ok_or(MetadataError("role"))?,
            correlation_id: field("correlation_id")?.clone(),
            causation_id: field("causation_id")?.clone(),
            request_id: field("request_id")?.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_its_stored_map() {
        for actor in [
            Actor::Staff(uuid::Uuid::from_u128(7)),
            Actor::Owner("ab12".into()),
            Actor::PaymentProvider,
            Actor::System,
        ] {
            let meta = EventMetadata {
                actor,
                role: Role::Reviewer,
                correlation_id: "c".into(),
                causation_id: "k".into(),
                request_id: "r".into(),
            };
            assert_eq!(EventMetadata::from_map(&meta.to_map()), Ok(meta));
        }
    }

    #[test]
    fn metadata_without_an_actor_is_refused() {
        let mut map = EventMetadata {
            actor: Actor::System,
            role: Role::System,
            correlation_id: "c".into(),
            causation_id: "k".into(),
            request_id: "r".into(),
        }
        .to_map();
        map.remove("actor");
        assert_eq!(EventMetadata::from_map(&map), Err(MetadataError("actor")));
        map.insert("actor".into(), "owner:".into());
        assert_eq!(EventMetadata::from_map(&map), Err(MetadataError("actor")));
    }
}
