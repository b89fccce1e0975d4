//! Desk actions that touch two aggregates (issuing a card binds its vehicle first; moving a card
//! to another vehicle binds the new plate, changes the card, frees the old plate) are written to
//! a journal before their first step and struck off after their last. An action the process did
//! not finish (an outage, a crash between the steps) is finished by [`recover`], which the
//! service runs at start and every half minute: every step is idempotent, so finishing an action
//! twice, or beside a retry, does it once. An action whose next step the rules now refuse is
//! undone instead (the plate it bound is freed).

use super::desk::NewPermit;
use crate::error::AppError;
use crate::ledger::{CommandError, Ledger};
use crate::store::{Db, StoreError};
use aggregates::metadata::EventMetadata;
use aggregates::permit::{Permit, PermitCommand, PermitError};
use aggregates::values::{Period, Phone, Plate};
use aggregates::vehicle_binding::{binding_id, BindingCommand, BindingError, VehicleBinding};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// An action, with everything needed to finish it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeskAction {
    /// Bind the plate to the new card, then issue the card.
    IssuePermit {
        /// The new card's id.
        permit_id: Uuid,
        /// Its lot.
        lot_id: Uuid,
        /// Its vehicle.
        plate: Plate,
        /// The holder.
        holder_name: String,
        /// The holder's phone.
        phone: Phone,
        /// Validity paid at the desk.
        validity: Period,
    },
    /// Bind the new plate, move the card to it, free the old plate.
    ChangeVehicle {
        /// The card.
        permit_id: Uuid,
        /// Its lot.
        lot_id: Uuid,
        /// The plate it leaves.
        from: Plate,
        /// The plate it moves to.
        to: Plate,
    },
    /// Bind the plate to the card, then register it as the card's second vehicle.
    AddSecondVehicle {
        /// The card.
        permit_id: Uuid,
        /// Its lot.
        lot_id: Uuid,
        /// The second vehicle.
        plate: Plate,
    },
    /// Remove the card's second vehicle, then free its plate.
    RemoveSecondVehicle {
        /// The card.
        permit_id: Uuid,
        /// Its lot.
        lot_id: Uuid,
        /// The second vehicle.
        plate: Plate,
    },
}

impl DeskAction {
    /// The journal's key: one unfinished action per card.
    fn key(&self) -> String {
        match self {
            DeskAction::IssuePermit { permit_id, .. } => format!("issue:{permit_id}"),
            DeskAction::ChangeVehicle { permit_id, to, .. } => {
                format!("vehicle:{permit_id}:{}", to.as_str())
            }
            DeskAction::AddSecondVehicle {
                permit_id, plate, ..
            } => format!("second:{permit_id}:{}", plate.as_str()),
            DeskAction::RemoveSecondVehicle {
                permit_id, plate, ..
            } => format!("second-off:{permit_id}:{}", plate.as_str()),
        }
    }

