//! `Idempotency-Key` on owner POSTs: the same key and the same request replays the first
//! answer; the same key with a different request is 409 `idempotency_key_reused`; the same key
//! sent twice at once does the work once (the key is claimed, in its own row, first).

use super::error::{ApiError, ApiResult};
use crate::app::idempotency_keys::{self as keys, Claim};
use crate::error::AppError;
use crate::services::Services;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The key sent, if any (at most 200 characters).
pub fn key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| {
                    AppError::invalid(
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1–200 visible characters",
                    )
                })?;
            Ok(Some(key.to_string()))
        }
    }
}

/// A digest of what identifies the request (route, fields, file digests).
pub fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// How long a repeat waits for the first request's answer before answering 409
/// `idempotency_in_progress`.
const WAIT_FOR_FIRST: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `handler` once per (scope, key); replays its answer for a repeat. The key is claimed
/// before the work; a repeat arriving while the first is at work waits for its answer (up to
/// 10 s, then 409 `idempotency_in_progress`). A refusal is not kept: the claim is released,
/// and a retry runs again.
pub async fn once<F>(
    svc: &Services,
    scope: &str,
    key: Option<String>,
    request_digest: String,
    handler: F,
) -> ApiResult<Response>
where
    F: std::future::Future<Output = ApiResult<(StatusCode, Value)>>,
{
    let Some(key) = key else {
        let (status, body) = handler.await?;
        return Ok((status, Json(body)).into_response());
    };
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        match keys::claim(&svc.store.db, scope, &key, &request_digest).await? {
            Claim::Mine => break,
            Claim::Answered(status, body) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                return Ok((status, [("idempotent-replayed", "true")], Json(body)).into_response());
            }
            Claim::InFlight if tokio::time::Instant::now() >= deadline => {
                return Err(ApiError(AppError::rule(
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still being handled; retry shortly",
                )))
            }
            Claim::InFlight => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
        }
    }
    let db = &svc.store.db;
    match handler.await {
        Ok((status, body)) => {
            keys::answer(db, scope, &key, status.as_u16(), &body).await?;
            Ok((status, Json(body)).into_response())
        }
        Err(e) => {
            keys::release(db, scope, &key).await;
            Err(e)
        }
    }
}

/// The id a new record gets: derived from the Idempotency-Key where one is sent, so a retry
/// after a lost answer (or a crash between the steps of a desk action) names the same record
/// and finishes it rather than making another; random otherwise.
pub fn new_id(kind: &str, scope: &str, key: Option<&str>) -> uuid::Uuid {
    match key {
        Some(key) => uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("permit-ledger:{kind}:{scope}:{key}").as_bytes(),
        ),
        None => uuid::Uuid::new_v4(),
    }
}

/// Staff members' idempotency keys are their own.
pub fn staff_scope(staff_id: uuid::Uuid) -> String {
    format!("staff:{staff_id}")
}
