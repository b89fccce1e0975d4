//! The security office's desk: lots, cards issued offline, holder and vehicle changes.

use super::desk_journal::{self, DeskAction};
use crate::error::AppError;
use crate::ledger::Ledger;
use crate::store::Db;
use aggregates::lot::{Consent, Lot, LotCommand, LotError, Product};
use aggregates::metadata::EventMetadata;
use aggregates::permit::{Permit, PermitCommand};
use aggregates::values::{Period, Phone, Plate};
use uuid::Uuid;

/// Registers a lot with its product and consent; returns the ledger position.
pub async fn register_lot(
    ledger: &Ledger,
    lot_id: Uuid,
    name: String,
    product: Product,
    consent: Consent,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let committed = ledger
        .execute::<Lot>(
            &lot_id.to_string(),
            LotCommand::Register {
                name,
                product,
                consent,
            },
            meta,
        )
        .await?;
    Ok(committed.position)
}

/// A card to issue at the desk.
#[derive(Debug, Clone)]
pub struct NewPermit {
    /// Id for the new card.
    pub permit_id: Uuid,
    /// The lot.
    pub lot_id: Uuid,
    /// The vehicle.
    pub plate: Plate,
    /// Holder's name.
    pub holder_name: String,
    /// Holder's phone.
    pub phone: Phone,
    /// Validity paid at the desk.
    pub validity: Period,
}

/// Issues a card: binds the vehicle at the lot (refused if another card holds it), then
/// issues the card, under the desk journal (a crash between the two is finished by recovery).
/// Returns the ledger position of the issue.
pub async fn issue_permit(
    ledger: &Ledger,
    db: &Db,
    new: NewPermit,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let lot = ledger.load::<Lot>(&new.lot_id.to_string()).await?;
    if lot.aggregate.registered.is_none() {
        return Err(AppError::refused(&LotError::NotRegistered));
    }
    let issue = PermitCommand::Issue {
        lot_id: new.lot_id,
        plate: new.plate.clone(),
        holder_name: new.holder_name.clone(),
        phone: new.phone.clone(),
        validity: new.validity,
    };
    // Decide first on the empty card, so a refused issue never binds the vehicle.
    Permit::default()
        .decide(issue)
        .map_err(|e| AppError::refused(&e))?;
    desk_journal::run(ledger, db, &DeskAction::issue(&new), meta).await
}

/// Moves a card to another vehicle: binds the new one, changes the card, unbinds the old one,
/// under the desk journal.
pub async fn change_vehicle(
    ledger: &Ledger,
    db: &Db,
    permit_id: Uuid,
    plate: Plate,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let loaded = ledger.load::<Permit>(&permit_id.to_string()).await?;
    let change = PermitCommand::ChangeVehicle {
        plate: plate.clone(),
    };
    loaded
        .aggregate
        .decide(change)
        .map_err(|e| AppError::refused(&e))?;
    let card = loaded
        .aggregate
        .card
        .expect("decide refuses a card not issued");
    let action = DeskAction::ChangeVehicle {
        permit_id,
        lot_id: card.lot_id,
        from: card.plate,
        to: plate,
    };
    desk_journal::run(ledger, db, &action, meta).await
}

/// Changes the holder's name and phone.
pub async fn change_holder(
    ledger: &Ledger,
    permit_id: Uuid,
    holder_name: String,
    phone: Phone,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let committed = ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            PermitCommand::ChangeHolder { holder_name, phone },
            meta,
        )
        .await?;
    Ok(committed.position)
}
