//! The reviewers' queue, detail, photo, approve and reject.

use super::auth::{Reviewer, Staff};
use super::error::ApiResult;
use super::extract::{parse_uuid, AfterPosition, AppJson, AppQuery, RequestInfo};
use super::views::{self, Audience};
use super::AppState;
use crate::app::{photos, review};
use crate::error::AppError;
use aggregates::metadata::Role;
use aggregates::permit::PermitError;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/review/queue", get(queue))
        .route("/api/v1/review/renewals/{renewal_id}", get(detail))
        .route("/api/v1/review/renewals/{renewal_id}/photo", get(photo))
        .route(
            "/api/v1/review/renewals/{renewal_id}/approve",
            post(approve),
        )
        .route("/api/v1/review/renewals/{renewal_id}/reject", post(reject))
}

async fn queue(
    State(svc): State<AppState>,
    _reviewer: Reviewer,
    AppQuery(q): AppQuery<AfterPosition>,
) -> ApiResult<Json<Value>> {
    super::wait(&svc, "review_queue", q.after_position).await?;
    let rows = projections::review_queue::query::items(&svc.store.db.read)
        .await
        .map_err(AppError::from)?;
    let now = svc.clock.now();
    let target = svc.settings.review_target.num_seconds();
    let items: Vec<Value> = rows
        .into_iter()
        .map(|item| {
            let waited_s = DateTime::parse_from_rfc3339(&item.paid_at)
                .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0))
                .unwrap_or(0);
            json!({
                "renewal_id": item.renewal_id,
                "permit_id": item.permit_id,
                "plate": item.plate,
                "holder_name": item.holder_name,
                "phone_masked": aggregates::values::Phone::parse(&item.phone).map(|p| p.masked()).unwrap_or_default(),
                "period": {"from": item.period_from, "to": item.period_to},
                "amount_fen": item.amount_fen,
                "paid_at": item.paid_at,
                "waited_s": waited_s,
                "target_s": target,
                "overdue": waited_s > target,
            })
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

/// Reviewers and auditors may read a renewal's detail and photo.
fn reader(staff: &Staff) -> Result<(), AppError> {
    staff
        .require(Role::Reviewer)
        .or_else(|_| staff.require(Role::Auditor))
        .map(|_| ())
}

async fn detail(
    State(svc): State<AppState>,
    staff: Staff,
    Path(renewal_id): Path<String>,
    AppQuery(q): AppQuery<AfterPosition>,
) -> ApiResult<Json<Value>> {
    reader(&staff)?;
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?;
    super::wait(&svc, "cards", q.after_position).await?;
    let renewal = views::renewal(&svc, &renewal_id.to_string())
        .await?
        .ok_or_else(|| AppError::refused(&PermitError::UnknownRenewal))?;
    let permit_id = renewal["permit_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let permit = views::permit(&svc, &permit_id, Audience::Staff).await?;
    let history = super::audit::history(&svc, &permit_id).await?;
    Ok(Json(json!({
        "renewal": renewal,
        "permit": permit,
        "history": history,
    })))
}

async fn photo(
    State(svc): State<AppState>,
    staff: Staff,
    Path(renewal_id): Path<String>,
) -> ApiResult<Response> {
    reader(&staff)?;
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?;
    let renewal = views::renewal(&svc, &renewal_id.to_string())
        .await?
        .ok_or_else(|| AppError::refused(&PermitError::UnknownRenewal))?;
    let sha = renewal["photo"]["sha256"].as_str().unwrap_or_default();
    let (content_type, bytes) = photos::fetch(&svc.store.db, sha)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| {
            AppError::not_found(
                "no_photo",
                "the photo is not held: deleted after the retention period, or not copied",
            )
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

async fn approve(
    State(svc): State<AppState>,
    Reviewer(reviewer): Reviewer,
    info: RequestInfo,
    Path(renewal_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?;
    let position = review::approve(&svc, reviewer.staff_id, renewal_id, &info.request_id).await?;
    Ok(Json(json!({"status": "approved", "position": position})))
}

#[derive(Deserialize)]
struct RejectBody {
    reason: String,
}

async fn reject(
    State(svc): State<AppState>,
    Reviewer(reviewer): Reviewer,
    info: RequestInfo,
    Path(renewal_id): Path<String>,
    AppJson(body): AppJson<RejectBody>,
) -> ApiResult<Json<Value>> {
    let renewal_id = parse_uuid(&renewal_id, "no_renewal")?;
    if body.reason.chars().count() > 500 {
        return Err(AppError::invalid("invalid_input", "the reason is over 500 characters").into());
    }
    let position = review::reject(
        &svc,
        reviewer.staff_id,
        renewal_id,
        body.reason,
        &info.request_id,
    )
    .await?;
    Ok(Json(json!({"status": "rejected", "position": position})))
}
