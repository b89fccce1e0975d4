//! SMS reminders before a card's last approved period ends (by default 30 and 7 days before;
//! `PERMIT_LEDGER_REMINDER_DAYS`), on the business clock. The rule is
//! `aggregates::permit::reminder_due`; this worker finds the cards near their end in the `cards`
//! view, decides on each from its own events, and enqueues the SMS in the outbox keyed by card,
//! period end and reminder, so each is sent once however often it runs and on however many
//! instances.

use crate::error::AppError;
use crate::services::Services;
use aggregates::lot::Lot;
use aggregates::permit::{reminder_due, Permit};
use chrono::{Duration, Utc};
use projections::texts;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use uuid::Uuid;

/// Runs [`send_due`] every `reminder_every` until `shutdown` turns true.
pub async fn run(svc: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    if svc.settings.reminder_days.is_empty() {
        return;
    }
    loop {
        if let Err(e) = send_due(&svc).await {
            tracing::warn!(error = %e, "reminders could not be checked; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(svc.settings.reminder_every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Enqueues every reminder owed today; returns how many were new.
pub async fn send_due(svc: &Services) -> Result<usize, AppError> {
    let days = &svc.settings.reminder_days;
    let Some(furthest) = days.iter().max() else {
        return Ok(0);
    };
    let today = svc.clock.today();
    let until = today + Duration::days(i64::from(*furthest));
    let candidates = projections::cards::query::ending_between(
        &svc.store.db.read,
        &today.to_string(),
        &until.to_string(),
    )
    .await?;
    let mut lots: HashMap<String, Option<aggregates::lot::LotState>> = HashMap::new();
    let mut enqueued = 0;
    for (permit_id, lot_id) in candidates {
        let Ok(id) = permit_id.parse::<Uuid>() else {
            continue;
        };
        let Some(card) = svc
            .ledger
            .load::<Permit>(&id.to_string())
            .await?
            .aggregate
            .card
        else {
            continue;
        };
        if !lots.contains_key(&lot_id) {
            let lot = svc.ledger.load::<Lot>(&lot_id).await?.aggregate.registered;
            lots.insert(lot_id.clone(), lot);
        }
        let Some(lot) = lots.get(&lot_id).and_then(Option::as_ref) else {
            continue;
        };
        let Some(due) = reminder_due(&card, &lot.product.calendar, today, days) else {
            continue;
        };
        let plate = card.plate.as_str();
        let payload = json!({
            "lot_id": lot_id,
            "phone": card.phone.as_str(),
            "text": texts::reminder(&lot.name, plate, due.valid_to),
            "notice": "reminder",
            "template": "reminder",
            "params": texts::params::reminder(plate, due.valid_to),
        });
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let added = sqlx::query(
            "INSERT INTO outbox (id, kind, payload, status, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, 'pending', 0, $4, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(format!(
            "{}:reminder:{permit_id}:{}:{}",
            projections::outbox::SMS,
            due.valid_to,
            due.days_before
        ))
        .bind(projections::outbox::SMS)
        .bind(payload.to_string())
        .bind(now)
        .execute(&svc.store.db.write)
        .await?
        .rows_affected();
        enqueued += added as usize;
    }
    if enqueued > 0 {
        svc.read.outbox_work().notify_one();
    }
    Ok(enqueued)
}
