//! Work the outbox gave up on (`permit-ledger outbox failed`), and sending a held notice again
//! with the reason recorded (`permit-ledger outbox resend`).

use crate::sms::attempts::{self, Attempt};
use crate::store::{Db, StoreError};
use projections::outbox::SMS;

/// One piece of work given up on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GivenUp {
    /// The outbox key (the SMS id, the refund number's work…).
    pub id: String,
    /// `sms`, `refund`, `close_order`.
    pub kind: String,
    /// Tries so far.
    pub attempts: i32,
    /// Why it stopped.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: String,
    /// For SMS, every recorded attempt and the provider's answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sms_attempts: Vec<Attempt>,
}

/// Everything marked failed, oldest first.
pub async fn list(db: &Db) -> Result<Vec<GivenUp>, StoreError> {
    let rows: Vec<(String, String, i32, Option<String>, String)> = sqlx::query_as(
        "SELECT id, kind, attempts, last_error, created_at FROM outbox
          WHERE status = 'failed' ORDER BY created_at, id",
    )
    .fetch_all(&db.read)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, kind, attempts, last_error, created_at) in rows {
        let sms_attempts = if kind == SMS {
            attempts::list(db, &id).await?
        } else {
            Vec::new()
        };
        out.push(GivenUp {
            id,
            kind,
            attempts,
            last_error,
            created_at,
            sms_attempts,
        });
    }
    Ok(out)
}

/// Why a resend was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    /// No failed SMS has that id.
    #[error("no failed SMS notice has id {0}")]
    NotFound(String),
    /// The reason is empty.
    #[error("a reason is required (what was checked, and with whom)")]
    NoReason,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records `reason` and puts failed SMS notice `id` back in the queue, to be sent once more.
pub async fn resend(db: &Db, id: &str, reason: &str) -> Result<(), ResendError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ResendError::NoReason);
    }
    let kind: Option<String> =
        sqlx::query_scalar("SELECT kind FROM outbox WHERE id = $1 AND status = 'failed'")
            .bind(id)
            .fetch_optional(&db.read)
            .await
            .map_err(StoreError::from)?;
    if kind.as_deref() != Some(SMS) {
        return Err(ResendError::NotFound(id.to_string()));
    }
    attempts::authorise_resend(db, id, reason).await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query(
        "UPDATE outbox SET status = 'pending', next_attempt_at = $1, attempts = 0
          WHERE id = $2 AND status = 'failed'",
    )
    .bind(now)
    .bind(id)
    .execute(&db.write)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}
