//! A renewal's start and its end without a decision: submitted online, paid at the desk,
//! expired unpaid, cancelled.

use super::{expect_status, next_period, owned_by, renewable, renewal, Decision};
use super::{invalid, MAX_RECEIPT_CHARS};
use crate::permit::commands::{DeskMethod, PhotoRef, RenewalTerms};
use crate::permit::error::PermitError;
use crate::permit::events::PermitEvent;
use crate::permit::state::{Card, RenewalStatus};
use crate::values::{Fen, Phone};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// `SubmitRenewal`'s fields.
pub(super) struct Submission {
    pub renewal_id: Uuid,
    pub owner: Phone,
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
    pub terms: RenewalTerms,
    pub accepted_consent_version: Option<String>,
    pub photo: Option<PhotoRef>,
    pub order_id: String,
    pub pay_by: DateTime<Utc>,
}

pub(super) fn submit(card: &Card, s: Submission) -> Decision {
    owned_by(card, &s.owner)?;
    let photo = s.photo.ok_or(PermitError::PhotoRequired)?;
    if s.accepted_consent_version.as_deref() != Some(s.terms.consent_version.as_str()) {
        return Err(PermitError::ConsentOutdated);
    }
    renewable(card)?;
    let period = next_period(card, &s.terms, s.today)?;
    Ok(vec![PermitEvent::RenewalSubmitted {
        renewal_id: s.renewal_id,
        period,
        amount: s.terms.price,
        consent_version: s.terms.consent_version,
        photo,
        order_id: s.order_id,
        submitted_at: s.now,
        pay_by: s.pay_by,
    }])
}

/// `RenewAtDesk`'s fields.
pub(super) struct DeskRenewal {
    pub renewal_id: Uuid,
    pub staff_id: Uuid,
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
    pub terms: RenewalTerms,
    pub method: DeskMethod,
    pub receipt_no: String,
    pub amount: Fen,
}

/// Paid at the desk and approved at once (注意事项 1).
pub(super) fn at_desk(card: &Card, d: DeskRenewal) -> Decision {
    let receipt_no = d.receipt_no.trim();
    if receipt_no.is_empty() || receipt_no.chars().count() > MAX_RECEIPT_CHARS {
        return Err(PermitError::ReceiptRequired);
    }
    renewable(card)?;
    let period = next_period(card, &d.terms, d.today)?;
    if d.amount != d.terms.price {
        return Err(PermitError::AmountMismatch);
    }
    Ok(vec![
        PermitEvent::DeskRenewalPaid {
            renewal_id: d.renewal_id,
            period,
            amount: d.amount,
            method: d.method,
            receipt_no: receipt_no.to_string(),
            paid_at: d.now,
        },
        PermitEvent::Approved {
            renewal_id: d.renewal_id,
            period,
            reviewer_id: d.staff_id,
            decided_at: d.now,
        },
    ])
}

pub(super) fn expire_unpaid(card: &Card, renewal_id: Uuid, now: DateTime<Utc>) -> Decision {
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

pub(super) fn cancel(card: &Card, renewal_id: Uuid, owner: &Phone, now: DateTime<Utc>) -> Decision {
    owned_by(card, owner)?;
    let renewal = renewal(card, renewal_id)?;
    expect_status(renewal, RenewalStatus::AwaitingPayment, "cancel")?;
    Ok(vec![PermitEvent::RenewalCancelled {
        renewal_id,
        at: now,
    }])
}
