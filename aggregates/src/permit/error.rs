//! Why a permit command was refused.

use crate::error_code::{ErrorCode, ErrorKind};

/// Why a permit command was refused. Messages are short and lowercase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermitError {
    /// No card here (or not the caller's: owners learn nothing more).
    #[error("no such permit")]
    NotIssued,
    /// The card exists already.
    #[error("permit already issued")]
    AlreadyIssued,
    /// The owner's phone is not the card holder's.
    #[error("no such permit")]
    NotHolder,
    /// The plate typed is not this card's vehicle.
    #[error("no such permit for this vehicle")]
    OtherVehicle,
    /// No such renewal on this card.
    #[error("no such renewal")]
    UnknownRenewal,
    /// A blank or over-long holder name.
    #[error("holder name must be 1 to 50 characters")]
    HolderNameRequired,
    /// The desk's change would change nothing.
    #[error("nothing to change")]
    NoChange,
    /// A renewal awaits payment or review already.
    #[error("a renewal of this permit is already open")]
    RenewalOpen,
    /// A rejected renewal's payment must be refunded first (注意事项 2).
    #[error("the rejected renewal must be refunded before a new one")]
    RefundRequired,
    /// Today's season and the next are both covered (通过审核后则无法再次申请).
    #[error("already approved for the period on sale")]
    AlreadyApproved,
    /// The consent accepted is not the one in force, or none was accepted.
    #[error("the consent accepted is not the current version")]
    ConsentOutdated,
    /// No campus-card photo.
    #[error("a campus card photo is required")]
    PhotoRequired,
    /// The amount paid is not the amount quoted.
    #[error("the amount paid differs from the amount quoted")]
    AmountMismatch,
    /// The renewal was paid by another transaction.
    #[error("the renewal was already paid")]
    AlreadyPaid,
    /// A reject without a reason (or with one over 500 characters).
    #[error("a reason of 1 to 500 characters is required to reject")]
    ReasonRequired,
    /// A refund was already asked for or made.
    #[error("a refund was already requested")]
    AlreadyRefunded,
    /// The refund report does not answer the refund asked for.
    #[error("unknown refund number")]
    UnknownRefund,
    /// The unpaid order has not reached its end yet.
    #[error("the payment window is still open")]
    PaymentWindowOpen,
    /// A desk renewal without a receipt number (or with one over 64 characters).
    #[error("a receipt number of 1 to 64 characters is required")]
    ReceiptRequired,
    /// No such payment problem on this card.
    #[error("no such payment problem")]
    UnknownProblem,
    /// The problem was retried or resolved already.
    #[error("the payment problem is {status} already")]
    ProblemClosed {
        /// Where it stands.
        status: &'static str,
    },
    /// An ABNORMAL refund cannot be asked again: the provider holds it.
    #[error(
        "an abnormal refund cannot be retried; handle it in the merchant platform, then resolve it"
    )]
    ProblemNotRetryable,
    /// A resolve without a note (or with one over 500 characters).
    #[error("a note of 1 to 500 characters is required to resolve")]
    NoteRequired,
    /// The owner asks again for a refund the office is handling.
    #[error("the refund is being handled by the office")]
    RefundWithStaff,
    /// The second vehicle is the card's own vehicle (or the other way round).
    #[error("the second vehicle must differ from the card's vehicle")]
    SameVehicle,
    /// The card has a second vehicle already; remove it first.
    #[error("this card has a second vehicle already; remove it first")]
    SecondVehicleExists,
    /// The card has no second vehicle.
    #[error("this card has no second vehicle")]
    NoSecondVehicle,
    /// Any other transition not allowed from the renewal's state.
    #[error("cannot {action} a renewal that is {status}")]
    InvalidTransition {
        /// What was attempted.
        action: &'static str,
        /// The renewal's status.
        status: &'static str,
    },
}

impl ErrorCode for PermitError {
    fn code(&self) -> &'static str {
        match self {
            PermitError::NotIssued | PermitError::NotHolder | PermitError::OtherVehicle => {
                "no_permit"
            }
            PermitError::AlreadyIssued => "already_issued",
            PermitError::UnknownRenewal => "no_renewal",
            PermitError::HolderNameRequired => "invalid_input",
            PermitError::NoChange => "no_change",
            PermitError::RenewalOpen => "renewal_open",
            PermitError::RefundRequired => "refund_required",
            PermitError::AlreadyApproved => "already_approved",
            PermitError::ConsentOutdated => "consent_outdated",
            PermitError::PhotoRequired => "photo_required",
            PermitError::AmountMismatch => "amount_mismatch",
            PermitError::AlreadyPaid => "already_paid",
            PermitError::ReasonRequired => "reason_required",
            PermitError::AlreadyRefunded => "already_refunded",
            PermitError::UnknownRefund => "unknown_refund",
            PermitError::PaymentWindowOpen => "payment_window_open",
            PermitError::ReceiptRequired => "receipt_required",
            PermitError::UnknownProblem => "no_problem",
            PermitError::ProblemClosed { .. } => "problem_closed",
            PermitError::ProblemNotRetryable => "problem_not_retryable",
            PermitError::NoteRequired => "note_required",
            PermitError::RefundWithStaff => "refund_with_staff",
            PermitError::InvalidTransition { .. } => "invalid_transition",
            PermitError::SameVehicle => "same_vehicle",
            PermitError::SecondVehicleExists => "second_vehicle_exists",
            PermitError::NoSecondVehicle => "no_second_vehicle",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            PermitError::NotIssued
            | PermitError::NotHolder
            | PermitError::OtherVehicle
            | PermitError::UnknownRenewal
            | PermitError::UnknownProblem => ErrorKind::NotFound,
            PermitError::HolderNameRequired
            | PermitError::NoteRequired
            | PermitError::ReceiptRequired
            | PermitError::PhotoRequired
            | PermitError::ReasonRequired => ErrorKind::Invalid,
            _ => ErrorKind::Rule,
        }
    }
}
