//! Which card a plate has at a lot, and under which phone: how an owner's typed plate finds
//! their card (manual step 2: "京A66666 在此车场已办理长租").

use crate::rows::Staged;
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

crate::view_row! {
    /// A plate a card has at a lot, under the card's phone.
    struct IndexRow in "plate_index" key (lot_id, plate, permit_id) {
        lot_id: String,
        plate: String,
        permit_id: String,
        phone: String,
    }
}

crate::view_row! {
    /// A card's lot and phone.
    struct CardRow in "plate_index_cards" key (permit_id) {
        permit_id: String,
        lot_id: String,
        phone: String,
    }
}

/// The rows one batch works on.
struct Batch {
    index: Staged<IndexRow>,
    cards: Staged<CardRow>,
}

fn fold(
    b: &mut Batch,
    event: &FeedEvent,
    permit_event: PermitEvent,
) -> Result<(), ProjectionError> {
    let permit_id = event.aggregate_id.as_str();
    match permit_event {
        PermitEvent::PermitIssued {
            lot_id,
            plate,
            phone,
            ..
        } => {
            b.cards.put(CardRow {
                permit_id: permit_id.to_string(),
                lot_id: lot_id.to_string(),
                phone: phone.as_str().to_string(),
            });
            b.index.put(IndexRow {
                lot_id: lot_id.to_string(),
                plate: plate.as_str().to_string(),
                permit_id: permit_id.to_string(),
                phone: phone.as_str().to_string(),
            });
        }
        PermitEvent::HolderChanged { phone, .. } => {
            if let Some(card) = b.cards.get_mut(&vec![permit_id.to_string()])? {
                card.phone = phone.as_str().to_string();
            }
            for key in b.index.matching(|r| r.permit_id == permit_id) {
                if let Some(row) = b.index.get_mut(&key)? {
                    row.phone = phone.as_str().to_string();
                }
            }
        }
        PermitEvent::VehicleUnbound { plate } => {
            for key in b
                .index
                .matching(|r| r.permit_id == permit_id && r.plate == plate.as_str())
            {
                b.index.remove(&key)?;
            }
        }
        PermitEvent::VehicleBound { plate } => {
            if let Some(card) = b.cards.get(&vec![permit_id.to_string()])? {
                let row = IndexRow {
                    lot_id: card.lot_id.clone(),
                    plate: plate.as_str().to_string(),
                    permit_id: permit_id.to_string(),
                    phone: card.phone.clone(),
                };
                b.index.put(row);
            }
        }
        _ => {}
    }
    Ok(())
}

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
        self.apply_batch(tx, t, std::slice::from_ref(event)).await
    }
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        t: &Tables,
        events: &[FeedEvent],
    ) -> Result<(), ProjectionError> {
        let mut b = Batch {
            index: Staged::new(t),
            cards: Staged::new(t),
        };
        let mut decoded = Vec::with_capacity(events.len());
        // Cards whose indexed plates may change or go.
        let mut changed_cards = Vec::new();
        for event in events {
            let Some(e) = decode_permit(event)? else {
                continue;
            };
            match &e {
                PermitEvent::HolderChanged { .. } | PermitEvent::VehicleUnbound { .. } => {
                    changed_cards.push(event.aggregate_id.clone());
                    b.cards.want(vec![event.aggregate_id.clone()]);
                }
                PermitEvent::VehicleBound { .. } => b.cards.want(vec![event.aggregate_id.clone()]),
                _ => {}
            }
            decoded.push((event, e));
        }
        b.cards.load(tx).await?;
        b.index.load_by(tx, "permit_id", &changed_cards).await?;
        for (event, e) in decoded {
            fold(&mut b, event, e)?;
        }
        b.index.flush(tx).await?;
        b.cards.flush(tx).await?;
        Ok(())
    }
}
