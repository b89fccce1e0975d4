//! The SMS notices process: approved, rejected and refunded renewals each yield one SMS to the
//! card holder, through the durable outbox.

use crate::outbox::{Outbox, SMS};
use crate::rows::Staged;
use crate::{decode_lot, decode_permit, texts, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::lot::LotEvent;
use aggregates::permit::PermitEvent;
use aggregates::values::Fen;
use serde_json::json;
use sqlx::AnyConnection;

/// The `sms_notices` projection: tables `sms_notices_lots` and `sms_notices_cards` (what it
/// needs to address and word a notice); its output goes to the outbox.
pub struct SmsNotices;

const TABLES: &[&str] = &[
    "sms_notices_lots",
    "sms_notices_cards",
    "sms_notices_amounts",
];

const SCHEMA: &[&str] = &[
    "CREATE TABLE {sms_notices_lots} (lot_id TEXT PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE {sms_notices_cards} (
        permit_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        phone TEXT NOT NULL
    )",
    "CREATE TABLE {sms_notices_amounts} (renewal_id TEXT PRIMARY KEY, amount_fen BIGINT NOT NULL)",
];

crate::view_row! {
    /// A lot's name, for the notices' text.
    struct LotRow in "sms_notices_lots" key (lot_id) {
        lot_id: String,
        name: String,
    }
}

crate::view_row! {
    /// Where a card's notices go.
    struct CardRow in "sms_notices_cards" key (permit_id) {
        permit_id: String,
        lot_id: String,
        plate: String,
        phone: String,
    }
}

crate::view_row! {
    /// A renewal's amount, for the refund notice.
    struct AmountRow in "sms_notices_amounts" key (renewal_id) {
        renewal_id: String,
        amount_fen: i64,
    }
}

/// The rows and the outbox one batch works on.
struct Batch {
    lots: Staged<LotRow>,
    cards: Staged<CardRow>,
    amounts: Staged<AmountRow>,
    outbox: Outbox,
}

struct Recipient<'a> {
    lot_id: &'a str,
    phone: &'a str,
    plate: &'a str,
    lot_name: &'a str,
}

/// Puts the card holder's notice into the outbox (none if the card or its lot is unknown).
fn notify(
    b: &mut Batch,
    event: &FeedEvent,
    notice: &str,
    text: impl FnOnce(&Recipient) -> (String, Vec<String>),
) -> Result<(), ProjectionError> {
    let Some(card) = b.cards.get(&vec![event.aggregate_id.clone()])? else {
        return Ok(());
    };
    let Some(lot) = b.lots.get(&vec![card.lot_id.clone()])? else {
        return Ok(());
    };
    let to = Recipient {
        lot_id: &card.lot_id,
        phone: &card.phone,
        plate: &card.plate,
        lot_name: &lot.name,
    };
    let (text, params) = text(&to);
    let payload = json!({
        "lot_id": to.lot_id,
        "phone": to.phone,
        "text": text,
        "notice": notice,
        "template": notice,
        "params": params,
    });
    b.outbox.push(SMS, event, &payload);
    Ok(())
}

/// Changes the card `permit_id`, if the view has it.
fn card(
    b: &mut Batch,
    permit_id: &str,
    change: impl FnOnce(&mut CardRow),
) -> Result<(), ProjectionError> {
    if let Some(card) = b.cards.get_mut(&vec![permit_id.to_string()])? {
        change(card);
    }
    Ok(())
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
        } => b.cards.put(CardRow {
            permit_id: permit_id.to_string(),
            lot_id: lot_id.to_string(),
            plate: plate.as_str().to_string(),
            phone: phone.as_str().to_string(),
        }),
        PermitEvent::HolderChanged { phone, .. } => {
            card(b, permit_id, |c| c.phone = phone.as_str().to_string())?
        }
        PermitEvent::VehicleBound { plate } => {
            card(b, permit_id, |c| c.plate = plate.as_str().to_string())?
        }
        PermitEvent::RenewalSubmitted {
            renewal_id, amount, ..
        } => b.amounts.put(AmountRow {
            renewal_id: renewal_id.to_string(),
            amount_fen: amount.get(),
        }),
        PermitEvent::Approved { period, .. } => notify(b, event, "approved", |to| {
            (
                texts::approved(to.lot_name, to.plate, period),
                texts::params::approved(to.plate, period),
            )
        })?,
        PermitEvent::Rejected { reason, .. } => notify(b, event, "rejected", |to| {
            (
                texts::rejected(to.lot_name, to.plate, &reason),
                texts::params::rejected(to.plate, &reason),
            )
        })?,
        PermitEvent::Refunded { renewal_id, .. } => {
            let amount = b
                .amounts
                .get(&vec![renewal_id.to_string()])?
                .map_or(0, |a| a.amount_fen);
            let amount = Fen(amount);
            notify(b, event, "refunded", |to| {
                (
                    texts::refunded(to.lot_name, to.plate, amount),
                    texts::params::refunded(to.plate, amount),
                )
            })?;
        }
        _ => {}
    }
    Ok(())
}

enum Decoded {
    LotRegistered(String),
    Permit(PermitEvent),
}

#[async_trait::async_trait]
impl Projection for SmsNotices {
    fn name(&self) -> &'static str {
        "sms_notices"
    }
    fn version(&self) -> i32 {
        1
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
            lots: Staged::new(t),
            cards: Staged::new(t),
            amounts: Staged::new(t),
            outbox: Outbox::new(),
        };
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            if let Some(LotEvent::LotRegistered { name, .. }) = decode_lot(event)? {
                decoded.push((event, Decoded::LotRegistered(name)));
                continue;
            }
            let Some(e) = decode_permit(event)? else {
                continue;
            };
            b.cards.want(vec![event.aggregate_id.clone()]);
            if let PermitEvent::PermitIssued { lot_id, .. } = &e {
                b.lots.want(vec![lot_id.to_string()]);
            }
            if let Some(renewal_id) = e.renewal_id() {
                b.amounts.want(vec![renewal_id.to_string()]);
            }
            decoded.push((event, Decoded::Permit(e)));
        }
        b.cards.load(tx).await?;
        b.amounts.load(tx).await?;
        // The lots of the cards already known (a new card's lot is wanted above).
        for event in events {
            if let Some(card) = b
                .cards
                .get(&vec![event.aggregate_id.clone()])
                .ok()
                .flatten()
            {
                let lot = vec![card.lot_id.clone()];
                b.lots.want(lot);
            }
        }
        b.lots.load(tx).await?;
        for (event, d) in decoded {
            match d {
                Decoded::LotRegistered(name) => b.lots.put(LotRow {
                    lot_id: event.aggregate_id.clone(),
                    name,
                }),
                Decoded::Permit(e) => fold(&mut b, event, e)?,
            }
        }
        b.lots.flush(tx).await?;
        b.cards.flush(tx).await?;
        b.amounts.flush(tx).await?;
        b.outbox.flush(tx).await?;
        Ok(())
    }
}