    /// The issue of `new`.
    pub fn issue(new: &NewPermit) -> Self {
        DeskAction::IssuePermit {
            permit_id: new.permit_id,
            lot_id: new.lot_id,
            plate: new.plate.clone(),
            holder_name: new.holder_name.clone(),
            phone: new.phone.clone(),
            validity: new.validity,
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs `action` under the journal: written before the first step, struck off once every step
/// is done or the first step was refused (nothing then happened). Any other failure leaves the
/// entry for [`recover`].
pub async fn run(
    ledger: &Ledger,
    db: &Db,
    action: &DeskAction,
    meta: &EventMetadata,
) -> Result<Option<i64>, AppError> {
    let key = action.key();
    sqlx::query(
        "INSERT INTO desk_journal (key, action, metadata, started_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&key)
    .bind(serde_json::to_string(action).expect("an action serialises"))
    .bind(serde_json::to_string(&meta.to_map()).expect("metadata serialises"))
    .bind(now())
    .execute(&db.write)
    .await?;
    let outcome = steps(ledger, action, meta).await;
    if matches!(outcome, Ok(_) | Err(Step::RefusedFirst(_))) {
        strike_off(db, &key).await?;
    }
    match outcome {
        Ok(position) => Ok(position),
        Err(Step::RefusedFirst(e) | Step::Failed(e)) => Err(e),
    }
}

async fn strike_off(db: &Db, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM desk_journal WHERE key = $1")
        .bind(key)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// How the steps went wrong.
enum Step {
    /// The first step was refused: nothing was done.
    RefusedFirst(AppError),
    /// A later step, or the store, failed: the action is half done.
    Failed(AppError),
}

fn binding_refused(e: &CommandError<BindingError>) -> bool {
    matches!(e, CommandError::Rejected(_))
}

/// The steps, each a no-op when already done; returns the position of the last event.
/// The first step of an action that binds a vehicle: claims `plate` at the lot for the card.
/// A refusal (another card holds it) means nothing was done; the action stops there.
async fn claim(
    ledger: &Ledger,
    lot_id: Uuid,
    plate: &Plate,
    permit_id: Uuid,
    meta: &EventMetadata,
) -> Result<(), Step> {
    let command = BindingCommand::Claim {
        lot_id,
        plate: plate.clone(),
        permit_id,
    };
    match ledger
        .execute::<VehicleBinding>(&binding_id(lot_id, plate), command, meta)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if binding_refused(&e) => Err(Step::RefusedFirst(e.into())),
        Err(e) => Err(Step::Failed(e.into())),
    }
}

async fn steps(
    ledger: &Ledger,
    action: &DeskAction,
    meta: &EventMetadata,
) -> Result<Option<i64>, Step> {
    match action {
        DeskAction::IssuePermit {
            permit_id,
            lot_id,
            plate,
            holder_name,
            phone,
            validity,
        } => {
            claim(ledger, *lot_id, plate, *permit_id, meta).await?;
            let issue = PermitCommand::Issue {
                lot_id: *lot_id,
                plate: plate.clone(),
                holder_name: holder_name.clone(),
                phone: phone.clone(),
                validity: *validity,
            };
            match ledger
                .execute::<Permit>(&permit_id.to_string(), issue, meta)
                .await
            {
                Ok(committed) => Ok(committed.position),
                // Issued by an earlier run of this very action.
                Err(CommandError::Rejected(PermitError::AlreadyIssued)) => Ok(None),
                Err(e) => Err(Step::Failed(e.into())),
            }
        }
        DeskAction::ChangeVehicle {
            permit_id,
            lot_id,
            from,
            to,
        } => {
            claim(ledger, *lot_id, to, *permit_id, meta).await?;
            let card = ledger
                .load::<Permit>(&permit_id.to_string())
                .await
                .map_err(|e| Step::Failed(e.into()))?;
            let on_new_plate = card.aggregate.card.as_ref().is_some_and(|c| &c.plate == to);
            let changed = if on_new_plate {
                None
            } else {
                ledger
                    .execute::<Permit>(
                        &permit_id.to_string(),
                        PermitCommand::ChangeVehicle { plate: to.clone() },
                        meta,
                    )
                    .await
                    .map_err(|e| Step::Failed(e.into()))?
                    .position
            };
            let released = match ledger
                .execute::<VehicleBinding>(
                    &binding_id(*lot_id, from),
                    BindingCommand::Release {
                        permit_id: *permit_id,
                    },
                    meta,
                )
                .await
            {
                Ok(committed) => committed.position,
                // Freed by an earlier run of this very action.
                Err(CommandError::Rejected(BindingError::NotBound)) => None,
                Err(e) => return Err(Step::Failed(e.into())),
            };
            Ok(changed.max(released))
        }
        DeskAction::AddSecondVehicle {
            permit_id,
            lot_id,
            plate,
        } => {
            claim(ledger, *lot_id, plate, *permit_id, meta).await?;
            let card = ledger
                .load::<Permit>(&permit_id.to_string())
                .await
                .map_err(|e| Step::Failed(e.into()))?;
            if card
                .aggregate
                .card
                .as_ref()
                .and_then(|c| c.second_plate.as_ref())
                == Some(plate)
            {
                return Ok(None);
            }
            let added = ledger
                .execute::<Permit>(
                    &permit_id.to_string(),
                    PermitCommand::AddSecondVehicle {
                        plate: plate.clone(),
                    },
                    meta,
                )
                .await
                .map_err(|e| Step::Failed(e.into()))?;
            Ok(added.position)
        }
        DeskAction::RemoveSecondVehicle {
            permit_id,
            lot_id,
            plate,
        } => {
            let card = ledger
                .load::<Permit>(&permit_id.to_string())
                .await
                .map_err(|e| Step::Failed(e.into()))?;
            let on_card = card
                .aggregate
                .card
                .as_ref()
                .and_then(|c| c.second_plate.as_ref())
                == Some(plate);
            let removed = if on_card {
                match ledger
                    .execute::<Permit>(
                        &permit_id.to_string(),
                        PermitCommand::RemoveSecondVehicle,
                        meta,
                    )
                    .await
                {
                    Ok(committed) => committed.position,
                    Err(CommandError::Rejected(e)) => {
                        return Err(Step::RefusedFirst(CommandError::Rejected(e).into()))
                    }
                    Err(e) => return Err(Step::Failed(e.into())),
                }
            } else {
                None
            };
            let released = match ledger
                .execute::<VehicleBinding>(
                    &binding_id(*lot_id, plate),
                    BindingCommand::Release {
                        permit_id: *permit_id,
                    },
                    meta,
                )
                .await
            {
                Ok(committed) => committed.position,
                Err(CommandError::Rejected(BindingError::NotBound)) => None,
                Err(e) => return Err(Step::Failed(e.into())),
            };
            Ok(removed.max(released))
        }
    }
}

/// Undoes what an action that can no longer be finished did: frees the plate it bound.
async fn undo(ledger: &Ledger, action: &DeskAction, meta: &EventMetadata) -> Result<(), AppError> {
    let (permit_id, lot_id, plate) = match action {
        DeskAction::IssuePermit {
            permit_id,
            lot_id,
            plate,
            ..
        } => (permit_id, lot_id, plate),
        DeskAction::ChangeVehicle {
            permit_id,
            lot_id,
            to,
            ..
        } => (permit_id, lot_id, to),
        DeskAction::AddSecondVehicle {
            permit_id,
            lot_id,
            plate,
        } => (permit_id, lot_id, plate),
        // Its first step frees nothing it bound; its last frees the plate.
        DeskAction::RemoveSecondVehicle { .. } => return Ok(()),
    };
    match ledger
        .execute::<VehicleBinding>(
            &binding_id(*lot_id, plate),
            BindingCommand::Release {
                permit_id: *permit_id,
            },
            meta,
        )
        .await
    {
        Ok(_) | Err(CommandError::Rejected(BindingError::NotBound)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Finishes (or, when the rules now refuse its next step, undoes) every journal entry started
/// more than `older_than` ago; returns how many were settled.
pub async fn recover(
    ledger: &Ledger,
    db: &Db,
    older_than: chrono::Duration,
) -> Result<usize, AppError> {
    let cutoff =
        (chrono::Utc::now() - older_than).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT key, action, metadata FROM desk_journal WHERE started_at <= $1 ORDER BY started_at",
    )
    .bind(cutoff)
    .fetch_all(&db.read)
    .await?;
    let mut settled = 0;
    for (key, action, metadata) in rows {
        let action: DeskAction = match serde_json::from_str(&action) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(%key, error = %e, "a desk journal entry cannot be read");
                continue;
            }
        };
        let meta = serde_json::from_str::<HashMap<String, String>>(&metadata)
            .ok()
            .and_then(|m| EventMetadata::from_map(&m).ok());
        let Some(meta) = meta else {
            tracing::error!(%key, "a desk journal entry's metadata cannot be read");
            continue;
        };
        match steps(ledger, &action, &meta).await {
            Ok(_) => tracing::warn!(%key, "an unfinished desk action was finished"),
            Err(Step::RefusedFirst(e)) => {
                tracing::warn!(%key, error = %e, "an unfinished desk action is refused now; nothing to undo")
            }
            Err(Step::Failed(e @ AppError::Refused { .. })) => {
                undo(ledger, &action, &meta).await?;
                tracing::warn!(%key, error = %e, "an unfinished desk action could not be finished; its binding was undone");
            }
            Err(Step::Failed(e)) => return Err(e),
        }
        strike_off(db, &key).await?;
        settled += 1;
    }
    Ok(settled)
}
