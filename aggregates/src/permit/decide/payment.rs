//! A payment the provider reports: the renewal's, or a stray one it cannot take (recorded and
//! given back all the same).

use super::{renewal, Decision};
use crate::permit::error::PermitError;
use crate::permit::events::{PermitEvent, StrayReason};
use crate::permit::state::{Card, RenewalStatus};
use crate::values::Fen;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(super) fn record(
    card: &Card,
    renewal_id: Uuid,
    transaction_id: String,
    amount: Fen,
    paid_at: DateTime<Utc>,
) -> Decision {
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
