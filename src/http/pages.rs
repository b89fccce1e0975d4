//! The two pages of ui.md, the owner's (`GET /lots/{lot_id}`) and the reviewer's console
//! (`GET /review`), and their scripts and style: static files from `web/`, embedded at build
//! time, each answered with a strict Content-Security-Policy (no inline script, nothing from
//! outside the service).

use super::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Only the service's own files; photos are shown from blob URLs made of fetched bytes.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; \
    base-uri 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/lots/{lot_id}", get(owner_page))
        .route("/review", get(review_page))
        .route("/ui/style.css", get(style))
        .route("/ui/api.js", get(api_js))
        .route("/ui/owner.js", get(owner_js))
        .route("/ui/review.js", get(review_js))
        .route("/ui/messages.js", get(messages_js))
        .route("/ui/plate.js", get(plate_js))
}

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
}

/// The same page for every lot id: the page reads the lot and says so when there is none.
async fn owner_page() -> impl IntoResponse {
    file(HTML, include_str!("../../web/owner.html"))
}

async fn review_page() -> impl IntoResponse {
    file(HTML, include_str!("../../web/review.html"))
}

async fn style() -> impl IntoResponse {
    file(CSS, include_str!("../../web/style.css"))
}

async fn api_js() -> impl IntoResponse {
    file(JS, include_str!("../../web/api.js"))
}

async fn owner_js() -> impl IntoResponse {
    file(JS, include_str!("../../web/owner.js"))
}

async fn review_js() -> impl IntoResponse {
    file(JS, include_str!("../../web/review.js"))
}

async fn messages_js() -> impl IntoResponse {
    file(JS, include_str!("../../web/messages.js"))
}

async fn plate_js() -> impl IntoResponse {
    file(JS, include_str!("../../web/plate.js"))
}
