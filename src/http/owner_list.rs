//! The owner's list of cards: remove a card from it (移除此卡) and add it back (添加至长租管理).

use super::auth::Owner;
use super::error::ApiResult;
use super::extract::{parse_uuid, RequestInfo};
use super::{idempotency, AppState};
use crate::app::owner::set_hidden;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/permits/{permit_id}/hide", post(hide))
        .route("/api/v1/permits/{permit_id}/show", post(show))
}

async fn hide(
    state: State<AppState>,
    owner: Owner,
    info: RequestInfo,
    headers: HeaderMap,
    path: Path<String>,
) -> ApiResult<Response> {
    set(state, owner, info, headers, path, true).await
}

async fn show(
    state: State<AppState>,
    owner: Owner,
    info: RequestInfo,
    headers: HeaderMap,
    path: Path<String>,
) -> ApiResult<Response> {
    set(state, owner, info, headers, path, false).await
}

async fn set(
    State(svc): State<AppState>,
    owner: Owner,
    info: RequestInfo,
    headers: HeaderMap,
    Path(permit_id): Path<String>,
    hidden: bool,
) -> ApiResult<Response> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?;
    let key = idempotency::key(&headers)?;
    let action: &[u8] = if hidden { b"hide" } else { b"show" };
    let digest = idempotency::digest(&[action, permit_id.as_bytes()]);
    idempotency::once(&svc, &owner.idempotency_scope(), key, digest, async {
        let position =
            set_hidden(&svc, &owner.as_ref(), permit_id, hidden, &info.request_id).await?;
        Ok((
            StatusCode::OK,
            json!({"hidden": hidden, "position": position}),
        ))
    })
    .await
}
