//! Refunds that went wrong, as staff work: the outbox giving up on a refund puts it on the
//! payment problems list; staff retry it or resolve it with a note. Each step is an event of
//! the permit.

use super::lookup;
use crate::error::AppError;
use crate::services::Services;
use aggregates::metadata::{Actor, EventMetadata, Role};
use aggregates::permit::{renewal_of_problem, Permit, PermitCommand, PermitError};
use serde_json::Value;
use uuid::Uuid;

/// The card a problem id belongs to, or 404 `no_problem`.
async fn permit_of_problem(svc: &Services, problem_id: &str) -> Result<Uuid, AppError> {
    let unknown = || AppError::refused(&PermitError::UnknownProblem);
    let renewal_id = renewal_of_problem(problem_id).ok_or_else(unknown)?;
    lookup::permit_of_renewal(svc, renewal_id)
        .await
        .map_err(|e| match e {
            AppError::Refused {
                code: "no_renewal", ..
            } => unknown(),
            other => other,
        })
}

/// Asks the provider again for a failed refund (under a new refund number when the provider
/// closed the old one). Returns the ledger position.
pub async fn retry(
    svc: &Services,
    problem_id: &str,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let permit_id = permit_of_problem(svc, problem_id).await?;
    let command = PermitCommand::RetryRefund {
        problem_id: problem_id.to_string(),
        new_out_refund_no: format!("R{}", Uuid::new_v4().simple()),
        now: svc.clock.now(),
    };
    let committed = svc
        .ledger
        .execute::<Permit>(&permit_id.to_string(), command, meta)
        .await?;
    Ok(committed.position)
}

/// Closes a problem handled outside the ledger, with staff's note. Returns the position.
pub async fn resolve(
    svc: &Services,
    problem_id: &str,
    note: String,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let permit_id = permit_of_problem(svc, problem_id).await?;
    let command = PermitCommand::ResolveProblem {
        problem_id: problem_id.to_string(),
        note,
        now: svc.clock.now(),
    };
    let committed = svc
        .ledger
        .execute::<Permit>(&permit_id.to_string(), command, meta)
        .await?;
    Ok(committed.position)
}

/// The outbox gave up on the refund `payload` describes (`exhausted`: after every retry;
/// otherwise the provider refused it for good): recorded, so it reaches the problems list.
pub async fn refund_given_up(
    svc: &Services,
    outbox_id: &str,
    payload: &Value,
    detail: &str,
    exhausted: bool,
) -> Result<(), AppError> {
    let field = |k: &str| payload[k].as_str().unwrap_or_default();
    let (Ok(permit_id), Ok(renewal_id)) = (
        Uuid::try_parse(field("permit_id")),
        Uuid::try_parse(field("renewal_id")),
    ) else {
        return Err(AppError::Internal(format!(
            "outbox row {outbox_id} names no permit and renewal"
        )));
    };
    let meta = EventMetadata {
        actor: Actor::System,
        role: Role::System,
        correlation_id: renewal_id.to_string(),
        causation_id: format!("outbox:{outbox_id}"),
        request_id: format!("outbox:{outbox_id}"),
    };
    // WeChat's messages are short; keep what staff read bounded anyway.
    let detail: String = detail.chars().take(300).collect();
    svc.ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            PermitCommand::RecordRefundRefused {
                renewal_id,
                out_refund_no: field("out_refund_no").to_string(),
                detail,
                exhausted,
                at: svc.clock.now(),
            },
            &meta,
        )
        .await?;
    Ok(())
}
