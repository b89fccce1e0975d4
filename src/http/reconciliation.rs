//! `GET /api/v1/admin/reconciliation?date=YYYY-MM-DD` (admin): the last reconciliation of that
//! business day with WeChat Pay's trade bill (docs/operations.md § Reconciliation).

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::AppQuery;
use super::reports::date;
use super::AppState;
use crate::error::AppError;
use crate::reconcile::results;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/admin/reconciliation", get(latest))
}

#[derive(Deserialize)]
struct DateQuery {
    date: String,
}

async fn latest(
    State(svc): State<AppState>,
    _admin: Admin,
    AppQuery(q): AppQuery<DateQuery>,
) -> ApiResult<Json<results::Stored>> {
    let date = date(&q.date, "date")?;
    let stored = results::latest(&svc.store.db, date)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| {
            AppError::not_found(
                "no_reconciliation",
                format!("no reconciliation of {date} yet"),
            )
        })?;
    Ok(Json(stored))
}
