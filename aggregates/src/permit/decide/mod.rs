//! The permit's rules: each command becomes events or a typed refusal.

use super::commands::{PermitCommand, RefundFailure, RenewalTerms};
use super::error::PermitError;
use super::events::{PermitEvent, StrayReason};
use super::state::{
    problem_id, renewal_of_problem, Card, Problem, ProblemStatus, Renewal, RenewalStatus,
};
use super::Permit;
use crate::values::{Period, Phone};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

type Decision = Result<Vec<PermitEvent>, PermitError>;

impl Permit {
    /// The rules: returns the events a command produces, or why it is refused.
    pub fn decide(&self, command: PermitCommand) -> Decision {
        let PermitCommand::Issue {
            lot_id,
            plate,
            holder_name,
            phone,
            validity,
        } = command
        else {
            let card = self.card.as_ref().ok_or(PermitError::NotIssued)?;
            return decide_for_card(card, command);
        };
        if self.card.is_some() {
            return Err(PermitError::AlreadyIssued);
        }
        Ok(vec![PermitEvent::PermitIssued {
            lot_id,
            plate,
            holder_name: non_blank_name(&holder_name)?,
            phone,
            validity,
        }])
    }
}

/// Longest holder name accepted (characters).
pub const MAX_NAME_CHARS: usize = 50;
/// Longest desk receipt number accepted (characters).
pub const MAX_RECEIPT_CHARS: usize = 64;
/// Longest rejection reason accepted (characters).
pub const MAX_REASON_CHARS: usize = 500;

fn non_blank_name(name: &str) -> Result<String, PermitError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(PermitError::HolderNameRequired);
    }
    Ok(name.to_string())
}

