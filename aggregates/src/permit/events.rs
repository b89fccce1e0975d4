//! What happened to a permit. Names are forever; payloads evolve by version and upcasting.

use super::commands::{DeskMethod, PhotoRef, RefundFailure};
use crate::values::{Fen, Period, Phone, Plate};
use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Events of a permit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PermitEvent {
    /// The desk issued the card.
    PermitIssued {
        /// The lot.
        lot_id: Uuid,
        /// The vehicle.
        plate: Plate,
        /// Holder's name.
        holder_name: String,
        /// Holder's phone.
        phone: Phone,
        /// Validity paid at the desk.
        validity: Period,
    },
    /// The desk changed the holder's details.
    HolderChanged {
        /// New name.
        holder_name: String,
        /// New phone.
        phone: Phone,
    },
    /// The card's vehicle was unbound.
    VehicleUnbound {
        /// The vehicle let go.
        plate: Plate,
    },
    /// The card was bound to a vehicle.
    VehicleBound {
        /// The vehicle taken.
        plate: Plate,
    },
    /// A second vehicle was registered on the card, for its vehicle's restricted days.
    SecondVehicleAdded {
        /// The second vehicle.
        plate: Plate,
    },
    /// The card's second vehicle was removed.
    SecondVehicleRemoved {
        /// The vehicle let go.
        plate: Plate,
    },
    /// The owner removed the card from their list (移除此卡).
    CardHidden {},
    /// The owner added the card back to their list (添加至长租管理).
    CardShown {},
    /// The owner chose this card's vehicle on the lot's page.
    VehicleChosen {
        /// The vehicle.
        plate: Plate,
    },
    /// The owner submitted a renewal; it awaits payment.
    RenewalSubmitted {
        /// The renewal.
        renewal_id: Uuid,
        /// The season it buys.
        period: Period,
        /// The amount quoted.
        amount: Fen,
        /// The consent version accepted.
        consent_version: String,
        /// The campus-card photo.
        photo: PhotoRef,
        /// The payment order number (`out_trade_no`).
        order_id: String,
        /// When.
        submitted_at: DateTime<Utc>,
        /// When the unpaid order closes.
        pay_by: DateTime<Utc>,
    },
    /// A renewal paid at the desk; `Approved` follows in the same append.
    DeskRenewalPaid {
        /// The renewal.
        renewal_id: Uuid,
        /// The season it buys.
        period: Period,
        /// The amount taken (the lot's price in force).
        amount: Fen,
        /// How it was paid.
        method: DeskMethod,
        /// The desk's receipt number (trimmed).
        receipt_no: String,
        /// When.
        paid_at: DateTime<Utc>,
    },
    /// The renewal was paid; it is under review.
    Paid {
        /// The renewal.
        renewal_id: Uuid,
        /// The provider's transaction id.
        transaction_id: String,
        /// Amount paid.
        amount: Fen,
        /// When.
        paid_at: DateTime<Utc>,
    },
    /// A reviewer approved; the card now covers the period.
    Approved {
        /// The renewal.
        renewal_id: Uuid,
        /// The period now covered.
        period: Period,
        /// The reviewer.
        reviewer_id: Uuid,
        /// When.
        decided_at: DateTime<Utc>,
    },
    /// A reviewer rejected; the card stays as it was.
    Rejected {
        /// The renewal.
        renewal_id: Uuid,
        /// Why.
        reason: String,
        /// The reviewer.
        reviewer_id: Uuid,
        /// When.
        decided_at: DateTime<Utc>,
    },
    /// The owner asked for the money back.
    RefundRequested {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number (`out_refund_no`), reused on retry.
        out_refund_no: String,
        /// Amount to pay back.
        amount: Fen,
        /// When.
        requested_at: DateTime<Utc>,
    },
    /// The provider paid the money back.
    Refunded {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number.
        out_refund_no: String,
        /// The provider's refund id.
        refund_id: String,
        /// When.
        refunded_at: DateTime<Utc>,
    },
    /// The provider could not pay the money back.
    RefundFailed {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number.
        out_refund_no: String,
        /// How it failed.
        failure: RefundFailure,
        /// When.
        at: DateTime<Utc>,
    },
    /// The payment window ended unpaid.
    RenewalExpiredUnpaid {
        /// The renewal.
        renewal_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// The owner cancelled before paying.
    RenewalCancelled {
        /// The renewal.
        renewal_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// A genuine payment the renewal could not take (cancelled or expired a moment before,
    /// paid already, or another amount): recorded, and refunded in full automatically.
    StrayPaymentReceived {
        /// The renewal whose order was paid.
        renewal_id: Uuid,
        /// The provider's transaction id.
        transaction_id: String,
        /// Amount paid.
        amount: Fen,
        /// When it was recorded.
        received_at: DateTime<Utc>,
        /// Why the renewal could not take it.
        reason: StrayReason,
        /// The refund number that gives it back.
        out_refund_no: String,
    },
    /// A stray payment was given back.
    StrayPaymentRefunded {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number.
        out_refund_no: String,
        /// The provider's refund id.
        refund_id: String,
        /// When.
        refunded_at: DateTime<Utc>,
    },
    /// The provider could not give a stray payment back.
    StrayRefundFailed {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number.
        out_refund_no: String,
        /// How it failed.
        failure: RefundFailure,
        /// When.
        at: DateTime<Utc>,
    },
    /// A refund failed in a way staff must handle: it is on the payment problems list.
    PaymentProblemRaised {
        /// The problem (see [`problem_id`](crate::permit::problem_id)).
        problem_id: String,
        /// The renewal.
        renewal_id: Uuid,
        /// The refund of a stray payment (not of the renewal's own payment).
        stray: bool,
        /// How it failed.
        failure: RefundFailure,
        /// The refund number that failed.
        out_refund_no: String,
        /// The amount still owed to the payer.
        amount: Fen,
        /// What the provider said, for staff.
        detail: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Staff asked for the refund again.
    PaymentProblemRetried {
        /// The problem.
        problem_id: String,
        /// The renewal.
        renewal_id: Uuid,
        /// The refund of a stray payment.
        stray: bool,
        /// The refund number the retry uses (a new one after CLOSED, else the same).
        out_refund_no: String,
        /// The amount asked for.
        amount: Fen,
        /// When.
        at: DateTime<Utc>,
    },
    /// Staff closed the problem: the payer has the money back by other means.
    PaymentProblemResolved {
        /// The problem.
        problem_id: String,
        /// The renewal.
        renewal_id: Uuid,
        /// The refund of a stray payment.
        stray: bool,
        /// What staff did.
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Why a payment was stray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrayReason {
    /// The owner had cancelled the renewal.
    Cancelled,
    /// The payment window had ended.
    Expired,
    /// The renewal was paid already (by another transaction).
    AlreadyPaid,
    /// Not the amount the renewal asked for.
    AmountMismatch,
}

impl PermitEvent {
    /// The renewal this event is about, if it is about one.
    pub fn renewal_id(&self) -> Option<Uuid> {
        match self {
            PermitEvent::RenewalSubmitted { renewal_id, .. }
            | PermitEvent::DeskRenewalPaid { renewal_id, .. }
            | PermitEvent::Paid { renewal_id, .. }
            | PermitEvent::Approved { renewal_id, .. }
            | PermitEvent::Rejected { renewal_id, .. }
            | PermitEvent::RefundRequested { renewal_id, .. }
            | PermitEvent::Refunded { renewal_id, .. }
            | PermitEvent::RefundFailed { renewal_id, .. }
            | PermitEvent::RenewalExpiredUnpaid { renewal_id, .. }
            | PermitEvent::RenewalCancelled { renewal_id, .. }
            | PermitEvent::StrayPaymentReceived { renewal_id, .. }
            | PermitEvent::StrayPaymentRefunded { renewal_id, .. }
            | PermitEvent::StrayRefundFailed { renewal_id, .. }
            | PermitEvent::PaymentProblemRaised { renewal_id, .. }
            | PermitEvent::PaymentProblemRetried { renewal_id, .. }
            | PermitEvent::PaymentProblemResolved { renewal_id, .. } => Some(*renewal_id),
            PermitEvent::PermitIssued { .. }
            | PermitEvent::HolderChanged { .. }
            | PermitEvent::VehicleUnbound { .. }
            | PermitEvent::VehicleBound { .. }
            | PermitEvent::SecondVehicleAdded { .. }
            | PermitEvent::SecondVehicleRemoved { .. }
            | PermitEvent::CardHidden {}
            | PermitEvent::CardShown {}
            | PermitEvent::VehicleChosen { .. } => None,
        }
    }

    /// The stable event type name stored with the event.
    pub fn name(&self) -> &'static str {
        match self {
            PermitEvent::PermitIssued { .. } => "PermitIssued",
            PermitEvent::HolderChanged { .. } => "HolderChanged",
            PermitEvent::VehicleUnbound { .. } => "VehicleUnbound",
            PermitEvent::VehicleBound { .. } => "VehicleBound",
            PermitEvent::VehicleChosen { .. } => "VehicleChosen",
            PermitEvent::SecondVehicleAdded { .. } => "SecondVehicleAdded",
            PermitEvent::CardHidden { .. } => "CardHidden",
            PermitEvent::CardShown { .. } => "CardShown",
            PermitEvent::SecondVehicleRemoved { .. } => "SecondVehicleRemoved",
            PermitEvent::RenewalSubmitted { .. } => "RenewalSubmitted",
            PermitEvent::DeskRenewalPaid { .. } => "DeskRenewalPaid",
            PermitEvent::Paid { .. } => "Paid",
            PermitEvent::Approved { .. } => "Approved",
            PermitEvent::Rejected { .. } => "Rejected",
            PermitEvent::RefundRequested { .. } => "RefundRequested",
            PermitEvent::Refunded { .. } => "Refunded",
            PermitEvent::RefundFailed { .. } => "RefundFailed",
            PermitEvent::RenewalExpiredUnpaid { .. } => "RenewalExpiredUnpaid",
            PermitEvent::RenewalCancelled { .. } => "RenewalCancelled",
            PermitEvent::StrayPaymentReceived { .. } => "StrayPaymentReceived",
            PermitEvent::StrayPaymentRefunded { .. } => "StrayPaymentRefunded",
            PermitEvent::StrayRefundFailed { .. } => "StrayRefundFailed",
            PermitEvent::PaymentProblemRaised { .. } => "PaymentProblemRaised",
            PermitEvent::PaymentProblemRetried { .. } => "PaymentProblemRetried",
            PermitEvent::PaymentProblemResolved { .. } => "PaymentProblemResolved",
        }
    }
}

impl DomainEvent for PermitEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}
