//! The permit's rules: each command becomes events or a typed refusal. [`Permit::decide`]
//! issues the card; every other command is decided by the part of the rules it belongs to:
//! the card itself (`card`), a renewal's start and end without a decision (`renewal`), the
//! provider's payment (`payment`), the office's review (`review`), giving money back (`refund`).

mod card;
mod payment;
mod refund;
mod renewal;
mod review;

use super::commands::{PermitCommand, RenewalTerms};
use super::error::PermitError;
use super::events::PermitEvent;
use super::state::{Card, Renewal, RenewalStatus};
use super::Permit;
use crate::values::{Period, Phone};
use chrono::NaiveDate;
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

/// Every command but `Issue`, on an issued card: each decided by the part of the rules it
/// belongs to.
fn decide_for_card(card: &Card, command: PermitCommand) -> Decision {
    use PermitCommand as C;
    match command {
        C::Issue { .. } => Err(PermitError::AlreadyIssued),
        C::ChangeHolder { holder_name, phone } => card::change_holder(card, holder_name, phone),
        C::ChangeVehicle { plate } => card::change_vehicle(card, plate),
        C::AddSecondVehicle { plate } => card::add_second_vehicle(card, plate),
        C::RemoveSecondVehicle => card::remove_second_vehicle(card),
        C::HideCard { owner } => card::set_hidden(card, &owner, true),
        C::ShowCard { owner } => card::set_hidden(card, &owner, false),
        C::ChooseVehicle { plate, owner } => card::choose_vehicle(card, plate, &owner),
        C::SubmitRenewal {
            renewal_id,
            owner,
            now,
            today,
            terms,
            accepted_consent_version,
            photo,
            order_id,
            pay_by,
        } => renewal::submit(
            card,
            renewal::Submission {
                renewal_id,
                owner,
                now,
                today,
                terms,
                accepted_consent_version,
                photo,
                order_id,
                pay_by,
            },
        ),
        C::RenewAtDesk {
            renewal_id,
            staff_id,
            now,
            today,
            terms,
            method,
            receipt_no,
            amount,
        } => renewal::at_desk(
            card,
            renewal::DeskRenewal {
                renewal_id,
                staff_id,
                now,
                today,
                terms,
                method,
                receipt_no,
                amount,
            },
        ),
        C::ExpireUnpaid { renewal_id, now } => renewal::expire_unpaid(card, renewal_id, now),
        C::CancelRenewal {
            renewal_id,
            owner,
            now,
        } => renewal::cancel(card, renewal_id, &owner, now),
        C::RecordPayment {
            renewal_id,
            transaction_id,
            amount,
            paid_at,
        } => payment::record(card, renewal_id, transaction_id, amount, paid_at),
        C::Approve {
            renewal_id,
            reviewer_id,
            now,
        } => review::approve(card, renewal_id, reviewer_id, now),
        C::Reject {
            renewal_id,
            reviewer_id,
            reason,
            now,
        } => review::reject(card, renewal_id, reviewer_id, &reason, now),
        C::RequestRefund {
            renewal_id,
            owner,
            out_refund_no,
            now,
        } => refund::request(card, renewal_id, &owner, out_refund_no, now),
        C::RecordRefund {
            renewal_id,
            out_refund_no,
            refund_id,
            refunded_at,
        } => refund::record(card, renewal_id, out_refund_no, refund_id, refunded_at),
        C::RecordRefundFailure {
            renewal_id,
            out_refund_no,
            failure,
            at,
        } => refund::record_failure(card, renewal_id, out_refund_no, failure, at),
        C::RecordRefundRefused {
            renewal_id,
            out_refund_no,
            detail,
            exhausted,
            at,
        } => refund::record_refused(card, renewal_id, out_refund_no, detail, exhausted, at),
        C::RetryRefund {
            problem_id,
            new_out_refund_no,
            now,
        } => refund::retry(card, problem_id, new_out_refund_no, now),
        C::ResolveProblem {
            problem_id,
            note,
            now,
        } => refund::resolve(card, problem_id, &note, now),
    }
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
