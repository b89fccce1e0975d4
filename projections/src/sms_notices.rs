//! The SMS notices process: approved, rejected and refunded renewals each yield one SMS to the
//! card holder, through the durable outbox.

use crate::outbox::{self, SMS};
use crate::{decode_lot, decode_permit, texts, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::lot::LotEvent;
use aggregates::permit::PermitEvent;
use aggregates::values::Fen;
use serde_json::json;
use sqlx::{AnyConnection, Row};

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

struct Recipient {
    lot_id: String,
    phone: String,
    plate: String,
    lot_name: String,
}

async fn recipient(
    tx: &mut AnyConnection,
    t: &Tables,
    permit_id: &str,
) -> Result<Option<Recipient>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT c.lot_id, c.phone, c.plate, l.name FROM {} c JOIN {} l ON l.lot_id = c.lot_id
          WHERE c.permit_id = $1",
        t.get("sms_notices_cards"),
        t.get("sms_notices_lots")
    ))
    .bind(permit_id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| {
        Ok(Recipient {
            lot_id: r.try_get(0)?,
            phone: r.try_get(1)?,
            plate: r.try_get(2)?,
            lot_name: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Enqueues a notice: the outbox payload carries the lot (whose daily SMS budget it counts
/// against), the phone, the rendered `text` (the sandbox
/// shows it), and the `template` name with its `params` in the contract's order (real
/// gateways send those). `notice` repeats the template name, as payloads before templates did.
async fn notify(
    tx: &mut AnyConnection,
    t: &Tables,
    event: &FeedEvent,
    notice: &str,
    text: impl FnOnce(&Recipient) -> (String, Vec<String>),
) -> Result<(), ProjectionError> {
    if let Some(to) = recipient(tx, t, &event.aggregate_id).await? {
        let (text, params) = text(&to);
        let payload = json!({
            "lot_id": to.lot_id,
            "phone": to.phone,
            "text": text,
            "notice": notice,
            "template": notice,
            "params": params,
        });
        outbox::enqueue(tx, SMS, event, &payload).await?;
    }
    Ok(())
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
        if let Some(LotEvent::LotRegistered { name, .. }) = decode_lot(event)? {
            sqlx::query(&format!(
                "INSERT INTO {} (lot_id, name) VALUES ($1, $2)",
                t.get("sms_notices_lots")
            ))
            .bind(&event.aggregate_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            return Ok(());
        }
        let Some(permit_event) = decode_permit(event)? else {
            return Ok(());
        };
        let cards = t.get("sms_notices_cards");
        let amounts = t.get("sms_notices_amounts");
        let permit_id = event.aggregate_id.as_str();
        match permit_event {
            PermitEvent::PermitIssued {
                lot_id,
                plate,
                phone,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {cards} (permit_id, lot_id, plate, phone) VALUES ($1, $2, $3, $4)"
                ))
                .bind(permit_id)
                .bind(lot_id.to_string())
                .bind(plate.as_str())
                .bind(phone.as_str())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::HolderChanged { phone, .. } => {
                sqlx::query(&format!(
                    "UPDATE {cards} SET phone = $1 WHERE permit_id = $2"
                ))
                .bind(phone.as_str())
                .bind(permit_id)
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::VehicleBound { plate } => {
                sqlx::query(&format!(
                    "UPDATE {cards} SET plate = $1 WHERE permit_id = $2"
                ))
                .bind(plate.as_str())
                .bind(permit_id)
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::RenewalSubmitted {
                renewal_id, amount, ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {amounts} (renewal_id, amount_fen) VALUES ($1, $2)"
                ))
                .bind(renewal_id.to_string())
                .bind(amount.get())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::Approved { period, .. } => {
                notify(tx, t, event, "approved", |to| {
                    (
                        texts::approved(&to.lot_name, &to.plate, period),
                        texts::params::approved(&to.plate, period),
                    )
                })
                .await?;
            }
            PermitEvent::Rejected { reason, .. } => {
                notify(tx, t, event, "rejected", |to| {
                    (
                        texts::rejected(&to.lot_name, &to.plate, &reason),
                        texts::params::rejected(&to.plate, &reason),
                    )
                })
                .await?;
            }
            PermitEvent::Refunded { renewal_id, .. } => {
                let amount: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT amount_fen FROM {amounts} WHERE renewal_id = $1"
                ))
                .bind(renewal_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
                let amount = Fen(amount.unwrap_or_default());
                notify(tx, t, event, "refunded", |to| {
                    (
                        texts::refunded(&to.lot_name, &to.plate, amount),
                        texts::params::refunded(&to.plate, amount),
                    )
                })
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
