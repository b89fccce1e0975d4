//! Payment problems (admin): refunds that went wrong, listed for staff to retry or resolve.
//!
//! `GET /api/v1/admin/payments/problems[?after_position=]`, `POST …/{problem_id}/retry`,
//! `POST …/{problem_id}/resolve {"note"}`.

use super::auth::Admin;
use super::error::ApiResult;
use super::extract::{AfterPosition, AppJson, AppQuery, RequestInfo};
use super::{idempotency, AppState};
use crate::app::payment_problems;
use crate::error::AppError;
use aggregates::metadata::Role;
use aggregates::permit::{PermitError, ProblemStatus};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/payments/problems", get(list))
        .route(
            "/api/v1/admin/payments/problems/{problem_id}/retry",
            post(retry),
        )
        .route(
            "/api/v1/admin/payments/problems/{problem_id}/resolve",
            post(resolve),
        )
}

async fn list(
    State(svc): State<AppState>,
    _admin: Admin,
    AppQuery(q): AppQuery<AfterPosition>,
) -> ApiResult<Json<Value>> {
    super::wait(&svc, "payment_problems", q.after_position).await?;
    let rows = projections::payment_problems::query::open(&svc.store.db.read)
        .await
        .map_err(AppError::from)?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|p| {
            json!({
                "problem_id": p.problem_id, "kind": p.kind, "renewal_id": p.renewal_id,
                "out_trade_no": p.out_trade_no, "out_refund_no": p.out_refund_no,
                "amount_fen": p.amount_fen, "detail": p.detail, "since": p.since,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn retry(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(problem_id): Path<String>,
) -> ApiResult<Response> {
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[b"problem-retry", problem_id.as_bytes()]);
    let scope = idempotency::staff_scope(admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let meta = super::staff_meta(admin.staff_id, Role::Admin, &info);
        let position = payment_problems::retry(&svc, &problem_id, &meta).await?;
        Ok((
            StatusCode::OK,
            json!({"status": ProblemStatus::Retried.as_str(), "position": position}),
        ))
    })
    .await
}

#[derive(Deserialize)]
struct ResolveBody {
    note: Option<String>,
}

async fn resolve(
    State(svc): State<AppState>,
    Admin(admin): Admin,
    info: RequestInfo,
    headers: HeaderMap,
    Path(problem_id): Path<String>,
    AppJson(body): AppJson<ResolveBody>,
) -> ApiResult<Response> {
    let note = body
        .note
        .ok_or_else(|| AppError::refused(&PermitError::NoteRequired))?;
    let key = idempotency::key(&headers)?;
    let digest = idempotency::digest(&[b"problem-resolve", problem_id.as_bytes(), note.as_bytes()]);
    let scope = idempotency::staff_scope(admin.staff_id);
    idempotency::once(&svc, &scope, key, digest, async {
        let meta = super::staff_meta(admin.staff_id, Role::Admin, &info);
        let position = payment_problems::resolve(&svc, &problem_id, note, &meta).await?;
        Ok((
            StatusCode::OK,
            json!({"status": ProblemStatus::Resolved.as_str(), "position": position}),
        ))
    })
    .await
}
