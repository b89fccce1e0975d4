//! Errors as HTTP answers: `{"error": {"code", "message"}}` with the status api.md names.

use crate::error::AppError;
use crate::store::StoreError;
use aggregates::error_code::ErrorKind;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn status_and_retry(&self) -> (StatusCode, Option<i64>) {
        match &self.0 {
            AppError::Refused { kind, .. } => match kind {
                ErrorKind::Invalid => (StatusCode::BAD_REQUEST, None),
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, None),
                ErrorKind::Rule => (StatusCode::CONFLICT, None),
                ErrorKind::RateLimited { retry_after_s } => {
                    (StatusCode::TOO_MANY_REQUESTS, Some((*retry_after_s).max(1)))
                }
                ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, None),
            },
            AppError::Unauthenticated { .. } => (StatusCode::UNAUTHORIZED, None),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, None),
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, None),
            AppError::UnsupportedMedia { .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
            AppError::Lagging(_) => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
            AppError::Busy | AppError::TimedOut | AppError::Overloaded => {
                (StatusCode::SERVICE_UNAVAILABLE, Some(1))
            }
            AppError::Upstream { .. } => (StatusCode::SERVICE_UNAVAILABLE, Some(5)),
            // Stored data that cannot be read is a fault, not an outage: retrying cannot help.
            AppError::Store(StoreError::Malformed(_)) => (StatusCode::INTERNAL_SERVER_ERROR, None),
            AppError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, Some(2)),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, retry_after) = self.status_and_retry();
        let message = match &self.0 {
            AppError::Store(e @ StoreError::Malformed(_)) => {
                tracing::error!(error = %e, "stored data cannot be read");
                "internal error".to_string()
            }
            AppError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                "the store is unavailable; try again shortly".to_string()
            }
            AppError::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let body = json!({"error": {"code": self.0.code(), "message": message}});
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
