//! Giving money back: the owner's refund request, the provider's outcome (paid back, closed,
//! abnormal, refused), and staff's retry or resolution of a refund that went wrong.

use super::{invalid, owned_by, renewal, Decision, MAX_REASON_CHARS};
use crate::permit::commands::RefundFailure;
use crate::permit::error::PermitError;
use crate::permit::events::PermitEvent;
use crate::permit::state::{
    problem_id, renewal_of_problem, Card, Problem, ProblemStatus, Renewal, RenewalStatus,
};
use crate::values::Phone;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(super) fn request(
    card: &Card,
    renewal_id: Uuid,
    owner: &Phone,
    out_refund_no: String,
    now: DateTime<Utc>,
) -> Decision {
    owned_by(card, owner)?;
    let renewal = renewal(card, renewal_id)?;
    if renewal.has_open_refund_problem() {
        return Err(PermitError::RefundWithStaff);
    }
    let out_refund_no = match renewal.status {
        RenewalStatus::Rejected => out_refund_no,
        // A retry after a failed refund reuses the first refund number.
        RenewalStatus::RefundFailed => renewal.out_refund_no.clone().unwrap_or(out_refund_no),
        RenewalStatus::RefundRequested | RenewalStatus::Refunded => {
            return Err(PermitError::AlreadyRefunded)
        }
        status => return Err(invalid("refund", status)),
    };
    Ok(vec![PermitEvent::RefundRequested {
        renewal_id,
        out_refund_no,
        amount: renewal.amount,
        requested_at: now,
    }])
}

/// The provider paid `out_refund_no` back.
pub(super) fn record(
    card: &Card,
    renewal_id: Uuid,
    out_refund_no: String,
    refund_id: String,
    refunded_at: DateTime<Utc>,
) -> Decision {
    let renewal = renewal(card, renewal_id)?;
    if let Some(stray) = renewal
        .strays
        .iter()
        .find(|s| s.out_refund_no == out_refund_no)
    {
        return Ok(if stray.refunded {
            vec![]
        } else {
            vec![PermitEvent::StrayPaymentRefunded {
                renewal_id,
                out_refund_no,
                refund_id,
                refunded_at,
            }]
        });
    }
    if renewal.out_refund_no.as_deref() != Some(out_refund_no.as_str()) {
        return Err(PermitError::UnknownRefund);
    }
    match renewal.status {
        // A problem resolved by staff shows `refunded`; the provider's own report of the money
        // paid back after all is still recorded.
        RenewalStatus::Refunded if renewal.provider_refunded => Ok(vec![]),
        RenewalStatus::Refunded | RenewalStatus::RefundRequested | RenewalStatus::RefundFailed => {
            Ok(vec![PermitEvent::Refunded {
                renewal_id,
                out_refund_no,
                refund_id,
                refunded_at,
            }])
        }
        status => Err(invalid("record a refund for", status)),
    }
}

/// The provider ended the refund CLOSED or ABNORMAL.
pub(super) fn record_failure(
    card: &Card,
    renewal_id: Uuid,
    out_refund_no: String,
    failure: RefundFailure,
    at: DateTime<Utc>,
) -> Decision {
    let detail = match failure {
        RefundFailure::Closed => "the provider closed the refund; no money moved",
        _ => "the money could not go back to the payer's account",
    };
    gave_up(card, renewal_id, out_refund_no, failure, detail.into(), at)
}

/// The provider refused the refund request (`exhausted`: the outbox ran out of attempts).
pub(super) fn record_refused(
    card: &Card,
    renewal_id: Uuid,
    out_refund_no: String,
    detail: String,
    exhausted: bool,
    at: DateTime<Utc>,
) -> Decision {
    let failure = if exhausted {
        RefundFailure::RetriesExhausted
    } else {
        RefundFailure::Refused
    };
    gave_up(card, renewal_id, out_refund_no, failure, detail, at)
}

