//! Owners' cards and orders (and the lots they belong to): what the owner's page and the
//! reviewer's detail show.

use crate::{decode_lot, decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::lot::LotEvent;
use aggregates::permit::PermitEvent;
use aggregates::values::Period;
use sqlx::AnyConnection;

/// The `cards` projection: tables `lots`, `cards`, `renewals`.
pub struct Cards;

const TABLES: &[&str] = &["lots", "cards", "renewals"];

const SCHEMA: &[&str] = &[
    "CREATE TABLE {lots} (
        lot_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        product_name TEXT NOT NULL,
        price_fen BIGINT NOT NULL,
        period_months INTEGER NOT NULL,
        season_starts TEXT NOT NULL,
        consent_version TEXT NOT NULL,
        consent_text TEXT NOT NULL,
        service_phone TEXT
    )",
    "CREATE TABLE {cards} (
        permit_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        phone TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        coverage TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        second_plate TEXT,
        hidden INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX {cards}_owner ON {cards} (lot_id, phone)",
    "CREATE INDEX {cards}_plate ON {cards} (lot_id, plate)",
    "CREATE TABLE {renewals} (
        renewal_id TEXT PRIMARY KEY,
        permit_id TEXT NOT NULL,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        reject_reason TEXT,
        consent_version TEXT NOT NULL,
        photo_sha256 TEXT NOT NULL,
        photo_type TEXT NOT NULL,
        photo_size BIGINT NOT NULL,
        order_id TEXT NOT NULL,
        transaction_id TEXT,
        out_refund_no TEXT,
        refund_failure TEXT,
        submitted_at TEXT NOT NULL,
        pay_by TEXT NOT NULL,
        paid_at TEXT,
        decided_at TEXT,
        refunded_at TEXT
    )",
    "CREATE INDEX {renewals}_permit ON {renewals} (permit_id, submitted_at)",
    "CREATE INDEX {renewals}_order ON {renewals} (order_id)",
    "CREATE INDEX {renewals}_status ON {renewals} (status, pay_by)",
];

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn set_status(
    tx: &mut AnyConnection,
    t: &Tables,
    renewal_id: uuid::Uuid,
    status: &str,
    column: Option<(&str, String)>,
) -> Result<(), sqlx::Error> {
    let renewals = t.get("renewals");
    match column {
        Some((name, value)) => {
            sqlx::query(&format!(
                "UPDATE {renewals} SET status = $1, {name} = $2 WHERE renewal_id = $3"
            ))
            .bind(status)
            .bind(value)
            .bind(renewal_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query(&format!(
                "UPDATE {renewals} SET status = $1 WHERE renewal_id = $2"
            ))
            .bind(status)
            .bind(renewal_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

async fn extend_coverage(
    tx: &mut AnyConnection,
    t: &Tables,
    permit_id: &str,
    period: Period,
) -> Result<(), ProjectionError> {
    let cards = t.get("cards");
    let coverage: Option<String> = sqlx::query_scalar(&format!(
        "SELECT coverage FROM {cards} WHERE permit_id = $1"
    ))
    .bind(permit_id)
    .fetch_optional(&mut *tx)
    .await?;
    let mut periods: Vec<Period> = coverage
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    periods.push(period);
    let latest = periods
        .iter()
        .max_by_key(|p| p.to)
        .copied()
        .unwrap_or(period);
    sqlx::query(&format!(
        "UPDATE {cards} SET coverage = $1, valid_from = $2, valid_to = $3 WHERE permit_id = $4"
    ))
    .bind(serde_json::to_string(&periods).unwrap_or_else(|_| "[]".into()))
    .bind(latest.from.to_string())
    .bind(latest.to.to_string())
    .bind(permit_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn apply_lot(
    tx: &mut AnyConnection,
    t: &Tables,
    lot_id: &str,
    event: LotEvent,
) -> Result<(), ProjectionError> {
    let lots = t.get("lots");
    match event {
        LotEvent::LotRegistered {
            name,
            product,
            consent,
        } => {
            sqlx::query(&format!(
                "INSERT INTO {lots} (lot_id, name, product_name, price_fen, period_months,
                    season_starts, consent_version, consent_text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(lot_id)
            .bind(name)
            .bind(product.name)
            .bind(product.price.get())
            .bind(product.calendar.period_months as i32)
            .bind(product.calendar.season_starts.to_string())
            .bind(consent.version)
            .bind(consent.text)
            .execute(&mut *tx)
            .await?;
        }
        LotEvent::ConsentPublished { consent } => {
            sqlx::query(&format!(
                "UPDATE {lots} SET consent_version = $1, consent_text = $2 WHERE lot_id = $3"
            ))
            .bind(consent.version)
            .bind(consent.text)
            .bind(lot_id)
            .execute(&mut *tx)
            .await?;
        }
        LotEvent::ServicePhoneSet { service_phone } => {
            sqlx::query(&format!(
                "UPDATE {lots} SET service_phone = $1 WHERE lot_id = $2"
            ))
            .bind(service_phone)
            .bind(lot_id)
            .execute(&mut *tx)
            .await?;
        }
        LotEvent::RestrictionsSet { .. } => {}
    }
    Ok(())
}

async fn apply_permit(
    tx: &mut AnyConnection,
    t: &Tables,
    event: &FeedEvent,
    permit_event: PermitEvent,
) -> Result<(), ProjectionError> {
    let cards = t.get("cards");
    let renewals = t.get("renewals");
    let permit_id = event.aggregate_id.as_str();
    match permit_event {
        PermitEvent::PermitIssued {
            lot_id,
            plate,
            holder_name,
            phone,
            validity,
        } => {
            sqlx::query(&format!(
                "INSERT INTO {cards} (permit_id, lot_id, plate, holder_name, phone, valid_from,
                    valid_to, coverage, issued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(permit_id)
            .bind(lot_id.to_string())
            .bind(plate.as_str())
            .bind(holder_name)
            .bind(phone.as_str())
            .bind(validity.from.to_string())
            .bind(validity.to.to_string())
            .bind(serde_json::to_string(&[validity]).unwrap_or_else(|_| "[]".into()))
            .bind(rfc3339(event.recorded_at))
            .execute(&mut *tx)
            .await?;
        }
        PermitEvent::HolderChanged { holder_name, phone } => {
            sqlx::query(&format!(
                "UPDATE {cards} SET holder_name = $1, phone = $2 WHERE permit_id = $3"
            ))
            .bind(holder_name)
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
        PermitEvent::SecondVehicleAdded { plate } => {
            sqlx::query(&format!(
                "UPDATE {cards} SET second_plate = $1 WHERE permit_id = $2"
            ))
            .bind(plate.as_str())
            .bind(permit_id)
            .execute(&mut *tx)
            .await?;
        }
        PermitEvent::SecondVehicleRemoved { .. } => {
            sqlx::query(&format!(
                "UPDATE {cards} SET second_plate = NULL WHERE permit_id = $1"
            ))
            .bind(permit_id)
            .execute(&mut *tx)
            .await?;
        }
        PermitEvent::CardHidden {} | PermitEvent::CardShown {} => {
            let hidden = i32::from(matches!(permit_event, PermitEvent::CardHidden {}));
            sqlx::query(&format!(
                "UPDATE {cards} SET hidden = $1 WHERE permit_id = $2"
            ))
            .bind(hidden)
            .bind(permit_id)
            .execute(&mut *tx)
            .await?;
        }
        PermitEvent::VehicleUnbound { .. } | PermitEvent::VehicleChosen { .. } => {}
        PermitEvent::RenewalSubmitted {
            renewal_id,
            period,
            amount,
            consent_version,
            photo,
            order_id,
            submitted_at,
            pay_by,
        } => {
            sqlx::query(&format!(
                "INSERT INTO {renewals} (renewal_id, permit_id, period_from, period_to,
                    amount_fen, channel, status, consent_version, photo_sha256, photo_type,
                    photo_size, order_id, submitted_at, pay_by)
                 VALUES ($1, $2, $3, $4, $5, 'wechat_pay', 'awaiting_payment', $6, $7, $8, $9,
                    $10, $11, $12)"
            ))
            .bind(renewal_id.to_string())
            .bind(permit_id)
            .bind(period.from.to_string())
            .bind(period.to.to_string())
            .bind(amount.get())
            .bind(consent_version)
            .bind(photo.sha256)
            .bind(photo.content_type)
            .bind(photo.size as i64)
            .bind(order_id)
            .bind(rfc3339(submitted_at))
            .bind(rfc3339(pay_by))
            .execute(&mut *tx)
            .await?;
        }
        // A renewal paid at the desk has no order, photo or consent; its channel is the
        // desk's method. `Approved` follows.
        PermitEvent::DeskRenewalPaid {
            renewal_id,
            period,
            amount,
            method,
            paid_at,
            ..
        } => {
            sqlx::query(&format!(
                "INSERT INTO {renewals} (renewal_id, permit_id, period_from, period_to,
                    amount_fen, channel, status, consent_version, photo_sha256, photo_type,
                    photo_size, order_id, submitted_at, pay_by, paid_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'under_review', '', '', '', 0, '', $7, $7, $7)"
            ))
            .bind(renewal_id.to_string())
            .bind(permit_id)
            .bind(period.from.to_string())
            .bind(period.to.to_string())
            .bind(amount.get())
            .bind(method.as_str())
            .bind(rfc3339(paid_at))
            .execute(&mut *tx)
            .await?;
        }
        PermitEvent::Paid {
            renewal_id,
            transaction_id,
            paid_at,
            ..
        } => {
            sqlx::query(&format!(
                "UPDATE {renewals} SET status = 'under_review', paid_at = $1,
                    transaction_id = $2 WHERE renewal_id = $3"
            ))
            .bind(rfc3339(paid_at))
            .bind(transaction_id)
            .bind(renewal_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        PermitEvent::Approved {
            renewal_id,
            period,
            decided_at,
            ..
        } => {
            set_status(
                tx,
                t,
                renewal_id,
                "approved",
                Some(("decided_at", rfc3339(decided_at))),
            )
            .await?;
            extend_coverage(tx, t, permit_id, period).await?;
        }
        PermitEvent::Rejected {
            renewal_id,
            reason,
            decided_at,
            ..
        } => {
            sqlx::query(&format!(
                "UPDATE {renewals} SET status = 'rejected', reject_reason = $1, decided_at = $2
                 WHERE renewal_id = $3"
            ))
            .bind(reason)
            .bind(rfc3339(decided_at))
            .bind(renewal_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        PermitEvent::RefundRequested {
            renewal_id,
            out_refund_no,
            ..
        } => {
            set_status(
                tx,
                t,
                renewal_id,
                "refund_requested",
                Some(("out_refund_no", out_refund_no)),
            )
            .await?;
        }
        PermitEvent::Refunded {
            renewal_id,
            refunded_at,
            ..
        } => {
            set_status(
                tx,
                t,
                renewal_id,
                "refunded",
                Some(("refunded_at", rfc3339(refunded_at))),
            )
            .await?;
        }
        PermitEvent::RefundFailed {
            renewal_id,
            failure,
            ..
        } => {
            let failure = serde_json::to_value(failure)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            set_status(
                tx,
                t,
                renewal_id,
                "refund_failed",
                Some(("refund_failure", failure)),
            )
            .await?;
        }
        PermitEvent::RenewalExpiredUnpaid { renewal_id, .. } => {
            set_status(tx, t, renewal_id, "expired_unpaid", None).await?;
        }
        PermitEvent::RenewalCancelled { renewal_id, .. } => {
            set_status(tx, t, renewal_id, "cancelled", None).await?;
        }
        // A stray payment does not change the renewal the owner sees; its refund is the
        // payment process's work (`payment_dispatch`), its record the audit trail's.
        PermitEvent::StrayPaymentReceived { .. }
        | PermitEvent::StrayPaymentRefunded { .. }
        | PermitEvent::StrayRefundFailed { .. } => {}
        // Staff closed the renewal's refund problem: the owner has the money back.
        PermitEvent::PaymentProblemResolved {
            renewal_id,
            stray: false,
            at,
            ..
        } => {
            set_status(
                tx,
                t,
                renewal_id,
                "refunded",
                Some(("refunded_at", rfc3339(at))),
            )
            .await?;
        }
        // A problem and its retry leave the renewal `refund_failed` until the outcome.
        PermitEvent::PaymentProblemRaised { .. }
        | PermitEvent::PaymentProblemRetried { .. }
        | PermitEvent::PaymentProblemResolved { .. } => {}
    }
    Ok(())
}

#[async_trait::async_trait]
impl Projection for Cards {
    fn name(&self) -> &'static str {
        "cards"
    }
    fn version(&self) -> i32 {
        // 2: the lot's service phone, the card's second vehicle, hidden cards.
        2
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
        tables: &Tables,
        event: &FeedEvent,
    ) -> Result<(), ProjectionError> {
        if let Some(lot_event) = decode_lot(event)? {
            return apply_lot(tx, tables, &event.aggregate_id, lot_event).await;
        }
        if let Some(permit_event) = decode_permit(event)? {
            return apply_permit(tx, tables, event, permit_event).await;
        }
        Ok(())
    }
}
