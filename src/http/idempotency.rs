//! `Idempotency-Key` on owner POSTs: the same key and the same request replays the first
//! answer; the same key with a different request is 409 `idempotency_key_reused`.

use super::error::{ApiError, ApiResult};
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

/// Runs `handler` once per (scope, key); replays its answer for a repeat.
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
    let stored: Option<(String, i32, String)> = sqlx::query_as(
        "SELECT request_digest, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(&key)
    .fetch_optional(&svc.store.db.read)
    .await
    .map_err(AppError::from)?;
    if let Some((digest, status, body)) = stored {
        if digest != request_digest {
            return Err(ApiError(AppError::rule(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )));
        }
        let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        return Ok((status, [("idempotent-replayed", "true")], Json(body)).into_response());
    }
    let (status, body) = handler.await?;
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_digest, status, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(&key)
    .bind(&request_digest)
    .bind(i32::from(status.as_u16()))
    .bind(body.to_string())
    .bind(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    .execute(&svc.store.db.write)
    .await
    .map_err(AppError::from)?;
    Ok((status, Json(body)).into_response())
}

/// Staff members' idempotency keys are their own.
pub fn staff_scope(staff_id: uuid::Uuid) -> String {
    format!("staff:{staff_id}")
}
