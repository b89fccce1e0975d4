//! The admin's staff routes: the list, and revoking a member's access.

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::{parse_uuid, RequestInfo};
use super::{idempotency, AppState};
use crate::app::staff::{list_staff, revoke_staff};
use aggregates::metadata::Role;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/staff", get(list))
        .route("/api/v1/admin/staff/{staff_id}/revoke", post(revoke))
}

async fn list(State(svc): State<AppState>, Admin(_): Admin) -> ApiResult<Json<Value>> {
    let staff = list_staff(&svc.store.log, chrono::Utc::now()).await?;
    Ok(Json(json!({"staff": staff})))
}

async fn revoke(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(staff_id): Path<String>,
) -> ApiResult<Response> {
    let staff_id = parse_uuid(&staff_id, "no_staff")?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[b"staff-revoke", staff_id.as_bytes()]);
    let scope = format!("staff:{}", admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let position = revoke_staff(
            &svc.ledger,
            &svc.store.db,
            staff_id,
            Some(admin.staff_id),
            chrono::Utc::now(),
            &super::staff_meta(admin.staff_id, Role::Admin, &info),
        )
        .await?;
        Ok((StatusCode::OK, json!({"position": position})))
    })
    .await
}
