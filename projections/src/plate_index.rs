//! Which card a plate has at a lot, and under which phone: how an owner's typed plate finds
//! their card (manual step 2: "京A66666 在此车场已办理长租").

use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::permit::PermitEvent;
use sqlx::AnyConnection;

/// The `plate_index` projection: table `plate_index` (plus `plate_index_cards`).
pub struct PlateIndex;

const TABLES: &[&str] = &["plate_index", "plate_index_cards"];

const SCHEMA: &[&str] = &[
    "CREATE TABLE {plate_index} (
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        permit_id TEXT NOT NULL,
        phone TEXT NOT NULL,
        PRIMARY KEY (lot_id, plate, permit_id)
    )",
    "CREATE TABLE {plate_index_cards} (
        permit_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        phone TEXT NOT NULL
    )",
];

#[async_trait::async_trait]
impl Projection for PlateIndex {
    fn name(&self) -> &'static str {
        "plate_index"
    }
    fn version(&self) -> i32 {
        1
    }
    fn on_poison(&self) -> crate::PoisonPolicy {
        // A view that only shows: an event it cannot apply is parked, the rest goes on.
        crate::PoisonPolicy::Park
    }
    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }
    fn schema(&self) -> &'static [&'static str] {
        SCHEMA
    }
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        t: &Tables,
        event: &FeedEvent,
    ) -> Result<(), ProjectionError> {
        let Some(permit_event) = decode_permit(event)? else {
            return Ok(());
        };
        let (index, cards) = (t.get("plate_index"), t.get("plate_index_cards"));
        let permit_id = event.aggregate_id.as_str();
        match permit_event {
            PermitEvent::PermitIssued {
                lot_id,
                plate,
                phone,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {cards} (permit_id, lot_id, phone) VALUES ($1, $2, $3)"
                ))
                .bind(permit_id)
                .bind(lot_id.to_string())
                .bind(phone.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query(&format!(
                    "INSERT INTO {index} (lot_id, plate, permit_id, phone) VALUES ($1, $2, $3, $4)"
                ))
                .bind(lot_id.to_string())
                .bind(plate.as_str())
                .bind(permit_id)
                .bind(phone.as_str())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::HolderChanged { phone, .. } => {
                for table in [&cards, &index] {
                    sqlx::query(&format!(
                        "UPDATE {table} SET phone = $1 WHERE permit_id = $2"
                    ))
                    .bind(phone.as_str())
                    .bind(permit_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            PermitEvent::VehicleUnbound { plate } => {
                sqlx::query(&format!(
                    "DELETE FROM {index} WHERE permit_id = $1 AND plate = $2"
                ))
                .bind(permit_id)
                .bind(plate.as_str())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::VehicleBound { plate } => {
                sqlx::query(&format!(
                    "INSERT INTO {index} (lot_id, plate, permit_id, phone)
                     SELECT lot_id, $1, permit_id, phone FROM {cards} WHERE permit_id = $2"
                ))
                .bind(plate.as_str())
                .bind(permit_id)
                .execute(&mut *tx)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
