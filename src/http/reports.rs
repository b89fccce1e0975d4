//! The office's reports, read from their projections (admin role).
//!
//! `GET /api/v1/admin/reports/daily-takings?lot_id=&from=&to=[&after_position=]`: money paid
//! for renewals and paid back, per business day (Asia/Shanghai) at one lot, from the
//! `daily_takings` projection (the worked example of docs/read-models.md).

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::AppQuery;
use super::AppState;
use crate::error::AppError;
use aggregates::lot::Lot;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/admin/reports/daily-takings", get(daily_takings))
}

#[derive(Deserialize)]
struct TakingsQuery {
    lot_id: String,
    from: String,
    to: String,
    after_position: Option<i64>,
}

/// A `YYYY-MM-DD` query parameter; 400 `invalid_date` otherwise.
pub(super) fn date(text: &str, field: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| AppError::invalid("invalid_date", format!("{field} must be YYYY-MM-DD")))
}

/// One business day's figures: day, paid fen, paid count, refunded fen, refunded count.
type DayRow = (String, i64, i64, i64, i64);

/// Paid, paid count, refunded, refunded count and net, as the report shows them.
fn figures(paid_fen: i64, paid_count: i64, refunded_fen: i64, refunded_count: i64) -> Value {
    json!({
        "paid_fen": paid_fen,
        "paid_count": paid_count,
        "refunded_fen": refunded_fen,
        "refunded_count": refunded_count,
        "net_fen": paid_fen - refunded_fen,
    })
}

async fn daily_takings(
    State(svc): State<AppState>,
    _admin: Admin,
    AppQuery(q): AppQuery<TakingsQuery>,
) -> ApiResult<Json<Value>> {
    let lot_id: Uuid = q
        .lot_id
        .parse()
        .map_err(|_| AppError::invalid("invalid_input", "lot_id must be a UUID"))?;
    let (from, to) = (date(&q.from, "from")?, date(&q.to, "to")?);
    if from > to {
        return Err(AppError::invalid("invalid_date", "from must not be after to").into());
    }
    // The lot is checked on the event log, not on another projection, so the report depends
    // on no read model but its own.
    svc.ledger
        .load::<Lot>(&lot_id.to_string())
        .await
        .map_err(AppError::from)?
        .aggregate
        .registered
        .ok_or_else(|| AppError::not_found("no_lot", "no such lot"))?;
    super::wait(&svc, "daily_takings", q.after_position).await?;
    // Days are `YYYY-MM-DD` text, so comparing them as text compares them as dates. One
    // statement: the totals below are summed from exactly the rows shown.
    let rows: Vec<DayRow> = sqlx::query_as(
        "SELECT day, paid_fen, paid_count, refunded_fen, refunded_count
           FROM daily_takings
          WHERE lot_id = $1 AND day >= $2 AND day <= $3
          ORDER BY day",
    )
    .bind(lot_id.to_string())
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(&svc.store.db.read)
    .await
    .map_err(AppError::from)?;
    let mut totals = (0i64, 0i64, 0i64, 0i64);
    let mut days = Vec::with_capacity(rows.len());
    for (day, paid_fen, paid_count, refunded_fen, refunded_count) in rows {
        totals.0 += paid_fen;
        totals.1 += paid_count;
        totals.2 += refunded_fen;
        totals.3 += refunded_count;
        let mut entry = figures(paid_fen, paid_count, refunded_fen, refunded_count);
        entry["day"] = json!(day);
        days.push(entry);
    }
    Ok(Json(json!({
        "lot_id": lot_id,
        "from": from.to_string(),
        "to": to.to_string(),
        "days": days,
        "totals": figures(totals.0, totals.1, totals.2, totals.3),
    })))
}
