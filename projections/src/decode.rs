//! Reading typed events out of the feed.

use crate::feed::FeedEvent;
use aggregates::lot::{Lot, LotEvent};
use aggregates::permit::{Permit, PermitEvent};
use aggregates::upcasting::{DecodeError, Upcasters};
use cqrs_es::Aggregate;
use std::sync::LazyLock;

static UPCASTERS: LazyLock<Upcasters> = LazyLock::new(Upcasters::standard);

fn decode<A: Aggregate>(event: &FeedEvent) -> Result<Option<A::Event>, DecodeError> {
    if event.aggregate_type != A::TYPE {
        return Ok(None);
    }
    UPCASTERS.decode::<A>(&event.as_decodable()).map(Some)
}

/// The permit event, if this is one.
pub fn decode_permit(event: &FeedEvent) -> Result<Option<PermitEvent>, DecodeError> {
    decode::<Permit>(event)
}

/// The lot event, if this is one.
pub fn decode_lot(event: &FeedEvent) -> Result<Option<LotEvent>, DecodeError> {
    decode::<Lot>(event)
}
