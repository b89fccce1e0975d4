//! `Idempotency-Key` on owner POSTs: the same key and the same request replays the first
//! answer; the same key with a different request is 409 `idempotency_key_reused`; the same key
//! sent twice at once does the work once (the key is claimed, in its own row, first).

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

/// A claim older than this whose answer never came (the process stopped mid-request, or the
/// client went away and the work was dropped) may be taken over by a retry.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::seconds(30);

/// How long a repeat waits for the first request's answer before answering 409
/// `idempotency_in_progress`.
const WAIT_FOR_FIRST: std::time::Duration = std::time::Duration::from_secs(10);

/// `status` of a claimed key whose answer is not stored yet.
const IN_FLIGHT: i32 = 0;

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn fmt(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What the key's row says.
enum Claim {
    /// This request holds the key: it does the work.
    Mine,
    /// The first request's answer, to replay.
    Answered(StatusCode, Value),
    /// Another request with the same key is doing the work.
    InFlight,
}

/// Claims (scope, key) for this request, before any work: the row is written first, so of
/// concurrent requests with one key exactly one does the work.
async fn claim(svc: &Services, scope: &str, key: &str, digest: &str) -> Result<Claim, AppError> {
    let db = &svc.store.db;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_digest, status, body, created_at)
         VALUES ($1, $2, $3, $4, '', $5) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(digest)
    .bind(IN_FLIGHT)
    .bind(fmt(now()))
    .execute(&db.write)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Mine);
    }
    let (stored_digest, status, body, claimed_at): (String, i32, String, String) = sqlx::query_as(
        "SELECT request_digest, status, body, created_at FROM idempotency_keys
          WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_one(&db.write)
    .await?;
    if stored_digest != digest {
        return Err(AppError::rule(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        ));
    }
    if status != IN_FLIGHT {
        let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
        return Ok(Claim::Answered(
            status,
            serde_json::from_str(&body).unwrap_or(Value::Null),
        ));
    }
    if claimed_at < fmt(now() - ABANDONED_AFTER) {
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET created_at = $1
              WHERE scope = $2 AND key = $3 AND status = $4 AND created_at = $5",
        )
        .bind(fmt(now()))
        .bind(scope)
        .bind(key)
        .bind(IN_FLIGHT)
        .bind(&claimed_at)
        .execute(&db.write)
        .await?
        .rows_affected();
        if taken == 1 {
            tracing::warn!(%scope, "an abandoned Idempotency-Key claim was taken over");
            return Ok(Claim::Mine);
        }
    }
    Ok(Claim::InFlight)
}

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
        match claim(svc, scope, &key, &request_digest).await? {
            Claim::Mine => break,
            Claim::Answered(status, body) => {
                return Ok((status, [("idempotent-replayed", "true")], Json(body)).into_response())
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
            sqlx::query(
                "UPDATE idempotency_keys SET status = $1, body = $2 WHERE scope = $3 AND key = $4",
            )
            .bind(i32::from(status.as_u16()))
            .bind(body.to_string())
            .bind(scope)
            .bind(&key)
            .execute(&db.write)
            .await
            .map_err(AppError::from)?;
            Ok((status, Json(body)).into_response())
        }
        Err(e) => {
            let released = sqlx::query(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = $3",
            )
            .bind(scope)
            .bind(&key)
            .bind(IN_FLIGHT)
            .execute(&db.write)
            .await;
            if let Err(release) = released {
                tracing::warn!(error = %release, "an Idempotency-Key claim could not be released");
            }
            Err(e)
        }
    }
}

/// Staff members' idempotency keys are their own.
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

pub fn staff_scope(staff_id: uuid::Uuid) -> String {
    format!("staff:{staff_id}")
}
