//! The owner's page: codes, sessions, vehicles, cards and orders.

use super::auth::Owner;
use super::error::ApiResult;
use super::extract::{parse_uuid, AfterPosition, AppJson, AppQuery, RequestInfo};
use super::idempotency;
use super::views::{self, Audience};
use super::AppState;
use crate::app::owner::{self as app, parse_phone, parse_plate, OwnerRef};
use crate::app::sessions;
use crate::error::AppError;
use aggregates::permit::PermitError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/lots/{lot_id}/codes", post(request_code))
        .route("/api/v1/lots/{lot_id}/sessions", post(open_session))
        .route("/api/v1/sessions/current", delete(close_session))
        .route("/api/v1/vehicles", post(choose_vehicle))
        .route("/api/v1/permits", get(list_permits))
        .route("/api/v1/permits/{permit_id}", get(show_permit))
        .route("/api/v1/renewals/{renewal_id}", get(show_renewal))
        .route("/api/v1/renewals/{renewal_id}/refund", post(refund))
        .route("/api/v1/renewals/{renewal_id}/cancel", post(cancel))
        .route(
            "/api/v1/renewals/{renewal_id}/payment/check",
            post(check_payment),
        )
}

fn owner_ref(owner: &Owner) -> OwnerRef<'_> {
    owner.as_ref()
}

#[derive(Deserialize)]
struct PhoneBody {
    phone: String,
}

async fn request_code(
    State(svc): State<AppState>,
    info: RequestInfo,
    Path(lot_id): Path<String>,
    AppJson(body): AppJson<PhoneBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let lot_id = parse_uuid(&lot_id, "no_lot")?;
    let phone = parse_phone(&body.phone)?;
    let sent = app::request_code(&svc, lot_id, &phone, info.address, &info.request_id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!(sent))))
}

#[derive(Deserialize)]
struct CodeBody {
    phone: String,
    code: String,
    #[serde(default)]
    wechat_code: Option<String>,
}

async fn open_session(
    State(svc): State<AppState>,
    info: RequestInfo,
    Path(lot_id): Path<String>,
    AppJson(body): AppJson<CodeBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let lot_id = parse_uuid(&lot_id, "no_lot")?;
    let phone = parse_phone(&body.phone)?;
    let session = app::verify_code(
        &svc,
        lot_id,
        &phone,
        &body.code,
        body.wechat_code.as_deref(),
        &info.request_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(session))))
}

async fn close_session(
    State(svc): State<AppState>,
    _owner: Owner,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    sessions::revoke(&svc.store.db, token.trim())
        .await
        .map_err(AppError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PlateBody {
    plate: String,
}

async fn choose_vehicle(
    State(svc): State<AppState>,
    owner: Owner,
    info: RequestInfo,
    headers: HeaderMap,
    AppJson(body): AppJson<PlateBody>,
) -> ApiResult<Response> {
    let plate = parse_plate(&body.plate)?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[b"vehicles", plate.as_str().as_bytes()]);
    idempotency::once(&svc, &owner.idempotency_scope(), key, digest, async {
        let (ids, position) =
            app::choose_vehicle(&svc, &owner_ref(&owner), &plate, &info.request_id).await?;
        let mut permits = Vec::new();
        for id in ids {
            if let Some(p) = views::permit(&svc, &id.to_string(), Audience::Owner).await? {
                permits.push(p);
            }
        }
        Ok((
            StatusCode::OK,
            json!({"plate": plate.as_str(), "permits": permits, "position": position}),
        ))
    })
    .await
}

#[derive(serde::Deserialize)]
struct ListQuery {
    after_position: Option<i64>,
    #[serde(default)]
    include_hidden: bool,
}

async fn list_permits(
    State(svc): State<AppState>,
    owner: Owner,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    super::wait(&svc, "cards", q.after_position).await?;
    let permits = views::permits_of_owner(
        &svc,
        &owner.lot_id.to_string(),
        owner.phone.as_str(),
        q.include_hidden,
    )
    .await?;
    Ok(Json(json!({"permits": permits})))
}

/// 404 unless the card is held under the owner's phone at the session's lot.
async fn check_card(svc: &AppState, owner: &Owner, permit_id: &str) -> Result<(), AppError> {
    match views::card_owner(svc, permit_id).await? {
        Some((lot, phone)) if lot == owner.lot_id.to_string() && phone == owner.phone.as_str() => {
            Ok(())
        }
        _ => Err(AppError::refused(&PermitError::NotIssued)),
    }
}

async fn show_permit(
    State(svc): State<AppState>,
    owner: Owner,
    Path(permit_id): Path<String>,
    AppQuery(q): AppQuery<AfterPosition>,
) -> ApiResult<Json<Value>> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?.to_string();
    super::wait(&svc, "cards", q.after_position).await?;
    check_card(&svc, &owner, &permit_id).await?;
    let permit = views::permit(&svc, &permit_id, Audience::Owner)
        .await?
        .ok_or_else(|| AppError::refused(&PermitError::NotIssued))?;
    Ok(Json(permit))
}

async fn show_renewal(
    State(svc): State<AppState>,
    owner: Owner,
    Path(renewal_id): Path<String>,
    AppQuery(q): AppQuery<AfterPosition>,
) -> ApiResult<Json<Value>> {
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?.to_string();
    super::wait(&svc, "cards", q.after_position).await?;
    let not_found = || AppError::refused(&PermitError::UnknownRenewal);
    let renewal = views::renewal(&svc, &renewal_id)
        .await?
        .ok_or_else(not_found)?;
    let permit_id = renewal["permit_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check_card(&svc, &owner, &permit_id)
        .await
        .map_err(|_| not_found())?;
    Ok(Json(renewal))
}

async fn check_payment(
    State(svc): State<AppState>,
    owner: Owner,
    info: RequestInfo,
    Path(renewal_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?;
    let position =
        app::check_payment(&svc, &owner_ref(&owner), renewal_id, &info.request_id).await?;
    // Read your own write: the renewal as it stands after the payment recorded (if any).
    let head = match position {
        Some(p) => Some(p),
        None => Some(svc.store.log.head().await?),
    };
    super::wait(&svc, "cards", head).await?;
    let renewal = views::renewal(&svc, &renewal_id.to_string())
        .await?
        .ok_or_else(|| AppError::refused(&PermitError::UnknownRenewal))?;
    Ok(Json(renewal))
}

async fn refund(
    State(svc): State<AppState>,
    owner: Owner,
    info: RequestInfo,
    headers: HeaderMap,
    Path(renewal_id): Path<String>,
) -> ApiResult<Response> {
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[b"refund", renewal_id.as_bytes()]);
    idempotency::once(&svc, &owner.idempotency_scope(), key, digest, async {
        let position =
            app::request_refund(&svc, &owner_ref(&owner), renewal_id, &info.request_id).await?;
        Ok((
            StatusCode::ACCEPTED,
            json!({"status": "refund_requested", "position": position}),
        ))
    })
    .await
}

async fn cancel(
    State(svc): State<AppState>,
    owner: Owner,
    info: RequestInfo,
    headers: HeaderMap,
    Path(renewal_id): Path<String>,
) -> ApiResult<Response> {
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[b"cancel", renewal_id.as_bytes()]);
    idempotency::once(&svc, &owner.idempotency_scope(), key, digest, async {
        let position = app::cancel(&svc, &owner_ref(&owner), renewal_id, &info.request_id).await?;
        Ok((
            StatusCode::OK,
            json!({"status": "cancelled", "position": position}),
        ))
    })
    .await
}
