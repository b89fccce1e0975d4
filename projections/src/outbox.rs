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

/// Work a batch enqueues, written with the batch (once per event and kind, and not at all
/// below the import horizon).
#[derive(Debug, Default)]
pub struct Outbox {
    rows: Vec<Work>,
}

#[derive(Debug)]
struct Work {
    id: String,
    kind: &'static str,
    payload: String,
    at: String,
    position: i64,
}

impl Outbox {
    /// Nothing enqueued yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Enqueues work of `kind` caused by `event`.
    pub fn push(&mut self, kind: &'static str, event: &FeedEvent, payload: &Value) {
        self.rows.push(Work {
            id: format!("{kind}:{}", event.position),
            kind,
            payload: payload.to_string(),
            at: event
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            position: event.position,
        });
    }

    /// Writes the enqueued work: rows that exist already (a rebuild) are left as they are.
    pub async fn flush(self, tx: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let horizon: Option<i64> =
            sqlx::query_scalar("SELECT CAST(value AS BIGINT) FROM service_secrets WHERE name = $1")
                .bind(HORIZON)
                .fetch_optional(&mut *tx)
                .await?;
        let horizon = horizon.unwrap_or(0);
        for chunk in crate::rows::chunks(&self.rows) {
            let sql = format!(
                "INSERT INTO outbox (id, kind, payload, status, next_attempt_at, created_at,
                    attempts) VALUES ({}) ON CONFLICT (id) DO NOTHING",
                crate::rows::placeholders(chunk.len(), 6)
                    .iter()
                    .map(|row| format!("{row}, 0"))
                    .collect::<Vec<_>>()
                    .join("), (")
            );
            let mut q = sqlx::query(&sql);
            for w in chunk {
                let status = if w.position <= horizon {
                    "skipped"
                } else {
                    "pending"
                };
                q = q
                    .bind(&w.id)
                    .bind(w.kind)
                    .bind(&w.payload)
                    .bind(status)
                    .bind(&w.at)
                    .bind(&w.at);
            }
            q.execute(&mut *tx).await?;
        }
        Ok(())
    }
}
