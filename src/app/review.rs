//! The parking office's decisions on paid renewals.

use super::lookup;
use crate::error::AppError;
use crate::services::Services;
use aggregates::metadata::{Actor, EventMetadata, Role};
use aggregates::permit::{Permit, PermitCommand};
use uuid::Uuid;

fn reviewer_meta(reviewer_id: Uuid, request_id: &str, renewal_id: Uuid) -> EventMetadata {
    EventMetadata {
        actor: Actor::Staff(reviewer_id),
        role: Role::Reviewer,
        correlation_id: renewal_id.to_string(),
        causation_id: request_id.to_string(),
        request_id: request_id.to_string(),
    }
}

/// Approves a paid renewal; returns the ledger position.
pub async fn approve(
    svc: &Services,
    reviewer_id: Uuid,
    renewal_id: Uuid,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    let permit_id = lookup::permit_of_renewal(svc, renewal_id).await?;
    let committed = svc
        .ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            PermitCommand::Approve {
                renewal_id,
                reviewer_id,
                now: svc.clock.now(),
            },
            &reviewer_meta(reviewer_id, request_id, renewal_id),
        )
        .await?;
    Ok(committed.position)
}

/// Rejects a paid renewal with a reason; returns the ledger position.
pub async fn reject(
    svc: &Services,
    reviewer_id: Uuid,
    renewal_id: Uuid,
    reason: String,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    let permit_id = lookup::permit_of_renewal(svc, renewal_id).await?;
    let committed = svc
        .ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            PermitCommand::Reject {
                renewal_id,
                reviewer_id,
                reason,
                now: svc.clock.now(),
            },
            &reviewer_meta(reviewer_id, request_id, renewal_id),
        )
        .await?;
    Ok(committed.position)
}
