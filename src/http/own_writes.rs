//! Session consistency: a read by a token after that token's own command shows the command's
//! effect, without `after_position`. A command's answer carries `position`; it is remembered
//! for the token (`app::own_writes`); the token's later GETs without an `after_position` of
//! their own get that one, so they wait (bounded, as `after_position` does) for their view.

use super::AppState;
use crate::app::own_writes;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, Uri};
use axum::middleware::Next;
use axum::response::Response;

/// Answers larger than this are not looked into for a `position` (no command answers so much).
const ANSWER_LIMIT: usize = 256 * 1024;

fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty() && token.len() <= 200).then(|| token.to_string())
}

/// `uri` with `after_position=position` added to its query.
fn with_after(uri: &Uri, position: i64) -> Option<Uri> {
    let query = match uri.query() {
        Some(q) if !q.is_empty() => format!("{q}&after_position={position}"),
        _ => format!("after_position={position}"),
    };
    format!("{}?{query}", uri.path()).parse().ok()
}

fn asks_its_own_position(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("after_position=")))
}

pub(super) async fn track(State(svc): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req) else {
        return next.run(req).await;
    };
    let db = &svc.store.db;
    if req.method() == Method::GET {
        if !asks_its_own_position(req.uri()) {
            match own_writes::last(db, &token).await {
                Ok(Some(position)) => {
                    if let Some(uri) = with_after(req.uri(), position) {
                        *req.uri_mut() = uri;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "the token's last position could not be read"),
            }
        }
        return next.run(req).await;
    }
    let response = next.run(req).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !response.status().is_success() || !is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ANSWER_LIMIT).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let position = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["position"].as_i64());
    if let Some(position) = position {
        if let Err(e) = own_writes::remember(db, &token, position).await {
            tracing::warn!(error = %e, "the token's last position could not be kept");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_is_added_to_the_query() {
        let uri: Uri = "/api/v1/permits".parse().unwrap();
        assert_eq!(
            with_after(&uri, 7).unwrap().to_string(),
            "/api/v1/permits?after_position=7"
        );
        let uri: Uri = "/api/v1/audit/events?after=3".parse().unwrap();
        assert_eq!(
            with_after(&uri, 7).unwrap().to_string(),
            "/api/v1/audit/events?after=3&after_position=7"
        );
        assert!(asks_its_own_position(
            &"/x?a=1&after_position=0".parse().unwrap()
        ));
        assert!(!asks_its_own_position(&"/x?a=1".parse().unwrap()));
    }
}
