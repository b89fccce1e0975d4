//! Lots, their product and consent: registered at the desk, read by anyone.

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::{parse_uuid, AppJson, RequestInfo};
use super::AppState;
use crate::app::desk::register_lot;
use crate::error::AppError;
use aggregates::lot::{Consent, Lot, Product};
use aggregates::values::{Fen, MonthDay, SeasonCalendar};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/lots", post(create))
        .route("/api/v1/lots/{lot_id}", get(show))
}

#[derive(Deserialize)]
struct NewLot {
    name: String,
    product: NewProduct,
    consent: NewConsent,
}

#[derive(Deserialize)]
struct NewProduct {
    name: String,
    price_fen: i64,
    period_months: u32,
    season_starts: String,
}

#[derive(Deserialize)]
struct NewConsent {
    version: String,
    text: String,
}

async fn create(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: axum::http::HeaderMap,
    AppJson(body): AppJson<NewLot>,
) -> ApiResult<axum::response::Response> {
    let invalid = |e: aggregates::values::period::PeriodError| {
        AppError::invalid("invalid_input", e.to_string())
    };
    let season_starts: MonthDay = body.product.season_starts.parse().map_err(invalid)?;
    let calendar =
        SeasonCalendar::new(body.product.period_months, season_starts).map_err(invalid)?;
    let key = super::idempotency::key(&headers)?;
    let scope = super::idempotency::staff_scope(admin.staff_id);
    let digest = super::idempotency::digest(&[
        b"lot",
        body.name.as_bytes(),
        body.product.name.as_bytes(),
        &body.product.price_fen.to_be_bytes(),
        &body.product.period_months.to_be_bytes(),
        body.product.season_starts.as_bytes(),
        body.consent.version.as_bytes(),
        body.consent.text.as_bytes(),
    ]);
    let lot_id = super::idempotency::new_id("lot", &scope, key.as_deref());
    super::idempotency::once(&svc, &scope, key, digest, async {
        let position = register_lot(
            &svc.ledger,
            lot_id,
            body.name.clone(),
            Product {
                name: body.product.name.clone(),
                price: Fen(body.product.price_fen),
                calendar,
            },
            Consent {
                version: body.consent.version.clone(),
                text: body.consent.text.clone(),
            },
            &super::staff_meta(admin.staff_id, aggregates::metadata::Role::Admin, &info),
        )
        .await?;
        Ok((
            StatusCode::CREATED,
            json!({"lot_id": lot_id, "position": position}),
        ))
    })
    .await
}

async fn show(State(svc): State<AppState>, Path(lot_id): Path<String>) -> ApiResult<Json<Value>> {
    let lot_id = parse_uuid(&lot_id, "no_lot")?;
    let lot = svc
        .ledger
        .load::<Lot>(&lot_id.to_string())
        .await
        .map_err(AppError::from)?
        .aggregate
        .registered
        .ok_or_else(|| AppError::not_found("no_lot", "no such lot"))?;
    Ok(Json(json!({
        "lot_id": lot_id,
        "name": lot.name,
        "product": {
            "name": lot.product.name,
            "price_fen": lot.product.price.get(),
            "period_months": lot.product.calendar.period_months,
            "season_starts": lot.product.calendar.season_starts.to_string(),
        },
        "consent": {"version": lot.consent.version, "text": lot.consent.text},
        "office_phone": svc.settings.office_phone,
    })))
}
