//! The office's daily takings and refunds by lot (the worked example in docs/read-models.md).
//!
//! One row per lot and business day (Asia/Shanghai): money paid for renewals that day and money
//! paid back that day, in fen, with counts; and the same per channel (`wechat_pay`, or the
//! desk's `cash`, `card`, `transfer`).

use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::business_time::business_date;
use aggregates::permit::PermitEvent;
use sqlx::AnyConnection;

/// The `daily_takings` projection: table `daily_takings` (plus its lookups).
pub struct DailyTakings;

const TABLES: &[&str] = &[
    "daily_takings",
    "daily_takings_channels",
    "daily_takings_cards",
    "daily_takings_renewals",
];

/// The channel of renewals paid online.
const WECHAT_PAY: &str = "wechat_pay";

const SCHEMA: &[&str] = &[
    "CREATE TABLE {daily_takings} (
        lot_id TEXT NOT NULL,
        day TEXT NOT NULL,
        paid_fen BIGINT NOT NULL,
        paid_count BIGINT NOT NULL,
        refunded_fen BIGINT NOT NULL,
        refunded_count BIGINT NOT NULL,
        PRIMARY KEY (lot_id, day)
    )",
    "CREATE TABLE {daily_takings_channels} (
        lot_id TEXT NOT NULL,
        day TEXT NOT NULL,
        channel TEXT NOT NULL,
        paid_fen BIGINT NOT NULL,
        paid_count BIGINT NOT NULL,
        refunded_fen BIGINT NOT NULL,
        refunded_count BIGINT NOT NULL,
        PRIMARY KEY (lot_id, day, channel)
    )",
    "CREATE TABLE {daily_takings_cards} (permit_id TEXT PRIMARY KEY, lot_id TEXT NOT NULL)",
    "CREATE TABLE {daily_takings_renewals} (
        renewal_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        channel TEXT NOT NULL
    )",
];

/// Adds a renewal's amount to its lot's day (and to its channel's), as paid or as refunded.
async fn add(
    tx: &mut AnyConnection,
    t: &Tables,
    renewal_id: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
    paid: bool,
) -> Result<(), sqlx::Error> {
    let renewals = t.get("daily_takings_renewals");
    let (paid_fen, paid_n, refunded_fen, refunded_n) = if paid {
        ("r.amount_fen", 1, "0", 0)
    } else {
        ("0", 0, "r.amount_fen", 1)
    };
    for (takings, key, channel) in [
        (t.get("daily_takings"), "lot_id, day", ""),
        (
            t.get("daily_takings_channels"),
            "lot_id, day, channel",
            ", r.channel",
        ),
    ] {
        sqlx::query(&format!(
            "INSERT INTO {takings} ({key}, paid_fen, paid_count, refunded_fen, refunded_count)
             SELECT r.lot_id, $1{channel}, {paid_fen}, {paid_n}, {refunded_fen}, {refunded_n}
               FROM {renewals} r WHERE r.renewal_id = $2
             ON CONFLICT ({key}) DO UPDATE SET
               paid_fen = {takings}.paid_fen + excluded.paid_fen,
               paid_count = {takings}.paid_count + excluded.paid_count,
               refunded_fen = {takings}.refunded_fen + excluded.refunded_fen,
               refunded_count = {takings}.refunded_count + excluded.refunded_count"
        ))
        .bind(business_date(at).to_string())
        .bind(renewal_id.to_string())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Remembers a renewal's lot, amount and channel.
async fn remember(
    tx: &mut AnyConnection,
    t: &Tables,
    permit_id: &str,
    renewal_id: uuid::Uuid,
    amount: i64,
    channel: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {} (renewal_id, lot_id, amount_fen, channel)
         SELECT $1, lot_id, $2, $3 FROM {} WHERE permit_id = $4",
        t.get("daily_takings_renewals"),
        t.get("daily_takings_cards")
    ))
    .bind(renewal_id.to_string())
    .bind(amount)
    .bind(channel)
    .bind(permit_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Projection for DailyTakings {
    fn name(&self) -> &'static str {
        "daily_takings"
    }
    fn version(&self) -> i32 {
        2
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
        match decode_permit(event)? {
            Some(PermitEvent::PermitIssued { lot_id, .. }) => {
                sqlx::query(&format!(
                    "INSERT INTO {} (permit_id, lot_id) VALUES ($1, $2)",
                    t.get("daily_takings_cards")
                ))
                .bind(&event.aggregate_id)
                .bind(lot_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            Some(PermitEvent::RenewalSubmitted {
                renewal_id, amount, ..
            }) => {
                remember(
                    tx,
                    t,
                    &event.aggregate_id,
                    renewal_id,
                    amount.get(),
                    WECHAT_PAY,
                )
                .await?
            }
            Some(PermitEvent::DeskRenewalPaid {
                renewal_id,
                amount,
                method,
                paid_at,
                ..
            }) => {
                remember(
                    tx,
                    t,
                    &event.aggregate_id,
                    renewal_id,
                    amount.get(),
                    method.as_str(),
                )
                .await?;
                add(tx, t, renewal_id, paid_at, true).await?;
            }
            Some(PermitEvent::Paid {
                renewal_id,
                paid_at,
                ..
            }) => add(tx, t, renewal_id, paid_at, true).await?,
            Some(PermitEvent::Refunded {
                renewal_id,
                refunded_at,
                ..
            }) => add(tx, t, renewal_id, refunded_at, false).await?,
            _ => {}
        }
        Ok(())
    }
}
