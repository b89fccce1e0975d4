//! The renewal status machine: which status each event moves its renewal to. The aggregate's
//! fold, the `cards` view and the auditors' replay all take a renewal's status from here, so a
//! new status or transition is one change.

use super::{PermitEvent, RenewalStatus};
use uuid::Uuid;

/// The renewal `event` moves and the status it moves it to; `None` for events that leave
/// every renewal's status as it was.
pub fn renewal_status(event: &PermitEvent) -> Option<(Uuid, RenewalStatus)> {
    use PermitEvent as E;
    use RenewalStatus as S;
    let moved = match event {
        E::RenewalSubmitted { renewal_id, .. } => (renewal_id, S::AwaitingPayment),
        // Paid at the desk: reviewed like a paid online renewal (`Approved` follows at once).
        E::DeskRenewalPaid { renewal_id, .. } | E::Paid { renewal_id, .. } => {
            (renewal_id, S::UnderReview)
        }
        E::Approved { renewal_id, .. } => (renewal_id, S::Approved),
        E::Rejected { renewal_id, .. } => (renewal_id, S::Rejected),
        E::RefundRequested { renewal_id, .. } => (renewal_id, S::RefundRequested),
        E::Refunded { renewal_id, .. } => (renewal_id, S::Refunded),
        // Staff closed the renewal's own refund problem: the owner has the money back.
        E::PaymentProblemResolved {
            renewal_id,
            stray: false,
            ..
        } => (renewal_id, S::Refunded),
        E::RefundFailed { renewal_id, .. } => (renewal_id, S::RefundFailed),
        E::RenewalExpiredUnpaid { renewal_id, .. } => (renewal_id, S::ExpiredUnpaid),
        E::RenewalCancelled { renewal_id, .. } => (renewal_id, S::Cancelled),
        // A stray payment and its refund, a problem raised or retried: the renewal stays.
        E::PermitIssued { .. }
        | E::HolderChanged { .. }
        | E::VehicleUnbound { .. }
        | E::VehicleBound { .. }
        | E::SecondVehicleAdded { .. }
        | E::SecondVehicleRemoved { .. }
        | E::CardHidden {}
        | E::CardShown {}
        | E::VehicleChosen { .. }
        | E::StrayPaymentReceived { .. }
        | E::StrayPaymentRefunded { .. }
        | E::StrayRefundFailed { .. }
        | E::PaymentProblemRaised { .. }
        | E::PaymentProblemRetried { .. }
        | E::PaymentProblemResolved { .. } => return None,
    };
    Some((*moved.0, moved.1))
}
