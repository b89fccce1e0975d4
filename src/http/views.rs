//! The Permit and Renewal shapes of api.md, read from the projections.

use crate::error::AppError;
use crate::services::Services;
use aggregates::permit::CardStatus;
use aggregates::values::{MonthDay, Period, Phone, SeasonCalendar};
use chrono::NaiveDate;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

const CARD_COLUMNS: &str = "c.permit_id, c.lot_id, l.name AS lot_name, l.product_name, c.plate, \
     c.holder_name, c.phone, c.valid_from, c.valid_to, c.coverage, c.second_plate, \
     c.hidden, l.service_phone, l.period_months, l.season_starts";

const RENEWAL_COLUMNS: &str = "renewal_id, permit_id, period_from, period_to, amount_fen, \
     channel, status, reject_reason, submitted_at, paid_at, decided_at, refunded_at, order_id, \
     pay_by, consent_version, photo_sha256, photo_type, photo_size, refund_failure";

/// Who is looking: owners see masked phones; reviewers and auditors see them whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The card holder.
    Owner,
    /// Reviewers and auditors.
    Staff,
}

fn renewal_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    let text = |name: &str| row.try_get::<Option<String>, _>(name);
    // A renewal paid at the desk has no payment order and no photo.
    let order_id = Some(row.try_get::<String, _>("order_id")?).filter(|o| !o.is_empty());
    let photo_sha256: String = row.try_get("photo_sha256")?;
    let photo = if photo_sha256.is_empty() {
        Value::Null
    } else {
        json!({
            "sha256": photo_sha256,
            "content_type": row.try_get::<String, _>("photo_type")?,
            "size": row.try_get::<i64, _>("photo_size")?,
        })
    };
    Ok(json!({
        "renewal_id": row.try_get::<String, _>("renewal_id")?,
        "permit_id": row.try_get::<String, _>("permit_id")?,
        "period": {"from": row.try_get::<String, _>("period_from")?, "to": row.try_get::<String, _>("period_to")?},
        "amount_fen": row.try_get::<i64, _>("amount_fen")?,
        "channel": row.try_get::<String, _>("channel")?,
        "status": row.try_get::<String, _>("status")?,
        "reject_reason": text("reject_reason")?,
        "submitted_at": text("submitted_at")?,
        "paid_at": text("paid_at")?,
        "decided_at": text("decided_at")?,
        "refunded_at": text("refunded_at")?,
        "refund_failure": text("refund_failure")?,
        "order_id": order_id,
        "pay_by": row.try_get::<String, _>("pay_by")?,
        "consent_version": row.try_get::<String, _>("consent_version")?,
        "photo": photo,
    }))
}

fn card_json(row: &AnyRow, svc: &Services, audience: Audience) -> Result<Value, AppError> {
    let phone: String = row.try_get("phone")?;
    let coverage: Vec<Period> =
        serde_json::from_str(&row.try_get::<String, _>("coverage")?).unwrap_or_default();
    let status = CardStatus::of(&coverage, svc.clock.today());
    let masked = Phone::parse(&phone)
        .map(|p| p.masked())
        .unwrap_or_else(|_| "***".into());
    let mut card = json!({
        "permit_id": row.try_get::<String, _>("permit_id")?,
        "lot_id": row.try_get::<String, _>("lot_id")?,
        "lot_name": row.try_get::<String, _>("lot_name")?,
        "product_name": row.try_get::<String, _>("product_name")?,
        "plate": row.try_get::<String, _>("plate")?,
        "holder_name": row.try_get::<String, _>("holder_name")?,
        "phone_masked": masked,
        "valid_from": row.try_get::<String, _>("valid_from")?,
        "valid_to": row.try_get::<String, _>("valid_to")?,
        "status": status.as_str(),
        "second_plate": row.try_get::<Option<String>, _>("second_plate")?,
        "hidden": row.try_get::<i32, _>("hidden")? != 0,
        "service_phone": row.try_get::<Option<String>, _>("service_phone")?,
        "period_on_sale": on_sale(row, &coverage, svc.clock.today())?,
    });
    if audience == Audience::Staff {
        card["phone"] = json!(phone);
    }
    Ok(card)
}

/// The season a renewal submitted today would buy (the rule of `SubmitRenewal`), or null.
fn on_sale(row: &AnyRow, coverage: &[Period], today: NaiveDate) -> Result<Value, AppError> {
    let months = u32::try_from(row.try_get::<i64, _>("period_months")?).unwrap_or(0);
    let starts = row.try_get::<String, _>("season_starts")?;
    let calendar = starts
        .parse::<MonthDay>()
        .ok()
        .and_then(|s| SeasonCalendar::new(months, s).ok());
    Ok(match calendar.and_then(|c| c.on_sale(coverage, today)) {
        Some(p) => json!({"from": p.from.to_string(), "to": p.to.to_string()}),
        None => Value::Null,
    })
}

/// A renewal by id (with its permit id), if any.
pub async fn renewal(svc: &Services, renewal_id: &str) -> Result<Option<Value>, AppError> {
    let row = sqlx::query(&format!(
        "SELECT {RENEWAL_COLUMNS} FROM renewals WHERE renewal_id = $1"
    ))
    .bind(renewal_id)
    .fetch_optional(&svc.store.db.read)
    .await?;
    Ok(row.as_ref().map(renewal_json).transpose()?)
}

/// A card's renewals, oldest first.
pub async fn renewals_of(svc: &Services, permit_id: &str) -> Result<Vec<Value>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {RENEWAL_COLUMNS} FROM renewals WHERE permit_id = $1
          ORDER BY submitted_at, renewal_id"
    ))
    .bind(permit_id)
    .fetch_all(&svc.store.db.read)
    .await?;
    Ok(rows.iter().map(renewal_json).collect::<Result<_, _>>()?)
}

/// One card with its renewals.
pub async fn permit(
    svc: &Services,
    permit_id: &str,
    audience: Audience,
) -> Result<Option<Value>, AppError> {
    let row = sqlx::query(&format!(
        "SELECT {CARD_COLUMNS} FROM cards c JOIN lots l ON l.lot_id = c.lot_id
          WHERE c.permit_id = $1"
    ))
    .bind(permit_id)
    .fetch_optional(&svc.store.db.read)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut card = card_json(&row, svc, audience)?;
    card["renewals"] = Value::Array(renewals_of(svc, permit_id).await?);
    Ok(Some(card))
}

/// The owner of a card, for access checks: (lot_id, phone).
pub async fn card_owner(
    svc: &Services,
    permit_id: &str,
) -> Result<Option<(String, String)>, AppError> {
    Ok(
        sqlx::query_as("SELECT lot_id, phone FROM cards WHERE permit_id = $1")
            .bind(permit_id)
            .fetch_optional(&svc.store.db.read)
            .await?,
    )
}

/// Every card held under `phone` at `lot_id`, with renewals; those the owner hid only when
/// `include_hidden`.
pub async fn permits_of_owner(
    svc: &Services,
    lot_id: &str,
    phone: &str,
    include_hidden: bool,
) -> Result<Vec<Value>, AppError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT permit_id FROM cards WHERE lot_id = $1 AND phone = $2 AND hidden <= $3
          ORDER BY issued_at, permit_id",
    )
    .bind(lot_id)
    .bind(phone)
    .bind(i32::from(include_hidden))
    .fetch_all(&svc.store.db.read)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(p) = permit(svc, &id, Audience::Owner).await? {
            out.push(p);
        }
    }
    Ok(out)
}
