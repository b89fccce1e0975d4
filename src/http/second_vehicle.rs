//! The desk registers and removes a card's second vehicle.

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::{parse_uuid, AppJson, RequestInfo};
use super::{idempotency, AppState};
use crate::app::owner::parse_plate;
use crate::app::second_vehicle;
use aggregates::metadata::Role;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/admin/permits/{permit_id}/second-vehicle",
        post(add).delete(remove),
    )
}

#[derive(Deserialize)]
struct PlateBody {
    plate: String,
}

async fn add(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(permit_id): Path<String>,
    AppJson(body): AppJson<PlateBody>,
) -> ApiResult<Response> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?;
    let plate = parse_plate(&body.plate)?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[
        b"second-vehicle",
        permit_id.as_bytes(),
        plate.as_str().as_bytes(),
    ]);
    let scope = idempotency::staff_scope(admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let position = second_vehicle::add(
            &svc.ledger,
            &svc.store.db,
            permit_id,
            plate.clone(),
            &super::staff_meta(admin.staff_id, Role::Admin, &info),
        )
        .await?;
        Ok((
            StatusCode::OK,
            json!({"plate": plate.as_str(), "position": position}),
        ))
    })
    .await
}

async fn remove(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(permit_id): Path<String>,
) -> ApiResult<Response> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[b"second-vehicle-off", permit_id.as_bytes()]);
    let scope = idempotency::staff_scope(admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let position = second_vehicle::remove(
            &svc.ledger,
            &svc.store.db,
            permit_id,
            &super::staff_meta(admin.staff_id, Role::Admin, &info),
        )
        .await?;
        Ok((StatusCode::OK, json!({"position": position})))
    })
    .await
}
