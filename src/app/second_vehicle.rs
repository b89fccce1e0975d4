//! A card's second vehicle (凡在职职工限行日备案第二辆车), registered at the desk: bound like
//! any vehicle (no other card at the lot may hold it), under the desk journal.

use super::desk_journal::{self, DeskAction};
use crate::error::AppError;
use crate::ledger::Ledger;
use crate::store::Db;
use aggregates::metadata::EventMetadata;
use aggregates::permit::{Permit, PermitCommand};
use aggregates::values::Plate;
use uuid::Uuid;

/// Registers `plate` as the card's second vehicle; returns the ledger position.
pub async fn add(
    ledger: &Ledger,
    db: &Db,
    permit_id: Uuid,
    plate: Plate,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let loaded = ledger.load::<Permit>(&permit_id.to_string()).await?;
    // Decide first, so a refused registration never binds the vehicle.
    loaded
        .aggregate
        .decide(PermitCommand::AddSecondVehicle {
            plate: plate.clone(),
        })
        .map_err(|e| AppError::refused(&e))?;
    let card = loaded
        .aggregate
        .card
        .expect("decide refuses a card not issued");
    let action = DeskAction::AddSecondVehicle {
        permit_id,
        lot_id: card.lot_id,
        plate,
    };
    desk_journal::run(ledger, db, &action, meta).await
}

/// Removes the card's second vehicle and frees its plate; returns the ledger position.
pub async fn remove(
    ledger: &Ledger,
    db: &Db,
    permit_id: Uuid,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let loaded = ledger.load::<Permit>(&permit_id.to_string()).await?;
    loaded
        .aggregate
        .decide(PermitCommand::RemoveSecondVehicle)
        .map_err(|e| AppError::refused(&e))?;
    let card = loaded
        .aggregate
        .card
        .expect("decide refuses a card not issued");
    let plate = card
        .second_plate
        .expect("decide refuses a card without a second vehicle");
    let action = DeskAction::RemoveSecondVehicle {
        permit_id,
        lot_id: card.lot_id,
        plate,
    };
    desk_journal::run(ledger, db, &action, meta).await
}
