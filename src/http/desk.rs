//! The desk's admin actions: cards issued offline, holder and vehicle changes, renewals paid
//! at the desk.

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::{parse_uuid, AppJson, RequestInfo};
use super::{idempotency, AppState};
use crate::app::desk::{change_holder, change_vehicle, issue_permit, NewPermit};
use crate::app::desk_renewals::{renew_at_desk, DeskRenewal};
use crate::app::owner::{parse_phone, parse_plate};
use crate::error::AppError;
use aggregates::metadata::Role;
use aggregates::permit::{DeskMethod, RenewalStatus};
use aggregates::values::{Fen, Period};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/permits", post(issue))
        .route("/api/v1/admin/permits/{permit_id}/holder", post(holder))
        .route("/api/v1/admin/permits/{permit_id}/vehicle", post(vehicle))
        .route("/api/v1/admin/permits/{permit_id}/renewals", post(renew))
}

#[derive(Deserialize)]
struct DeskRenewalBody {
    method: String,
    receipt_no: String,
    amount_fen: i64,
}

async fn renew(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(permit_id): Path<String>,
    AppJson(body): AppJson<DeskRenewalBody>,
) -> ApiResult<Response> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?;
    let method = DeskMethod::parse(&body.method).ok_or_else(|| {
        AppError::invalid("invalid_method", "method must be cash, card or transfer")
    })?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[
        b"desk-renewal",
        permit_id.as_bytes(),
        method.as_str().as_bytes(),
        body.receipt_no.as_bytes(),
        &body.amount_fen.to_be_bytes(),
    ]);
    let scope = idempotency::staff_scope(admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let renewed = renew_at_desk(
            &svc,
            DeskRenewal {
                permit_id,
                staff_id: admin.staff_id,
                method,
                receipt_no: body.receipt_no.clone(),
                amount: Fen(body.amount_fen),
            },
            &super::staff_meta(admin.staff_id, Role::Admin, &info),
        )
        .await?;
        Ok((
            StatusCode::CREATED,
            json!({
                "renewal_id": renewed.renewal_id,
                "period": {"from": renewed.period.from.to_string(), "to": renewed.period.to.to_string()},
                "status": RenewalStatus::Approved.as_str(),
                "position": renewed.position,
            }),
        ))
    })
    .await
}

#[derive(Deserialize)]
struct IssueBody {
    lot_id: String,
    plate: String,
    holder_name: String,
    phone: String,
    valid_from: String,
    valid_to: String,
}

fn date(text: &str, field: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| AppError::invalid("invalid_date", format!("{field} must be YYYY-MM-DD")))
}

async fn issue(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    AppJson(body): AppJson<IssueBody>,
) -> ApiResult<Response> {
    let lot_id: Uuid = body
        .lot_id
        .parse()
        .map_err(|_| AppError::invalid("invalid_input", "lot_id must be a UUID"))?;
    let validity = Period::new(
        date(&body.valid_from, "valid_from")?,
        date(&body.valid_to, "valid_to")?,
    )
    .map_err(|e| AppError::invalid("invalid_date", e.to_string()))?;
    let plate = parse_plate(&body.plate)?;
    let phone = parse_phone(&body.phone)?;
    let key = idempotency::key(&headers)?;
    let scope = idempotency::staff_scope(admin.staff_id);
    let digest = idempotency::digest(&[
        b"issue",
        lot_id.as_bytes(),
        plate.as_str().as_bytes(),
        body.holder_name.as_bytes(),
        phone.as_str().as_bytes(),
        body.valid_from.as_bytes(),
        body.valid_to.as_bytes(),
    ]);
    let permit_id = idempotency::new_id("permit", &scope, key.as_deref());
    idempotency::once(&svc, &scope, key, digest, async {
        let position = issue_permit(
            &svc.ledger,
            &svc.store.db,
            NewPermit {
                permit_id,
                lot_id,
                plate,
                holder_name: body.holder_name.clone(),
                phone,
                validity,
            },
            &super::staff_meta(admin.staff_id, Role::Admin, &info),
        )
        .await?;
        Ok((
            StatusCode::CREATED,
            json!({"permit_id": permit_id, "position": position}),
        ))
    })
    .await
}

#[derive(Deserialize)]
struct HolderBody {
    holder_name: String,
    phone: String,
}

async fn holder(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(permit_id): Path<String>,
    AppJson(body): AppJson<HolderBody>,
) -> ApiResult<Response> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?;
    let phone = parse_phone(&body.phone)?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[
        b"holder",
        permit_id.as_bytes(),
        body.holder_name.as_bytes(),
        phone.as_str().as_bytes(),
    ]);
    let scope = idempotency::staff_scope(admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let position = change_holder(
            &svc.ledger,
            permit_id,
            body.holder_name.clone(),
            phone,
            &super::staff_meta(admin.staff_id, Role::Admin, &info),
        )
        .await?;
        Ok((StatusCode::OK, json!({"position": position})))
    })
    .await
}

#[derive(Deserialize)]
struct VehicleBody {
    plate: String,
}

async fn vehicle(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(permit_id): Path<String>,
    AppJson(body): AppJson<VehicleBody>,
) -> ApiResult<Response> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?;
    let plate = parse_plate(&body.plate)?;
    let key = idempotency::key(&headers)?;
    let digest =
        idempotency::digest(&[b"vehicle", permit_id.as_bytes(), plate.as_str().as_bytes()]);
    let scope = idempotency::staff_scope(admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let position = change_vehicle(
            &svc.ledger,
            &svc.store.db,
            permit_id,
            plate,
            &super::staff_meta(admin.staff_id, Role::Admin, &info),
        )
        .await?;
        Ok((StatusCode::OK, json!({"position": position})))
    })
    .await
}
