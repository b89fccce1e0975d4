//! A staff member folded from their stream: all at once ([`Member::fold`]) or event by event
//! ([`MemberFold`], as the gate's in-memory credentials follow the feed).

use super::{StaffListing, StaffStatus};
use crate::store::{StoreError, StoredEvent};
use aggregates::staff::{Staff, StaffEvent};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use std::sync::LazyLock;
use uuid::Uuid;

/// Tokens of version 1 `StaffAdded` events (written before tokens expired) expire this many
/// days after the event was recorded.
const LEGACY_TOKEN_DAYS: i64 = 90;

static UPCASTERS: LazyLock<aggregates::upcasting::Upcasters> =
    LazyLock::new(aggregates::upcasting::Upcasters::standard);

/// A staff member as folded from their stream.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) staff_id: Uuid,
    pub(super) state: Staff,
    pub(super) expires_at: DateTime<Utc>,
}

/// A member's stream folded so far.
#[derive(Debug, Default)]
pub(super) struct MemberFold {
    pub(super) state: Staff,
    legacy_expiry: Option<DateTime<Utc>>,
}

impl MemberFold {
    /// Applies the next event of the member's stream; on an error nothing changed.
    pub(super) fn apply(&mut self, stored: &StoredEvent) -> Result<(), StoreError> {
        let event = UPCASTERS
            .decode::<Staff>(&stored.as_decodable())
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        if let StaffEvent::StaffAdded {
            expires_at: None, ..
        } = &event
        {
            self.legacy_expiry = Some(stored.recorded_at + Duration::days(LEGACY_TOKEN_DAYS));
        }
        self.state.apply(event);
        Ok(())
    }

    /// The member as folded so far; an error until they were added.
    pub(super) fn member(&self, staff_id: &str) -> Result<Member, StoreError> {
        let staff_id = staff_id
            .parse()
            .map_err(|_| StoreError::Malformed(format!("staff id {staff_id}")))?;
        let expires_at = self
            .state
            .expires_at
            .or(self.legacy_expiry)
            .ok_or_else(|| StoreError::Malformed(format!("staff {staff_id} was never added")))?;
        Ok(Member {
            staff_id,
            state: self.state.clone(),
            expires_at,
        })
    }
}

impl Member {
    /// Folds a whole stream.
    pub(super) fn fold(staff_id: &str, events: &[&StoredEvent]) -> Result<Member, StoreError> {
        let mut fold = MemberFold::default();
        for stored in events {
            fold.apply(stored)?;
        }
        fold.member(staff_id)
    }

    pub(super) fn status(&self, now: DateTime<Utc>) -> StaffStatus {
        if self.state.revoked_at.is_some() {
            StaffStatus::Revoked
        } else if self.expires_at <= now {
            StaffStatus::Expired
        } else {
            StaffStatus::Active
        }
    }

    pub(super) fn listing(self, now: DateTime<Utc>) -> StaffListing {
        StaffListing {
            status: self.status(now),
            staff_id: self.staff_id,
            name: self.state.name.unwrap_or_default(),
            roles: self.state.roles,
            expires_at: self.expires_at,
        }
    }
}
