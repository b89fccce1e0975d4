//! The office's reports, read from their projections (admin role).
//!
//! `GET /api/v1/admin/reports/daily-takings?lot_id=&from=&to=[&after_position=]`: money paid
//! for renewals and paid back, per business day (Asia/Shanghai) at one lot, from the
//! `daily_takings` projection (the worked example of docs/read-models.md), each day and the
//! totals also `by_channel` (`wechat_pay`, and the desk's `cash`, `card`, `transfer`).

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
    // One statement: the day figures, the totals and the channels are summed from exactly the rows
    // shown (each day's channels add up to the day).
    let rows = projections::daily_takings::query::channel_days(
        &svc.store.db.read,
        &lot_id.to_string(),
        &from.to_string(),
        &to.to_string(),
    )
    .await
    .map_err(AppError::from)?;
    let mut totals = Sums::default();
    let mut days: Vec<(String, Sums)> = Vec::new();
    for r in rows {
        let row = [r.paid_fen, r.paid_count, r.refunded_fen, r.refunded_count];
        if days.last().is_none_or(|(d, _)| *d != r.day) {
            days.push((r.day.clone(), Sums::default()));
        }
        let (_, sums) = days.last_mut().expect("pushed above");
        sums.add(&r.channel, row);
        totals.add(&r.channel, row);
    }
    let days: Vec<Value> = days
        .into_iter()
        .map(|(day, sums)| {
            let mut entry = sums.json();
            entry["day"] = json!(day);
            entry
        })
        .collect();
    Ok(Json(json!({
        "lot_id": lot_id,
        "from": from.to_string(),
        "to": to.to_string(),
        "days": days,
        "totals": totals.json(),
    })))
}

/// Paid fen, paid count, refunded fen, refunded count: in all, and by channel.
#[derive(Default)]
struct Sums {
    all: [i64; 4],
    by_channel: std::collections::BTreeMap<String, [i64; 4]>,
}

impl Sums {
    fn add(&mut self, channel: &str, row: [i64; 4]) {
        let channel = self.by_channel.entry(channel.to_string()).or_default();
        for i in 0..4 {
            self.all[i] += row[i];
            channel[i] += row[i];
        }
    }

    fn json(&self) -> Value {
        let [p, pc, r, rc] = self.all;
        let mut entry = figures(p, pc, r, rc);
        entry["by_channel"] = self
            .by_channel
            .iter()
            .map(|(c, [p, pc, r, rc])| (c.clone(), figures(*p, *pc, *r, *rc)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        entry
    }
}
