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

/// Work caused by events at or below this position was carried out before (a ledger imported
/// from another store): it is recorded as `skipped`, not done again.
pub const HORIZON: &str = "outbox_horizon";

/// Sets the horizon (after an import).
pub async fn set_horizon(db: &sqlx::AnyPool, position: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO service_secrets (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(HORIZON)
    .bind(position.to_string())
    .execute(db)
    .await?;
    Ok(())
}

/// Enqueues work caused by `event`, once (and not at all below the import horizon).
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
         SELECT $1, $2, $3,
                CASE WHEN $5 <= coalesce((SELECT CAST(value AS BIGINT) FROM service_secrets
                                          WHERE name = $6), 0)
                     THEN 'skipped' ELSE 'pending' END,
                0, $4, $4
          WHERE 1 = 1
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(format!("{kind}:{}", event.position))
    .bind(kind)
    .bind(payload.to_string())
    .bind(at)
    .bind(event.position)
    .bind(HORIZON)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
