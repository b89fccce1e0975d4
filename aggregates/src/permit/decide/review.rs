//! The office's review of a paid renewal: approved or rejected with a reason.

use super::{expect_status, renewal, Decision, MAX_REASON_CHARS};
use crate::permit::error::PermitError;
use crate::permit::events::PermitEvent;
use crate::permit::state::{Card, RenewalStatus};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(super) fn approve(
    card: &Card,
    renewal_id: Uuid,
    reviewer_id: Uuid,
    now: DateTime<Utc>,
) -> Decision {
    let renewal = renewal(card, renewal_id)?;
    expect_status(renewal, RenewalStatus::UnderReview, "approve")?;
    Ok(vec![PermitEvent::Approved {
        renewal_id,
        period: renewal.period,
        reviewer_id,
        decided_at: now,
    }])
}

pub(super) fn reject(
    card: &Card,
    renewal_id: Uuid,
    reviewer_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Decision {
    let renewal = renewal(card, renewal_id)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(PermitError::ReasonRequired);
    }
    expect_status(renewal, RenewalStatus::UnderReview, "reject")?;
    Ok(vec![PermitEvent::Rejected {
        renewal_id,
        reason: reason.to_string(),
        reviewer_id,
        decided_at: now,
    }])
}
