//! A lot's settings changed at the desk: its restriction calendar and its service phone.

use crate::error::AppError;
use crate::ledger::Ledger;
use aggregates::lot::{Lot, LotCommand};
use aggregates::metadata::EventMetadata;
use aggregates::values::RestrictionCalendar;
use uuid::Uuid;

/// Replaces the lot's restriction calendar; returns the ledger position.
pub async fn set_restrictions(
    ledger: &Ledger,
    lot_id: Uuid,
    calendar: RestrictionCalendar,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let committed = ledger
        .execute::<Lot>(
            &lot_id.to_string(),
            LotCommand::SetRestrictions { calendar },
            meta,
        )
        .await?;
    Ok(committed.position)
}

/// Sets the lot's service phone; returns the ledger position.
pub async fn set_service_phone(
    ledger: &Ledger,
    lot_id: Uuid,
    service_phone: String,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let committed = ledger
        .execute::<Lot>(
            &lot_id.to_string(),
            LotCommand::SetServicePhone { service_phone },
            meta,
        )
        .await?;
    Ok(committed.position)
}
