//! The outbox dispatcher: carries out work the projections enqueued, at least once, with the
//! outbox row's id as the idempotency key (SMS id, refund number), so the outside party acts
//! once. Failed attempts back off; after many, the row is marked failed for staff. Work the
//! outside party refuses for good (an SMS provider's permanent error: template not approved,
//! bad number, authentication; a refund the payment provider refuses) is marked failed at
//! once, with the provider's code. A refund given up on either way becomes a payment problem
//! (`RefundFailed` and `PaymentProblemRaised` in the ledger).

use crate::payments::RefundRequest;
use crate::services::Services;
use crate::sms::{attempts, budget, SmsError, SmsMessage, SmsTemplate};
use chrono::{Duration, Utc};
use projections::outbox::{CLOSE_ORDER, REFUND, SMS};
use serde_json::Value;
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::watch;

const MAX_ATTEMPTS: i32 = 20;

fn fmt(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) async fn run(svc: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    let work = svc.read.outbox_work();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = dispatch_due(&svc).await {
            tracing::warn!(error = %e, "outbox dispatch failed; retrying");
        }
        tokio::select! {
            _ = work.notified() => {}
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
}

/// Claims and carries out the due rows; returns how many were done.
pub async fn dispatch_due(svc: &Services) -> Result<usize, sqlx::Error> {
    let now = Utc::now();
    // Claim: push the next attempt a minute out, so another instance leaves these alone. The
    // outer conditions are re-checked on the row another instance may have just claimed
    // (PostgreSQL re-evaluates them after waiting on its lock), so a row is claimed once.
    let rows = sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1
          WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2
                        ORDER BY created_at LIMIT 50)
            AND status = 'pending' AND next_attempt_at <= $2
      RETURNING id, kind, payload, attempts",
    )
    .bind(fmt(now + Duration::minutes(1)))
    .bind(fmt(now))
    .fetch_all(&svc.store.db.write)
    .await?;
    let mut done = 0;
    for row in rows {
        let id: String = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let attempts: i32 = row.try_get("attempts")?;
        let payload: Value =
            serde_json::from_str(&row.try_get::<String, _>("payload")?).unwrap_or(Value::Null);
        match carry_out(svc, &id, &kind, &payload).await {
            Ok(()) => {
                sqlx::query("UPDATE outbox SET status = 'done', done_at = $1, last_error = NULL WHERE id = $2")
                    .bind(fmt(Utc::now()))
                    .bind(&id)
                    .execute(&svc.store.db.write)
                    .await?;
                done += 1;
            }
            Err(Failure { error, permanent }) => {
                let status = if permanent || attempts >= MAX_ATTEMPTS {
                    "failed"
                } else {
                    "pending"
                };
                let backoff = Duration::seconds(2i64.pow(attempts.clamp(0, 10) as u32));
                if permanent {
                    tracing::error!(%id, %kind, attempts, %error, "outbox work refused for good; not retried");
                } else {
                    tracing::warn!(%id, %kind, attempts, %error, "outbox work failed");
                }
                // A refund given up on is staff work: recorded before the row is closed, so
                // a crash in between leaves the row to be tried (and given up on) again.
                if kind == REFUND && status == "failed" {
                    if let Err(e) = crate::app::payment_problems::refund_given_up(
                        svc, &id, &payload, &error, !permanent,
                    )
                    .await
                    {
                        tracing::error!(%id, error = %e, "a refund given up on could not be recorded as a payment problem");
                    }
                }
                sqlx::query(
                    "UPDATE outbox SET status = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
                )
                .bind(status)
                .bind(fmt(Utc::now() + backoff))
                .bind(error)
                .bind(&id)
                .execute(&svc.store.db.write)
                .await?;
            }
        }
    }
    Ok(done)
}

/// Why work was not done: retried with backoff, or (`permanent`) given up at once.
struct Failure {
    error: String,
    permanent: bool,
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Self {
            error,
            permanent: false,
        }
    }
}

impl From<SmsError> for Failure {
    fn from(e: SmsError) -> Self {
        Self {
            // A lost answer is not retried either: the notice may have arrived.
            permanent: e.is_permanent() || e.may_have_been_sent(),
            error: e.to_string(),
        }
    }
}

