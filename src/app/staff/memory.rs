//! Staff credentials held in memory, folded from the feed's staff events, so a caller that
//! authenticates on every request (the gate's barrier controllers) needs no database round trip.
//! A token is answered from here once the fold has seen its member added; a revocation or
//! rotation takes effect as soon as the fold applies its event.

use super::member::{Member, MemberFold};
use super::{token_digest, StaffMember, StaffStatus};
use crate::store::{StoreError, StoredEvent};
use aggregates::staff::Staff;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use std::collections::{HashMap, HashSet};

/// What the in-memory credentials say about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A member whose token works.
    Live(StaffMember),
    /// A token that worked once: expired, rotated away or revoked.
    Refused,
    /// A token the fold has not seen (not issued, or issued after the last event applied).
    Unknown,
}

/// Every staff member's current token, by digest.
#[derive(Debug, Default)]
pub struct CredentialIndex {
    folds: HashMap<String, MemberFold>,
    live: HashMap<String, Member>,
    dead: HashSet<String>,
}

impl CredentialIndex {
    /// Applies one event of the feed (only staff events change anything); an event it cannot
    /// decode changes nothing.
    pub fn apply(&mut self, event: &StoredEvent) -> Result<(), StoreError> {
        if event.aggregate_type != Staff::TYPE {
            return Ok(());
        }
        let fold = self.folds.entry(event.aggregate_id.clone()).or_default();
        let before = fold.state.token_digest.clone();
        fold.apply(event)?;
        let member = fold.member(&event.aggregate_id)?;
        if self.live.remove(&before).is_some() {
            self.dead.insert(before);
        }
        let digest = member.state.token_digest.clone();
        if member.state.revoked_at.is_some() {
            self.dead.insert(digest);
        } else {
            self.dead.remove(&digest);
            self.live.insert(digest, member);
        }
        Ok(())
    }

    /// What `token` is at `now`.
    pub fn lookup(&self, token: &str, now: DateTime<Utc>) -> Credential {
        let digest = token_digest(token);
        match self.live.get(&digest) {
            Some(member) if member.status(now) == StaffStatus::Active => {
                Credential::Live(StaffMember {
                    staff_id: member.staff_id,
                    name: member.state.name.clone().unwrap_or_default(),
                    roles: member.state.roles.clone(),
                })
            }
            Some(_) => Credential::Refused,
            None if self.dead.contains(&digest) => Credential::Refused,
            None => Credential::Unknown,
        }
    }
}
