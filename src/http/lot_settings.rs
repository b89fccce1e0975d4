//! A lot's settings, set at the desk: its tail-number restriction calendar and service phone.

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::{parse_uuid, AppJson, RequestInfo};
use super::AppState;
use crate::app::lot_settings::{set_restrictions, set_service_phone};
use crate::error::AppError;
use aggregates::metadata::Role;
use aggregates::values::{Period, RestrictionCalendar, RestrictionPeriod};
use axum::extract::{Path, State};
use axum::routing::put;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/lots/{lot_id}/restrictions",
            put(restrictions),
        )
        .route(
            "/api/v1/admin/lots/{lot_id}/service-phone",
            put(service_phone),
        )
}

#[derive(Deserialize)]
struct CalendarBody {
    periods: Vec<PeriodBody>,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Deserialize)]
struct PeriodBody {
    from: String,
    to: String,
    digits: BTreeMap<String, Vec<i64>>,
}

fn date(text: &str, field: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| AppError::invalid("invalid_date", format!("{field} must be YYYY-MM-DD")))
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::invalid("invalid_restrictions", message)
}

fn calendar(body: &CalendarBody) -> Result<RestrictionCalendar, AppError> {
    let mut periods = Vec::with_capacity(body.periods.len());
    for p in &body.periods {
        let period = Period::new(date(&p.from, "from")?, date(&p.to, "to")?)
            .map_err(|e| AppError::invalid("invalid_date", e.to_string()))?;
        let mut digits = BTreeMap::new();
        for (weekday, list) in &p.digits {
            let weekday: u8 = weekday
                .parse()
                .map_err(|_| invalid("weekdays are 1 (Monday) to 7 (Sunday)"))?;
            let list = list
                .iter()
                .map(|d| u8::try_from(*d).map_err(|_| invalid("restricted digits are 0 to 9")))
                .collect::<Result<Vec<u8>, _>>()?;
            digits.insert(weekday, list);
        }
        periods.push(RestrictionPeriod { period, digits });
    }
    let holidays = body
        .holidays
        .iter()
        .map(|h| date(h, "holidays"))
        .collect::<Result<Vec<_>, _>>()?;
    RestrictionCalendar::new(periods, holidays).map_err(|e| invalid(e.to_string()))
}

async fn restrictions(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    Path(lot_id): Path<String>,
    AppJson(body): AppJson<CalendarBody>,
) -> ApiResult<Json<Value>> {
    let lot_id = parse_uuid(&lot_id, "no_lot")?;
    let calendar = calendar(&body)?;
    let position = set_restrictions(
        &svc.ledger,
        lot_id,
        calendar,
        &super::staff_meta(admin.staff_id, Role::Admin, &info),
    )
    .await?;
    Ok(Json(json!({"position": position})))
}

#[derive(Deserialize)]
struct ServicePhoneBody {
    service_phone: String,
}

async fn service_phone(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    Path(lot_id): Path<String>,
    AppJson(body): AppJson<ServicePhoneBody>,
) -> ApiResult<Json<Value>> {
    let lot_id = parse_uuid(&lot_id, "no_lot")?;
    let position = set_service_phone(
        &svc.ledger,
        lot_id,
        body.service_phone,
        &super::staff_meta(admin.staff_id, Role::Admin, &info),
    )
    .await?;
    Ok(Json(json!({"position": position})))
}