/// Sends a notice once: done without sending when an earlier attempt was sent; held (failed,
/// with why) when an earlier attempt may have gone out and no resend was authorised since (`permit-ledger outbox resend`); counted against its lot's
/// daily budget when sent (notices are owed, so the budget never stops them).
async fn send_notice(svc: &Services, id: &str, p: &Value) -> Result<(), Failure> {
    let message = sms_of(id, p)?;
    let db = &svc.store.db;
    if attempts::sent_before(db, id)
        .await
        .map_err(|e| e.to_string())?
    {
        // Sent by an earlier claim whose process stopped before marking the work done.
        tracing::info!(%id, "the notice was sent already; not sent again");
        return Ok(());
    }
    if let Some(why) = attempts::held_back(db, id)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err(Failure {
            error: why,
            permanent: true,
        });
    }
    attempts::send_recorded(db, svc.sms.as_ref(), message).await?;
    // Notices enqueued before they carried their lot count under none.
    let lot = p["lot_id"].as_str().unwrap_or_default();
    let day = aggregates::business_time::business_date(svc.clock.now());
    if let Err(e) = budget::spend(db, lot, day, svc.settings.sms_daily_budget).await {
        tracing::warn!(%id, error = %e, "a sent notice could not be counted against the budget");
    }
    Ok(())
}

/// The SMS an outbox payload describes. Payloads enqueued before templates existed have no
/// `template`/`params`: their `notice` names the template and the parameters are empty, so the
/// sandbox still shows their text while a real gateway refuses them permanently
/// (`missing_template_params`), visibly, rather than send a template with holes in it.
fn sms_of(id: &str, p: &Value) -> Result<SmsMessage, Failure> {
    let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let name = p["template"].as_str().or_else(|| p["notice"].as_str());
    let template = name
        .and_then(SmsTemplate::from_name)
        .ok_or_else(|| Failure {
            error: format!("the SMS payload names no known template ({name:?})"),
            permanent: true,
        })?;
    let params = p["params"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    Ok(SmsMessage {
        id: id.to_string(),
        phone: text("phone"),
        template,
        params,
        text: text("text"),
        code: None,
    })
}

async fn carry_out(svc: &Services, id: &str, kind: &str, p: &Value) -> Result<(), Failure> {
    let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    match kind {
        SMS => send_notice(svc, id, p).await,
        REFUND => svc
            .payments
            .request_refund(RefundRequest {
                out_trade_no: text("out_trade_no"),
                out_refund_no: text("out_refund_no"),
                refund_fen: p["refund_fen"].as_i64().unwrap_or_default(),
                total_fen: p["total_fen"].as_i64().unwrap_or_default(),
                // Rows enqueued before the reason was part of the payload are rejections.
                reason: p["reason"].as_str().unwrap_or("续费审核未通过").into(),
            })
            .await
            .map_err(|e| Failure {
                permanent: !e.is_retryable(),
                error: e.to_string(),
            }),
        CLOSE_ORDER => match svc.payments.close_order(&text("out_trade_no")).await {
            Ok(()) | Err(crate::payments::ProviderError::UnknownOrder) => Ok(()),
            Err(crate::payments::ProviderError::AlreadyPaid) => {
                tracing::error!(out_trade_no = %text("out_trade_no"),
                    "an order closed by the ledger was paid at the provider: refund it by hand");
                Ok(())
            }
            Err(e) => Err(e.to_string().into()),
        },
        other => {
            tracing::error!(kind = other, "unknown outbox work");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_payload_with_template_and_params_becomes_that_message() {
        let m = sms_of(
            "sms:9",
            &json!({"phone": "13912345678", "text": "t", "notice": "rejected",
                    "template": "rejected", "params": ["京A66666", "照片不清晰"]}),
        )
        .ok()
        .unwrap();
        assert_eq!(m.template, SmsTemplate::Rejected);
        assert_eq!(m.params, ["京A66666", "照片不清晰"]);
        assert_eq!(m.id, "sms:9");
        assert_eq!(m.check_params(), Ok(()));
    }

    #[test]
    fn an_old_payload_keeps_its_text_and_is_refused_by_real_gateways() {
        let m = sms_of(
            "sms:3",
            &json!({"phone": "13912345678", "text": "t", "notice": "approved"}),
        )
        .ok()
        .unwrap();
        assert_eq!((m.template, m.text.as_str()), (SmsTemplate::Approved, "t"));
        assert!(m.check_params().unwrap_err().is_permanent());
        let none = sms_of("sms:4", &json!({"phone": "1", "text": "t"}));
        assert!(matches!(
            none,
            Err(Failure {
                permanent: true,
                ..
            })
        ));
    }
}
