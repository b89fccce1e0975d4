//! Bounds on every request: how long it may take, and how many one instance handles at once.
//!
//! Over either bound the answer is 503 with the error shape and `Retry-After: 1`: `timeout`
//! (the handler was stopped; a command may or may not have been carried out, which an
//! `Idempotency-Key` makes safe to retry) or `overloaded` (refused before any work).

use super::error::ApiError;
use crate::error::AppError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Stops a request still unanswered after `limit`.
pub(super) async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            ApiError(AppError::TimedOut).into_response()
        }
    }
}

/// Refuses a request when `permits` are all taken by requests in flight.
pub(super) async fn in_flight(
    State(permits): State<Arc<Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    match permits.try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) => ApiError(AppError::Overloaded).into_response(),
    }
}
