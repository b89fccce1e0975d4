//! The HTTP layer: api.md's routes over the shared services.

mod audit;
mod auth;
mod client_address;
mod desk;
mod error;
mod extract;
mod health;
mod idempotency;
mod lots;
mod metrics;
mod openapi;
mod owner;
mod payments;
mod reconciliation;
mod renewals;
mod reports;
mod review;
mod sandbox;
mod staff;
mod views;

pub use error::ApiError;

use crate::error::AppError;
use crate::services::{Mode, Services};
use aggregates::metadata::{Actor, EventMetadata, Role};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// What every handler can reach.
pub type AppState = Arc<Services>;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service's routes.
pub fn router(services: AppState) -> Router {
    let mut app = Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(lots::routes())
        .merge(desk::routes())
        .merge(staff::routes())
        .merge(owner::routes())
        .merge(payments::routes())
        .merge(review::routes())
        .merge(audit::routes())
        .merge(reports::routes())
        .merge(reconciliation::routes())
        .merge(openapi::routes())
        .layer(DefaultBodyLimit::max(64 * 1024))
        .merge(renewals::routes(services.settings.photo_max_bytes));
    if services.settings.mode == Mode::Sandbox {
        app = app.merge(sandbox::routes());
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let request_id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(services)
}

async fn not_found() -> ApiError {
    ApiError(AppError::not_found("not_found", "no such route"))
}

async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({"error": {"code": "method_not_allowed",
            "message": "this path does not take that method"}})),
    )
        .into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    tracing::error!("a handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"error": {"code": "internal", "message": "internal error"}})),
    )
        .into_response()
}

/// Metadata for a staff member's command.
fn staff_meta(staff_id: uuid::Uuid, role: Role, info: &extract::RequestInfo) -> EventMetadata {
    EventMetadata {
        actor: Actor::Staff(staff_id),
        role,
        correlation_id: info.request_id.clone(),
        causation_id: info.request_id.clone(),
        request_id: info.request_id.clone(),
    }
}

/// Waits (bounded) until projection `name` has reached `after`, if asked.
async fn wait(svc: &Services, name: &str, after: Option<i64>) -> Result<(), AppError> {
    match after {
        Some(p) if p > 0 => Ok(svc.read.wait_for(name, p, svc.settings.read_wait).await?),
        Some(p) if p < 0 => Err(AppError::invalid(
            "invalid_query",
            "after_position must not be negative",
        )),
        _ => Ok(()),
    }
}
