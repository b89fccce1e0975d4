//! Sandbox routes (off in production): the SMS outbox as the phone's inbox, paying an order,
//! and the business clock.

use super::error::ApiResult;
use super::extract::{AppJson, AppQuery};
use super::AppState;
use crate::app::owner::parse_phone;
use crate::error::AppError;
use crate::payments::SandboxError;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandbox/sms", get(sms))
        .route("/sandbox/payments/{order_id}/pay", post(pay))
        .route("/sandbox/clock", get(clock).post(set_clock))
}

#[derive(Deserialize)]
struct PhoneQuery {
    phone: String,
}

async fn sms(
    State(svc): State<AppState>,
    AppQuery(q): AppQuery<PhoneQuery>,
) -> ApiResult<Json<Value>> {
    let phone = parse_phone(&q.phone)?;
    let messages = svc
        .sandbox_sms
        .as_ref()
        .map(|s| s.inbox(phone.as_str()))
        .unwrap_or_default();
    Ok(Json(json!({"messages": messages})))
}

async fn pay(State(svc): State<AppState>, Path(order_id): Path<String>) -> ApiResult<Json<Value>> {
    let sandbox = svc
        .sandbox_payments
        .as_ref()
        .ok_or_else(|| AppError::not_found("not_found", "no sandbox provider"))?;
    match sandbox.pay(&order_id).await {
        Ok(()) => Ok(Json(json!({"status": "paid"}))),
        Err(e) => Err(match e {
            SandboxError::AlreadyPaid => {
                AppError::rule("already_paid", "the order is already paid")
            }
            SandboxError::UnknownOrder => AppError::not_found("no_order", "no such order"),
            SandboxError::OrderClosed => AppError::rule("order_closed", "the order is closed"),
            other => AppError::Internal(other.to_string()),
        }
        .into()),
    }
}

async fn clock(State(svc): State<AppState>) -> Json<Value> {
    Json(json!({"now": svc.clock.now()}))
}

#[derive(Deserialize)]
struct SetClock {
    now: String,
}

async fn set_clock(
    State(svc): State<AppState>,
    AppJson(body): AppJson<SetClock>,
) -> ApiResult<Json<Value>> {
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(&body.now)
        .map_err(|_| AppError::invalid("invalid_input", "now must be an RFC 3339 instant"))?
        .with_timezone(&Utc);
    svc.clock.set(now);
    Ok(Json(json!({"now": svc.clock.now()})))
}
