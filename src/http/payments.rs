//! The payment provider's callbacks, answered as WeChat Pay expects: 200/204 to acknowledge,
//! 4xx/5xx with `{"code": "FAIL", "message"}` to refuse (401 for a bad signature).

use super::extract::RequestInfo;
use super::AppState;
use crate::app::payment_callbacks;
use crate::error::AppError;
use crate::payments::{Notification, NotifyHeaders};
use aggregates::error_code::ErrorKind;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payments/wechat/notify", post(payment))
        .route("/api/v1/refunds/wechat/notify", post(refund))
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"code": "FAIL", "message": message.into()})),
    )
        .into_response()
}

fn verify(svc: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Notification, Box<Response>> {
    let headers = NotifyHeaders::from_http(headers).map_err(|e| {
        tracing::warn!(code = e.code(), "notification refused");
        Box::new(fail(StatusCode::UNAUTHORIZED, e.to_string()))
    })?;
    svc.payments
        .verifier()
        .verify(&headers, body, chrono::Utc::now())
        .map_err(|e| {
            tracing::warn!(code = e.code(), "notification refused");
            let status = match e.code() {
                "notify_malformed" | "notify_unsupported_event" | "notify_decrypt_failed" => {
                    StatusCode::BAD_REQUEST
                }
                _ => StatusCode::UNAUTHORIZED,
            };
            Box::new(fail(status, e.to_string()))
        })
}

fn answer(result: Result<Option<i64>, AppError>) -> Response {
    match result {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(AppError::Refused {
            code,
            kind,
            message,
        }) => {
            tracing::warn!(code, %message, "notification refused by the ledger");
            let status = match kind {
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            fail(status, message)
        }
        Err(e) => {
            tracing::error!(error = %e, "notification not recorded; the provider will retry");
            fail(StatusCode::SERVICE_UNAVAILABLE, "try again later")
        }
    }
}

async fn payment(
    State(svc): State<AppState>,
    info: RequestInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return fail(e.status(), e.body_text()),
    };
    match verify(&svc, &headers, &body) {
        Ok(Notification::Payment(result)) => {
            answer(payment_callbacks::on_payment(&svc, &result, &info.request_id).await)
        }
        Ok(Notification::Refund(_)) => {
            fail(StatusCode::BAD_REQUEST, "a refund sent to the payment URL")
        }
        Err(response) => *response,
    }
}

async fn refund(
    State(svc): State<AppState>,
    info: RequestInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return fail(e.status(), e.body_text()),
    };
    match verify(&svc, &headers, &body) {
        Ok(Notification::Refund(result)) => {
            answer(payment_callbacks::on_refund(&svc, &result, &info.request_id).await)
        }
        Ok(Notification::Payment(_)) => {
            fail(StatusCode::BAD_REQUEST, "a payment sent to the refund URL")
        }
        Err(response) => *response,
    }
}
