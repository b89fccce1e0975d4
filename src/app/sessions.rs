//! Owner sessions: a random token per verified code, stored as its SHA-256, bound to the phone
//! and the lot, expiring (7 days by default), surviving restarts, revocable.

use super::staff::token_digest;
use crate::store::{Db, StoreError};
use aggregates::values::Phone;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use uuid::Uuid;

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The verified phone.
    pub phone: Phone,
    /// The lot it is for.
    pub lot_id: Uuid,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// The payer's openid under the official account, when the session was opened from WeChat.
    pub payer_openid: Option<String>,
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Opens a session; returns its token (shown once) and its end.
pub async fn create(
    db: &Db,
    phone: &Phone,
    lot_id: Uuid,
    payer_openid: Option<&str>,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), StoreError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("pls_{}", hex::encode(bytes));
    let now = Utc::now();
    let expires_at = now + ttl;
    sqlx::query(
        "INSERT INTO owner_sessions (token_digest, phone, lot_id, payer_openid, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_digest(&token))
    .bind(phone.as_str())
    .bind(lot_id.to_string())
    .bind(payer_openid)
    .bind(fmt(now))
    .bind(fmt(expires_at))
    .execute(&db.write)
    .await?;
    Ok((token, expires_at))
}

/// The live session of a token, if any.
pub async fn find(db: &Db, token: &str) -> Result<Option<Session>, StoreError> {
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT phone, lot_id, expires_at, payer_openid FROM owner_sessions
          WHERE token_digest = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(token_digest(token))
    .bind(fmt(Utc::now()))
    .fetch_optional(&db.read)
    .await?;
    let Some((phone, lot_id, expires_at, payer_openid)) = row else {
        return Ok(None);
    };
    let malformed = |what: &str| StoreError::Malformed(format!("owner session {what}"));
    Ok(Some(Session {
        phone: Phone::parse(&phone).map_err(|_| malformed("phone"))?,
        lot_id: lot_id.parse().map_err(|_| malformed("lot"))?,
        expires_at: DateTime::parse_from_rfc3339(&expires_at)
            .map_err(|_| malformed("expiry"))?
            .with_timezone(&Utc),
        payer_openid,
    }))
}

/// Deletes the sessions that ended (expired or revoked) before `now`; returns how many.
pub async fn purge_ended(db: &Db, now: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM owner_sessions WHERE expires_at <= $1 OR revoked_at IS NOT NULL")
            .bind(fmt(now))
            .execute(&db.write)
            .await?
            .rows_affected(),
    )
}

/// Ends a session now.
pub async fn revoke(db: &Db, token: &str) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE owner_sessions SET revoked_at = $1 WHERE token_digest = $2 AND revoked_at IS NULL",
    )
    .bind(fmt(Utc::now()))
    .bind(token_digest(token))
    .execute(&db.write)
    .await?
    .rows_affected();
    Ok(n == 1)
}
