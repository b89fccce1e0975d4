//! `GET /healthz` (the process is up) and `GET /readyz` (the store answers and no projection
//! has been stuck on an event for longer than `PERMIT_LEDGER_STALLED_AFTER_S`).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store.log.ping().await {
        Ok(()) => match state.read.stalled(state.settings.stalled_after).await {
            Ok(stalled) if stalled.is_empty() => (StatusCode::OK, Json(json!({"status": "ready"}))),
            Ok(stalled) => {
                let names: Vec<&str> = stalled.iter().map(|p| p.name.as_str()).collect();
                tracing::warn!(projections = ?names, "projections stalled: not ready");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": {"code": "projection_stalled",
                        "message": format!("projections stuck on an event: {}", names.join(", ")),
                        "projections": stalled.iter().map(|p| json!({
                            "name": p.name, "failing_position": p.failing_position,
                            "failing_since": p.failing_since, "failures": p.failures}))
                            .collect::<Vec<_>>()}})),
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "projection state unreadable");
                unavailable()
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "store not ready");
            unavailable()
        }
    }
}

fn unavailable() -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(
            json!({"error": {"code": "store_unavailable", "message": "the store does not answer"}}),
        ),
    )
}
