//! The reviewers' queue: paid renewals awaiting a decision, oldest paid first.

use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::permit::PermitEvent;
use sqlx::AnyConnection;

/// The `review_queue` projection: tables `review_queue` (the queue), `review_queue_cards` and
/// `review_queue_submitted` (what it needs to know about cards and submitted renewals).
pub struct ReviewQueue;

const TABLES: &[&str] = &[
    "review_queue",
    "review_queue_cards",
    "review_queue_submitted",
];

const SCHEMA: &[&str] = &[
    "CREATE TABLE {review_queue} (
        renewal_id TEXT PRIMARY KEY,
        permit_id TEXT NOT NULL,
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        phone TEXT NOT NULL,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        paid_at TEXT NOT NULL
    )",
    "CREATE INDEX {review_queue}_paid ON {review_queue} (paid_at, renewal_id)",
    "CREATE TABLE {review_queue_cards} (
        permit_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        phone TEXT NOT NULL
    )",
    "CREATE TABLE {review_queue_submitted} (
        renewal_id TEXT PRIMARY KEY,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        amount_fen BIGINT NOT NULL
    )",
];

#[async_trait::async_trait]
impl Projection for ReviewQueue {
    fn name(&self) -> &'static str {
        "review_queue"
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
        let (queue, cards, submitted) = (
            t.get("review_queue"),
            t.get("review_queue_cards"),
            t.get("review_queue_submitted"),
        );
        let permit_id = event.aggregate_id.as_str();
        match permit_event {
            PermitEvent::PermitIssued {
                lot_id,
                plate,
                holder_name,
                phone,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {cards} (permit_id, lot_id, plate, holder_name, phone)
                     VALUES ($1, $2, $3, $4, $5)"
                ))
                .bind(permit_id)
                .bind(lot_id.to_string())
                .bind(plate.as_str())
                .bind(holder_name)
                .bind(phone.as_str())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::HolderChanged { holder_name, phone } => {
                for table in [&cards, &queue] {
                    sqlx::query(&format!(
                        "UPDATE {table} SET holder_name = $1, phone = $2 WHERE permit_id = $3"
                    ))
                    .bind(&holder_name)
                    .bind(phone.as_str())
                    .bind(permit_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            PermitEvent::VehicleBound { plate } => {
                for table in [&cards, &queue] {
                    sqlx::query(&format!(
                        "UPDATE {table} SET plate = $1 WHERE permit_id = $2"
                    ))
                    .bind(plate.as_str())
                    .bind(permit_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            PermitEvent::RenewalSubmitted {
                renewal_id,
                period,
                amount,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {submitted} (renewal_id, period_from, period_to, amount_fen)
                     VALUES ($1, $2, $3, $4)"
                ))
                .bind(renewal_id.to_string())
                .bind(period.from.to_string())
                .bind(period.to.to_string())
                .bind(amount.get())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::Paid {
                renewal_id,
                paid_at,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {queue} (renewal_id, permit_id, lot_id, plate, holder_name,
                        phone, period_from, period_to, amount_fen, paid_at)
                     SELECT s.renewal_id, c.permit_id, c.lot_id, c.plate, c.holder_name,
                        c.phone, s.period_from, s.period_to, s.amount_fen, $1
                       FROM {submitted} s, {cards} c
                      WHERE s.renewal_id = $2 AND c.permit_id = $3"
                ))
                .bind(paid_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .bind(renewal_id.to_string())
                .bind(permit_id)
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::Approved { renewal_id, .. } | PermitEvent::Rejected { renewal_id, .. } => {
                for table in [&queue, &submitted] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE renewal_id = $1"))
                        .bind(renewal_id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            PermitEvent::RenewalExpiredUnpaid { renewal_id, .. }
            | PermitEvent::RenewalCancelled { renewal_id, .. } => {
                sqlx::query(&format!("DELETE FROM {submitted} WHERE renewal_id = $1"))
                    .bind(renewal_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
