//! What can be asked of a permit.

use crate::values::{Fen, Period, Phone, Plate, SeasonCalendar};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The campus-card photo attached to a renewal, stored content-addressed outside the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoRef {
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
}

/// The lot's terms in force when a renewal is submitted (read from the lot by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalTerms {
    /// Price of one season.
    pub price: Fen,
    /// The seasons sold.
    pub calendar: SeasonCalendar,
    /// The consent version in force.
    pub consent_version: String,
}

/// How a refund ended badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundFailure {
    /// The provider closed the refund; it may be asked again.
    Closed,
    /// The provider could not pay it back; staff must handle it.
    Abnormal,
    /// The provider refused the refund request for good (merchant set-up, amounts, order).
    Refused,
    /// The refund request could not be delivered after every retry.
    RetriesExhausted,
}

impl RefundFailure {
    /// The stable snake_case name used in views and problem kinds.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundFailure::Closed => "closed",
            RefundFailure::Abnormal => "abnormal",
            RefundFailure::Refused => "refused",
            RefundFailure::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// How a renewal was paid at the desk (注意事项 1: other payment methods are handled offline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskMethod {
    /// Cash at the window.
    Cash,
    /// A bank or campus card at the desk's terminal.
    Card,
    /// A bank transfer.
    Transfer,
}

impl DeskMethod {
    /// The stable name, also the renewal's `channel`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeskMethod::Cash => "cash",
            DeskMethod::Card => "card",
            DeskMethod::Transfer => "transfer",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [DeskMethod::Cash, DeskMethod::Card, DeskMethod::Transfer]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Commands to a permit.
#[derive(Debug, Clone, PartialEq)]
pub enum PermitCommand {
    /// The desk issues a card (注意事项 3: new cards are made offline).
    Issue {
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
    /// The desk changes the holder's details.
    ChangeHolder {
        /// New name.
        holder_name: String,
        /// New phone.
        phone: Phone,
    },
    /// The desk moves the card to another vehicle (unbinding the old one).
    ChangeVehicle {
        /// The new vehicle.
        plate: Plate,
    },
    /// The desk registers a second vehicle for the days the card's own vehicle is restricted
    /// (凡在职职工限行日备案第二辆车).
    AddSecondVehicle {
        /// The second vehicle.
        plate: Plate,
    },
    /// The desk removes the card's second vehicle.
    RemoveSecondVehicle,
    /// The owner removes the card from their list (移除此卡); it stays valid.
    HideCard {
        /// The verified phone of the session.
        owner: Phone,
    },
    /// The owner adds the card back to their list (添加至长租管理).
    ShowCard {
        /// The verified phone of the session.
        owner: Phone,
    },
    /// The owner chose this card's vehicle on the lot's page (manual step 2).
    ChooseVehicle {
        /// The plate typed.
        plate: Plate,
        /// The verified phone of the session.
        owner: Phone,
    },
    /// The owner asks to renew for the next period (manual steps 3–4).
    SubmitRenewal {
        /// New id for the renewal.
        renewal_id: Uuid,
        /// The verified phone of the session.
        owner: Phone,
        /// The business clock's now.
        now: DateTime<Utc>,
        /// Today in Asia/Shanghai.
        today: NaiveDate,
        /// The lot's terms in force.
        terms: RenewalTerms,
        /// The consent version the owner accepted, if any.
        accepted_consent_version: Option<String>,
        /// The campus-card photo, if attached.
        photo: Option<PhotoRef>,
        /// The payment order number (`out_trade_no`) to create.
        order_id: String,
        /// When the unpaid order closes.
        pay_by: DateTime<Utc>,
    },
    /// The desk records a renewal paid there, approved at once.
    RenewAtDesk {
        /// New id for the renewal.
        renewal_id: Uuid,
        /// The staff member at the desk.
        staff_id: Uuid,
        /// The business clock's now.
        now: DateTime<Utc>,
        /// Today in Asia/Shanghai.
        today: NaiveDate,
        /// The lot's terms in force.
        terms: RenewalTerms,
        /// How it was paid.
        method: DeskMethod,
        /// The desk's receipt number.
        receipt_no: String,
        /// The amount taken.
        amount: Fen,
    },
    /// The payment provider reports a payment (manual step 5).
    RecordPayment {
        /// The renewal paid.
        renewal_id: Uuid,
        /// The provider's transaction id.
        transaction_id: String,
        /// Amount paid.
        amount: Fen,
        /// When it was paid.
        paid_at: DateTime<Utc>,
    },
    /// A reviewer approves a paid renewal.
    Approve {
        /// The renewal.
        renewal_id: Uuid,
        /// The reviewer.
        reviewer_id: Uuid,
        /// When.
        now: DateTime<Utc>,
    },
    /// A reviewer rejects a paid renewal, with a reason.
    Reject {
        /// The renewal.
        renewal_id: Uuid,
        /// The reviewer.
        reviewer_id: Uuid,
        /// Why (shown to the owner).
        reason: String,
        /// When.
        now: DateTime<Utc>,
    },
    /// The owner asks for the money of a rejected renewal back.
    RequestRefund {
        /// The renewal.
        renewal_id: Uuid,
        /// The verified phone of the session.
        owner: Phone,
        /// A new `out_refund_no`, used unless one exists (a retry reuses the first).
        out_refund_no: String,
        /// When.
        now: DateTime<Utc>,
    },
    /// The payment provider reports the refund paid back.
    RecordRefund {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number it answers.
        out_refund_no: String,
        /// The provider's refund id.
        refund_id: String,
        /// When.
        refunded_at: DateTime<Utc>,
    },
    /// The payment provider reports the refund failed.
    RecordRefundFailure {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number it answers.
        out_refund_no: String,
        /// How it failed.
        failure: RefundFailure,
        /// When.
        at: DateTime<Utc>,
    },
    /// The refund request never reached the provider, or it refused it for good: the outbox
    /// gave up on it.
    RecordRefundRefused {
        /// The renewal.
        renewal_id: Uuid,
        /// The refund number asked for.
        out_refund_no: String,
        /// What the provider (or the transport) last said.
        detail: String,
        /// `true` when retries ran out, `false` when the provider refused for good.
        exhausted: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Staff ask for a failed refund again.
    RetryRefund {
        /// The open problem.
        problem_id: String,
        /// A new `out_refund_no`, used only when the provider closed the old one.
        new_out_refund_no: String,
        /// When.
        now: DateTime<Utc>,
    },
    /// Staff close a problem handled outside the ledger (e.g. refunded at the desk).
    ResolveProblem {
        /// The open problem.
        problem_id: String,
        /// What was done.
        note: String,
        /// When.
        now: DateTime<Utc>,
    },
    /// The payment window ended without payment.
    ExpireUnpaid {
        /// The renewal.
        renewal_id: Uuid,
        /// The business clock's now.
        now: DateTime<Utc>,
    },
    /// The owner cancels an unpaid renewal.
    CancelRenewal {
        /// The renewal.
        renewal_id: Uuid,
        /// The verified phone of the session.
        owner: Phone,
        /// When.
        now: DateTime<Utc>,
    },
}
