//! The durable outbox: work for the outside world (SMS, refunds, closing orders) that a
//! projection decides on inside its transaction, and a dispatcher in the service carries out.
//!
//! Rows are keyed by `{kind}:{source event position}`, so a rebuilt projection re-enqueues
//! nothing that was already enqueued (`ON CONFLICT DO NOTHING`): each event yields its work
//! exactly once. The table is not owned by any projection and survives rebuilds.

use crate::FeedEvent;
use serde_json::Value;
use sqlx::AnyConnection;

/// SMS notices to owners.
pub const SMS: &str = "sms";
/// Refund requests to the payment provider.
pub const REFUND: &str = "refund";
/// Orders to close at the payment provider.
pub const CLOSE_ORDER: &str = "close_order";

/// Enqueues work caused by `event`, once.
pub async fn enqueue(
    tx: &mut AnyConnection,
    kind: &str,
    event: &FeedEvent,
    payload: &Value,
) -> Result<(), sqlx::Error> {
    let at = event
        .recorded_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query(
        "INSERT INTO outbox (id, kind, payload, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(format!("{kind}:{}", event.position))
    .bind(kind)
    .bind(payload.to_string())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
