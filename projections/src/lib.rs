//! Read models built from the permit ledger's global feed, and the contract they follow.
//!
//! A [`Projection`] owns a few tables and applies events to them inside the runner's
//! transaction; the runner (in the service) reads the feed in batches and commits view changes
//! together with the projection's checkpoint, so each event takes effect exactly once. See
//! docs/read-models.md for how to add one.

pub mod cards;
pub mod daily_takings;
mod decode;
pub mod feed;
pub mod gate_index;
pub mod outbox;
pub mod payment_dispatch;
pub mod payment_problems;
pub mod plate_index;
mod projection;
pub mod review_queue;
pub mod rows;
pub mod sms_notices;
pub mod texts;

pub use decode::{decode_lot, decode_permit};
pub use feed::FeedEvent;
pub use projection::{PoisonPolicy, Projection, ProjectionError, Tables};

/// Every read model the service runs, in a stable order.
pub fn all() -> Vec<std::sync::Arc<dyn Projection>> {
    vec![
        std::sync::Arc::new(cards::Cards),
        std::sync::Arc::new(review_queue::ReviewQueue),
        std::sync::Arc::new(plate_index::PlateIndex),
        std::sync::Arc::new(sms_notices::SmsNotices),
        std::sync::Arc::new(payment_dispatch::PaymentDispatch),
        std::sync::Arc::new(daily_takings::DailyTakings),
        std::sync::Arc::new(payment_problems::PaymentProblems),
    ]
}
