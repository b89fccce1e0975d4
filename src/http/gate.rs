//! The gate check for a lot's barrier controller or plate camera (role `gate`), answered from
//! the in-memory gate model.

use super::auth::GateStaff;
use super::error::ApiResult;
use super::extract::AppQuery;
use super::AppState;
use crate::app::owner::parse_plate;
use crate::error::AppError;
use crate::gate::GateError;
use aggregates::business_time::business_date;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/gate/check", get(check))
}

#[derive(Deserialize)]
struct CheckQuery {
    lot_id: Option<String>,
    plate: Option<String>,
    at: Option<String>,
    after_position: Option<i64>,
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, AppError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AppError::invalid("invalid_query", format!("{name} is required")))
}

fn lagging(e: GateError, position: i64) -> AppError {
    match e {
        GateError::Lagging => AppError::Lagging(position),
    }
}

async fn check(
    State(svc): State<AppState>,
    _gate: GateStaff,
    AppQuery(q): AppQuery<CheckQuery>,
) -> ApiResult<Json<Value>> {
    let lot_id: Uuid = required(&q.lot_id, "lot_id")?
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("invalid_query", "lot_id must be a UUID"))?;
    let plate = parse_plate(required(&q.plate, "plate")?)?;
    let at: DateTime<Utc> = match q.at.as_deref() {
        None => svc.clock.now(),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|_| AppError::invalid("invalid_query", "at must be an RFC 3339 instant"))?
            .with_timezone(&Utc),
    };
    match q.after_position {
        Some(p) if p < 0 => {
            return Err(
                AppError::invalid("invalid_query", "after_position must not be negative").into(),
            )
        }
        Some(p) if p > 0 => svc
            .gate
            .wait_for(p, svc.settings.read_wait)
            .await
            .map_err(|e| lagging(e, p))?,
        _ => {}
    }
    let answer = svc
        .gate
        .check(lot_id, &plate, business_date(at))
        .map_err(|e| lagging(e, 0))?;
    let mut body = json!({
        "allowed": answer.reason.allowed(),
        "reason": answer.reason.as_str(),
    });
    if let Some(permit_id) = answer.permit_id {
        body["permit_id"] = json!(permit_id);
    }
    if let Some(valid_to) = answer.valid_to {
        body["valid_to"] = json!(valid_to.to_string());
    }
    Ok(Json(body))
}