fn decide_for_card(card: &Card, command: PermitCommand) -> Decision {
    match command {
        PermitCommand::Issue { .. } => Err(PermitError::AlreadyIssued),
        PermitCommand::ChangeHolder { holder_name, phone } => {
            let holder_name = non_blank_name(&holder_name)?;
            if holder_name == card.holder_name && phone == card.phone {
                return Err(PermitError::NoChange);
            }
            Ok(vec![PermitEvent::HolderChanged { holder_name, phone }])
        }
        PermitCommand::ChangeVehicle { plate } => {
            if plate == card.plate {
                return Err(PermitError::NoChange);
            }
            if card.second_plate.as_ref() == Some(&plate) {
                return Err(PermitError::SameVehicle);
            }
            Ok(vec![
                PermitEvent::VehicleUnbound {
                    plate: card.plate.clone(),
                },
                PermitEvent::VehicleBound { plate },
            ])
        }
        PermitCommand::AddSecondVehicle { plate } => {
            if plate == card.plate {
                return Err(PermitError::SameVehicle);
            }
            if card.second_plate.is_some() {
                return Err(PermitError::SecondVehicleExists);
            }
            Ok(vec![PermitEvent::SecondVehicleAdded { plate }])
        }
        PermitCommand::RemoveSecondVehicle => {
            let plate = card
                .second_plate
                .clone()
                .ok_or(PermitError::NoSecondVehicle)?;
            Ok(vec![PermitEvent::SecondVehicleRemoved { plate }])
        }
        PermitCommand::HideCard { owner } => {
            owned_by(card, &owner)?;
            if card.hidden {
                return Err(PermitError::NoChange);
            }
            Ok(vec![PermitEvent::CardHidden {}])
        }
        PermitCommand::ShowCard { owner } => {
            owned_by(card, &owner)?;
            if !card.hidden {
                return Err(PermitError::NoChange);
            }
            Ok(vec![PermitEvent::CardShown {}])
        }
        PermitCommand::ChooseVehicle { plate, owner } => {
            owned_by(card, &owner)?;
            if plate != card.plate {
                return Err(PermitError::OtherVehicle);
            }
            Ok(vec![PermitEvent::VehicleChosen { plate }])
        }
        PermitCommand::SubmitRenewal {
            renewal_id,
            owner,
            now,
            today,
            terms,
            accepted_consent_version,
            photo,
            order_id,
            pay_by,
        } => {
            owned_by(card, &owner)?;
            let photo = photo.ok_or(PermitError::PhotoRequired)?;
            if accepted_consent_version.as_deref() != Some(terms.consent_version.as_str()) {
                return Err(PermitError::ConsentOutdated);
            }
            renewable(card)?;
            let period = next_period(card, &terms, today)?;
            Ok(vec![PermitEvent::RenewalSubmitted {
                renewal_id,
                period,
                amount: terms.price,
                consent_version: terms.consent_version,
                photo,
                order_id,
                submitted_at: now,
                pay_by,
            }])
        }
        PermitCommand::RenewAtDesk {
            renewal_id,
            staff_id,
            now,
            today,
            terms,
            method,
            receipt_no,
            amount,
        } => {
            let receipt_no = receipt_no.trim();
            if receipt_no.is_empty() || receipt_no.chars().count() > MAX_RECEIPT_CHARS {
                return Err(PermitError::ReceiptRequired);
            }
            renewable(card)?;
            let period = next_period(card, &terms, today)?;
            if amount != terms.price {
                return Err(PermitError::AmountMismatch);
            }
            Ok(vec![
                PermitEvent::DeskRenewalPaid {
                    renewal_id,
                    period,
                    amount,
                    method,
                    receipt_no: receipt_no.to_string(),
                    paid_at: now,
                },
                PermitEvent::Approved {
                    renewal_id,
                    period,
                    reviewer_id: staff_id,
                    decided_at: now,
                },
            ])
        }
        PermitCommand::RecordPayment {
            renewal_id,
            transaction_id,
            amount,
            paid_at,
        } => {
            let renewal = renewal(card, renewal_id)?;
            // A duplicate notification of the same payment changes nothing.
            let known = renewal.transaction_id.as_deref() == Some(transaction_id.as_str())
                || renewal
                    .strays
                    .iter()
                    .any(|s| s.transaction_id == transaction_id);
            if known {
                return Ok(vec![]);
            }
            if amount.get() < 1 || transaction_id.is_empty() {
                return Err(PermitError::AmountMismatch);
            }
            // Money the renewal cannot take is still money: recorded, and given back.
            let stray = match renewal.status {
                _ if renewal.transaction_id.is_some() => Some(StrayReason::AlreadyPaid),
                RenewalStatus::AwaitingPayment if amount != renewal.amount => {
                    Some(StrayReason::AmountMismatch)
                }
                RenewalStatus::AwaitingPayment => None,
                RenewalStatus::Cancelled => Some(StrayReason::Cancelled),
                RenewalStatus::ExpiredUnpaid => Some(StrayReason::Expired),
                _ => Some(StrayReason::AlreadyPaid),
            };
            match stray {
                None => Ok(vec![PermitEvent::Paid {
                    renewal_id,
                    transaction_id,
                    amount,
                    paid_at,
                }]),
                Some(reason) => Ok(vec![PermitEvent::StrayPaymentReceived {
                    renewal_id,
                    out_refund_no: stray_refund_no(&transaction_id),
                    transaction_id,
                    amount,
                    received_at: paid_at,
                    reason,
                }]),
            }
        }
        PermitCommand::Approve {
            renewal_id,
            reviewer_id,
            now,
        } => {
            let renewal = renewal(card, renewal_id)?;
            expect_status(renewal, RenewalStatus::UnderReview, "approve")?;
            Ok(vec![PermitEvent::Approved {
                renewal_id,
                period: renewal.period,
                reviewer_id,
                decided_at: now,
            }])
        }
        PermitCommand::Reject {
            renewal_id,
            reviewer_id,
            reason,
            now,
        } => {
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
        PermitCommand::RequestRefund {
            renewal_id,
            owner,
            out_refund_no,
            now,
        } => {
            owned_by(card, &owner)?;
            let renewal = renewal(card, renewal_id)?;
            if renewal.has_open_refund_problem() {
                return Err(PermitError::RefundWithStaff);
            }
            let out_refund_no = match renewal.status {
                RenewalStatus::Rejected => out_refund_no,
                // A retry after a failed refund reuses the first refund number.
                RenewalStatus::RefundFailed => {
                    renewal.out_refund_no.clone().unwrap_or(out_refund_no)
                }
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
        PermitCommand::RecordRefund {
            renewal_id,
            out_refund_no,
            refund_id,
            refunded_at,
        } => {
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
                // A problem resolved by staff shows `refunded`; the provider's own report of
                // the money paid back after all is still recorded.
                RenewalStatus::Refunded if renewal.provider_refunded => Ok(vec![]),
                RenewalStatus::Refunded
                | RenewalStatus::RefundRequested
                | RenewalStatus::RefundFailed => Ok(vec![PermitEvent::Refunded {
                    renewal_id,
                    out_refund_no,
                    refund_id,
                    refunded_at,
                }]),
                status => Err(invalid("record a refund for", status)),
            }
        }
        PermitCommand::RecordRefundFailure {
            renewal_id,
            out_refund_no,
            failure,
            at,
        } => {
            let detail = match failure {
                RefundFailure::Closed => "the provider closed the refund; no money moved",
                _ => "the money could not go back to the payer's account",
            };
            refund_gave_up(card, renewal_id, out_refund_no, failure, detail.into(), at)
        }
        PermitCommand::RecordRefundRefused {
            renewal_id,
            out_refund_no,
            detail,
            exhausted,
            at,
        } => {
            let failure = if exhausted {
                RefundFailure::RetriesExhausted
            } else {
                RefundFailure::Refused
            };
            refund_gave_up(card, renewal_id, out_refund_no, failure, detail, at)
        }
        PermitCommand::RetryRefund {
            problem_id,
            new_out_refund_no,
            now,
        } => {
            let (renewal, problem) = open_problem(card, &problem_id)?;
            // WeChat Pay: a failed request is sent again under the same number (it refunds
            // once per number); a CLOSED refund is over, so a new one needs a new number; an
            // ABNORMAL one is the provider's to finish (merchant platform, abnormal refund).
            let out_refund_no = match problem.failure {
                RefundFailure::Abnormal => return Err(PermitError::ProblemNotRetryable),
                RefundFailure::Closed => new_out_refund_no,
                RefundFailure::Refused | RefundFailure::RetriesExhausted => {
                    problem.out_refund_no.clone()
                }
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
        PermitCommand::ResolveProblem {
            problem_id,
            note,
            now,
        } => {
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
        PermitCommand::ExpireUnpaid { renewal_id, now } => {
            let renewal = renewal(card, renewal_id)?;
            match renewal.status {
                RenewalStatus::ExpiredUnpaid => Ok(vec![]),
                RenewalStatus::AwaitingPayment if now < renewal.pay_by => {
                    Err(PermitError::PaymentWindowOpen)
                }
                RenewalStatus::AwaitingPayment => Ok(vec![PermitEvent::RenewalExpiredUnpaid {
                    renewal_id,
                    at: now,
                }]),
                status => Err(invalid("expire", status)),
            }
        }
        PermitCommand::CancelRenewal {
            renewal_id,
            owner,
            now,
        } => {
            owned_by(card, &owner)?;
            let renewal = renewal(card, renewal_id)?;
            expect_status(renewal, RenewalStatus::AwaitingPayment, "cancel")?;
            Ok(vec![PermitEvent::RenewalCancelled {
                renewal_id,
                at: now,
            }])
        }
    }
}

/// A refund ended badly (reported by the provider, or given up on by the outbox): recorded,
/// and put on the payment problems list, once per attempt. A report about an attempt already
/// recorded, or already paid back, changes nothing.
fn refund_gave_up(
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

/// Whether the card may take a new renewal, online or at the desk: none open, and no rejected
/// one whose money is still held (注意事项 2).
fn renewable(card: &Card) -> Result<(), PermitError> {
    if card.renewals.iter().any(|r| r.status.is_open()) {
        return Err(PermitError::RenewalOpen);
    }
    if card
        .renewals
        .iter()
        .any(|r| r.status.holds_unrefunded_money())
    {
        return Err(PermitError::RefundRequired);
    }
    Ok(())
}

fn owned_by(card: &Card, owner: &Phone) -> Result<(), PermitError> {
    if card.phone != *owner {
        return Err(PermitError::NotHolder);
    }
    Ok(())
}

fn renewal(card: &Card, renewal_id: Uuid) -> Result<&Renewal, PermitError> {
    card.renewal(renewal_id).ok_or(PermitError::UnknownRenewal)
}

fn invalid(action: &'static str, status: RenewalStatus) -> PermitError {
    PermitError::InvalidTransition {
        action,
        status: status.as_str(),
    }
}

fn expect_status(
    renewal: &Renewal,
    expected: RenewalStatus,
    action: &'static str,
) -> Result<(), PermitError> {
    if renewal.status != expected {
        return Err(invalid(action, renewal.status));
    }
    Ok(())
}

/// The season a renewal buys: the earliest of today's season and the next that the card does
/// not cover yet. When it covers both, the renewal is refused (`already_approved`).
pub fn next_period(
    card: &Card,
    terms: &RenewalTerms,
    today: NaiveDate,
) -> Result<Period, PermitError> {
    terms
        .calendar
        .on_sale(&card.coverage, today)
        .ok_or(PermitError::AlreadyApproved)
}

/// The refund number that gives a stray payment back: derived from its transaction id, so a
/// replayed decision picks the same one (at most 64 characters, WeChat's limit).
fn stray_refund_no(transaction_id: &str) -> String {
    let digits: String = transaction_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(62)
        .collect();
    format!("S-{digits}")
}
