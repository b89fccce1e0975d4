//! The idempotency keys' rows (`idempotency_keys`): a key is claimed in its own row before the
//! work, its answer stored after, its claim released when the work was refused.

use crate::error::AppError;
use crate::store::Db;
use serde_json::Value;

/// A claim older than this whose answer never came (the process stopped mid-request, or the
/// client went away and the work was dropped) may be taken over by a retry.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::seconds(30);

/// How long a key's answer is kept for replay: a retry after this runs as a new request.
pub const KEPT_FOR: chrono::Duration = chrono::Duration::days(7);

/// `status` of a claimed key whose answer is not stored yet.
const IN_FLIGHT: i32 = 0;

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn fmt(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What the key's row says.
pub enum Claim {
    /// This request holds the key: it does the work.
    Mine,
    /// The first request's answer (HTTP status and body), to replay.
    Answered(u16, Value),
    /// Another request with the same key is doing the work.
    InFlight,
}

/// Claims (scope, key) for this request, before any work: the row is written first, so of
/// concurrent requests with one key exactly one does the work.
pub async fn claim(db: &Db, scope: &str, key: &str, digest: &str) -> Result<Claim, AppError> {
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
        return Ok(Claim::Answered(
            u16::try_from(status).unwrap_or(200),
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

/// Stores the answer of the request that holds (scope, key), for repeats to replay.
pub async fn answer(
    db: &Db,
    scope: &str,
    key: &str,
    status: u16,
    body: &Value,
) -> Result<(), AppError> {
    sqlx::query("UPDATE idempotency_keys SET status = $1, body = $2 WHERE scope = $3 AND key = $4")
        .bind(i32::from(status))
        .bind(body.to_string())
        .bind(scope)
        .bind(key)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Releases the claim of a request that was refused, so that a retry runs again.
pub async fn release(db: &Db, scope: &str, key: &str) {
    let released =
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = $3")
            .bind(scope)
            .bind(key)
            .bind(IN_FLIGHT)
            .execute(&db.write)
            .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "an Idempotency-Key claim could not be released");
    }
}

/// Deletes the keys claimed before `now - KEPT_FOR`; returns how many.
pub async fn purge(db: &Db, now: chrono::DateTime<chrono::Utc>) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(fmt(now - KEPT_FOR))
            .execute(&db.write)
            .await?
            .rows_affected(),
    )
}
