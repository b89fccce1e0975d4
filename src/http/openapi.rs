//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of this API (docs/openapi.json),
//! embedded at build time.

use super::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The document, as written in `docs/openapi.json`.
const DOCUMENT: &str = include_str!("../../docs/openapi.json");

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        DOCUMENT,
    )
}
