//! The HTTP layer: api.md's routes over the shared services.

mod audit;
mod auth;
mod client_address;
mod desk;
mod error;
mod extract;
mod gate;
mod health;
mod idempotency;
mod limits;
mod lot_settings;
mod lots;
mod metrics;
mod openapi;
mod own_writes;
mod owner;
mod owner_list;
mod pages;
mod payments;
mod problems;
mod reconciliation;
mod renewals;
mod reports;
mod request_id;
mod review;
mod sandbox;
mod second_vehicle;
mod staff;
mod views;

pub use error::ApiError;

use crate::error::AppError;
use crate::services::{Mode, Services};
use aggregates::metadata::{Actor, EventMetadata, Role};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::{middleware, Router};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
pub type AppState = Arc<Services>;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service's routes.
pub fn router(services: AppState) -> Router {
    let settings = &services.settings;
    let timeout = |limit| middleware::from_fn_with_state(limit, limits::timeout);
    let mut app = Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(lots::routes())
        .merge(desk::routes())
        .merge(second_vehicle::routes())
        .merge(lot_settings::routes())
        .merge(staff::routes())
        .merge(owner::routes())
        .merge(owner_list::routes())
        .merge(payments::routes())
        .merge(problems::routes())
        .merge(review::routes())
        .merge(audit::routes())
        .merge(reports::routes())
        .merge(reconciliation::routes())
        .merge(openapi::routes())
        .merge(pages::routes())
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(timeout(settings.request_timeout))
        .merge(renewals::routes(settings.photo_max_bytes).layer(timeout(settings.upload_timeout)));
    if settings.mode == Mode::Sandbox {
        app = app.merge(sandbox::routes().layer(timeout(settings.request_timeout)));
    }
    let in_flight = Arc::new(Semaphore::new(settings.max_in_flight));
    // The gate never writes, so its checks have no own position to wait for: they stay out of
    // the session-consistency layer and its store lookup (no database round trip per check).
    let gate = gate::routes()
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(timeout(settings.request_timeout));
    app.layer(middleware::from_fn_with_state(services.clone(), own_writes::track))
        .merge(gate)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(in_flight, limits::in_flight))
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
        .layer(middleware::map_request(request_id::drop_unacceptable))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
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
