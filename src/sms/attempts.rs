//! What was tried and what the provider said: every send is an attempt row written before the
//! request leaves and completed with the answer. A notice is sent again only when no earlier
//! attempt may have gone out, or when staff recorded why it should be (`outbox resend`).

use super::{Sent, SmsError, SmsGateway, SmsMessage};
use crate::store::{Db, StoreError};
use chrono::Utc;

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message.
    Sent,
    /// The provider answered that it did not send it (throttled, busy, unreachable).
    NotSent,
    /// The provider refused it for good.
    Refused,
    /// No answer came back: the message may have gone out.
    AnswerLost,
    /// Not a send: staff recorded why the message should be sent again.
    ResendAuthorised,
}

impl Outcome {
    /// Its name in `sms_attempts.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::NotSent => "not_sent",
            Outcome::Refused => "refused",
            Outcome::AnswerLost => "answer_lost",
            Outcome::ResendAuthorised => "resend_authorised",
        }
    }

    fn of(result: &Result<Sent, SmsError>) -> Self {
        match result {
            Ok(_) => Outcome::Sent,
            Err(SmsError::Transient(_)) => Outcome::NotSent,
            Err(SmsError::AnswerLost(_)) => Outcome::AnswerLost,
            Err(SmsError::Permanent { .. }) => Outcome::Refused,
        }
    }
}

/// Sends `message` through `gateway`, recording the attempt before and the answer after. A
/// store failure before the send is a transient error (nothing was sent); one after it is
/// logged, and leaves the attempt unanswered, so the notice is held rather than sent twice.
pub async fn send_recorded(
    db: &Db,
    gateway: &dyn SmsGateway,
    message: SmsMessage,
) -> Result<Sent, SmsError> {
    let id = message.id.clone();
    let attempt = begin(db, &message, gateway.provider())
        .await
        .map_err(|e| SmsError::Transient(format!("the attempt could not be recorded: {e}")))?;
    let result = gateway.send(message).await;
    let (code, detail) = match &result {
        Ok(sent) => (Some("ok".to_string()), sent.reference.clone()),
        Err(SmsError::Permanent { code, message }) => (Some(code.clone()), Some(message.clone())),
        Err(e) => (None, Some(e.to_string())),
    };
    if let Err(e) = finish(db, &id, attempt, Outcome::of(&result), code, detail).await {
        tracing::error!(message_id = %id, attempt, error = %e,
            "the SMS provider's answer could not be recorded");
    }
    result
}

async fn begin(db: &Db, message: &SmsMessage, provider: &str) -> Result<i32, StoreError> {
    let attempt: i32 = sqlx::query_scalar(
        "INSERT INTO sms_attempts (message_id, attempt, provider, template, started_at)
         SELECT $1, coalesce(max(attempt), 0) + 1, $2, $3, $4 FROM sms_attempts WHERE message_id = $1
         RETURNING attempt",
    )
    .bind(&message.id)
    .bind(provider)
    .bind(message.template.name())
    .bind(now())
    .fetch_one(&db.write)
    .await?;
    Ok(attempt)
}

async fn finish(
    db: &Db,
    id: &str,
    attempt: i32,
    outcome: Outcome,
    code: Option<String>,
    detail: Option<String>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sms_attempts SET finished_at = $1, outcome = $2, provider_code = $3, detail = $4
          WHERE message_id = $5 AND attempt = $6",
    )
    .bind(now())
    .bind(outcome.as_str())
    .bind(code)
    .bind(detail)
    .bind(id)
    .bind(attempt)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// Whether message `id` was sent already (an attempt the provider accepted): the process may
/// have stopped before marking its work done.
pub async fn sent_before(db: &Db, id: &str) -> Result<bool, StoreError> {
    let sent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sms_attempts WHERE message_id = $1 AND outcome = $2",
    )
    .bind(id)
    .bind(Outcome::Sent.as_str())
    .fetch_one(&db.read)
    .await?;
    Ok(sent > 0)
}

/// Why message `id` must not be sent again, if so: its latest attempt may have gone out (no
/// answer recorded, or the answer was lost) and no resend was authorised after it.
pub async fn held_back(db: &Db, id: &str) -> Result<Option<String>, StoreError> {
    let latest: Option<(i32, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT attempt, outcome, detail FROM sms_attempts WHERE message_id = $1
          ORDER BY attempt DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&db.read)
    .await?;
    Ok(match latest {
        Some((attempt, None, _)) => Some(format!(
            "attempt {attempt} was never answered (the process stopped while sending): \
             the message may have gone out; not sent again without a recorded reason"
        )),
        Some((attempt, Some(outcome), detail)) if outcome == Outcome::AnswerLost.as_str() => {
            Some(format!(
                "the answer to attempt {attempt} was lost ({}): the message may have gone out; \
                 not sent again without a recorded reason",
                detail.unwrap_or_default()
            ))
        }
        _ => None,
    })
}

/// Records staff's reason for sending message `id` again (after checking with the provider
/// that it did not arrive, say).
pub async fn authorise_resend(db: &Db, id: &str, reason: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sms_attempts
                (message_id, attempt, provider, template, started_at, finished_at, outcome, detail)
         SELECT $1, coalesce(max(attempt), 0) + 1, 'staff', '', $2, $2, $3, $4
           FROM sms_attempts WHERE message_id = $1",
    )
    .bind(id)
    .bind(now())
    .bind(Outcome::ResendAuthorised.as_str())
    .bind(reason)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// One recorded attempt, as `outbox show` prints it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Attempt {
    /// 1, 2, …
    pub attempt: i32,
    /// `tencent`, `aliyun`, `sandbox`, or `staff` for an authorised resend.
    pub provider: String,
    /// When it started.
    pub started_at: String,
    /// When the answer came (none: never answered).
    pub finished_at: Option<String>,
    /// [`Outcome::as_str`], none while unanswered.
    pub outcome: Option<String>,
    /// The provider's code (`ok` when sent).
    pub provider_code: Option<String>,
    /// The provider's reference when sent; the error otherwise; staff's reason.
    pub detail: Option<String>,
}

/// The attempts at message `id`, oldest first.
pub async fn list(db: &Db, id: &str) -> Result<Vec<Attempt>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT attempt, provider, started_at, finished_at, outcome, provider_code, detail
           FROM sms_attempts WHERE message_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(&db.read)
    .await?)
}