pub(super) fn retry(
    card: &Card,
    problem_id: String,
    new_out_refund_no: String,
    now: DateTime<Utc>,
) -> Decision {
    let (renewal, problem) = open_problem(card, &problem_id)?;
    // WeChat Pay: a failed request is sent again under the same number (it refunds once per
    // number); a CLOSED refund is over, so a new one needs a new number; an ABNORMAL one is the
    // provider's to finish (merchant platform, abnormal refund).
    let out_refund_no = match problem.failure {
        RefundFailure::Abnormal => return Err(PermitError::ProblemNotRetryable),
        RefundFailure::Closed => new_out_refund_no,
        RefundFailure::Refused | RefundFailure::RetriesExhausted => problem.out_refund_no.clone(),
    };
    Ok(vec![PermitEvent::PaymentProblemRetried {
        problem_id,
        renewal_id: renewal.renewal_id,
        stray: problem.stray,
        out_refund_no,
        amount: problem.amount,
        at: now,
    }])
}

pub(super) fn resolve(card: &Card, problem_id: String, note: &str, now: DateTime<Utc>) -> Decision {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > MAX_REASON_CHARS {
        return Err(PermitError::NoteRequired);
    }
    let (renewal, problem) = open_problem(card, &problem_id)?;
    Ok(vec![PermitEvent::PaymentProblemResolved {
        problem_id,
        renewal_id: renewal.renewal_id,
        stray: problem.stray,
        note: note.to_string(),
        at: now,
    }])
}

/// A refund ended badly (reported by the provider, or given up on by the outbox): recorded,
/// and put on the payment problems list, once per attempt. A report about an attempt already
/// recorded, or already paid back, changes nothing.
fn gave_up(
    card: &Card,
    renewal_id: Uuid,
    out_refund_no: String,
    failure: RefundFailure,
    detail: String,
    at: DateTime<Utc>,
) -> Decision {
    let renewal = renewal(card, renewal_id)?;
    let stray = renewal
        .strays
        .iter()
        .find(|s| s.out_refund_no == out_refund_no);
    let (failed, amount) = match stray {
        Some(stray) => {
            if stray.refunded || !renewal.awaits_refund_outcome(&out_refund_no) {
                return Ok(vec![]);
            }
            let failed = PermitEvent::StrayRefundFailed {
                renewal_id,
                out_refund_no: out_refund_no.clone(),
                failure,
                at,
            };
            (failed, stray.amount)
        }
        None => {
            if renewal.out_refund_no.as_deref() != Some(out_refund_no.as_str()) {
                // A late duplicate about a number a retry has replaced changes nothing.
                if renewal
                    .problems
                    .iter()
                    .any(|p| p.out_refund_no == out_refund_no)
                {
                    return Ok(vec![]);
                }
                return Err(PermitError::UnknownRefund);
            }
            match renewal.status {
                RenewalStatus::RefundRequested | RenewalStatus::RefundFailed
                    if renewal.awaits_refund_outcome(&out_refund_no) => {}
                RenewalStatus::RefundFailed | RenewalStatus::Refunded => return Ok(vec![]),
                status => return Err(invalid("record a refund failure for", status)),
            }
            let failed = PermitEvent::RefundFailed {
                renewal_id,
                out_refund_no: out_refund_no.clone(),
                failure,
                at,
            };
            (failed, renewal.amount)
        }
    };
    let raised = PermitEvent::PaymentProblemRaised {
        problem_id: problem_id(renewal_id, renewal.problems.len() + 1),
        renewal_id,
        stray: stray.is_some(),
        failure,
        out_refund_no,
        amount,
        detail,
        at,
    };
    Ok(vec![failed, raised])
}

/// The open problem `problem_id` names, with its renewal.
fn open_problem<'a>(
    card: &'a Card,
    problem_id: &str,
) -> Result<(&'a Renewal, &'a Problem), PermitError> {
    let (renewal, problem) = renewal_of_problem(problem_id)
        .and_then(|id| card.renewal(id))
        .and_then(|r| r.problem(problem_id).map(|p| (r, p)))
        .ok_or(PermitError::UnknownProblem)?;
    if problem.status != ProblemStatus::Open {
        return Err(PermitError::ProblemClosed {
            status: problem.status.as_str(),
        });
    }
    Ok((renewal, problem))
}
