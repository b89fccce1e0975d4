//! Closes unpaid renewals whose payment window has ended (on the business clock), after asking
//! the payment provider whether the order was paid after all.

use crate::services::Services;
use aggregates::metadata::{Actor, EventMetadata, Role};
use aggregates::permit::{Permit, PermitCommand, RenewalStatus};
use std::sync::Arc;
use tokio::sync::watch;

pub(super) async fn run(svc: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = expire_due(&svc).await {
            tracing::warn!(error = %e, "expiring unpaid renewals failed; retrying");
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
    }
}

fn fmt(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Unpaid-looking renewals past their window: from the lookup written with each submission
/// (no view involved), and, for renewals submitted before it carried the window, from the
/// `renewals` view.
async fn due(
    svc: &Services,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut due: Vec<(String, String)> = sqlx::query_as(
        "SELECT renewal_id, permit_id FROM order_lookup
          WHERE settled = 0 AND pay_by IS NOT NULL AND pay_by <= $1 ORDER BY pay_by LIMIT 200",
    )
    .bind(fmt(now))
    .fetch_all(&svc.store.db.write)
    .await?;
    let older = projections::cards::query::unpaid_past(&svc.store.db.read, &fmt(now), 200).await?;
    for row in older {
        if !due.contains(&row) {
            due.push(row);
        }
    }
    Ok(due)
}

/// Marks a renewal the timer need not look at again.
async fn settle(svc: &Services, renewal_id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE order_lookup SET settled = 1 WHERE renewal_id = $1")
        .bind(renewal_id.to_string())
        .execute(&svc.store.db.write)
        .await?;
    Ok(())
}

/// Expires every unpaid renewal past its window; returns how many.
pub async fn expire_due(svc: &Services) -> Result<usize, crate::error::AppError> {
    let now = svc.clock.now();
    let mut expired = 0;
    for (renewal_id, permit_id) in due(svc, now).await? {
        let Ok(renewal_id) = renewal_id.parse::<uuid::Uuid>() else {
            continue;
        };
        // Already paid, cancelled or expired (the ledger says, not a view): nothing to do.
        let card = svc.ledger.load::<Permit>(&permit_id).await?;
        let awaiting = card.aggregate.card.as_ref().is_some_and(|c| {
            c.renewals
                .iter()
                .any(|r| r.renewal_id == renewal_id && r.status == RenewalStatus::AwaitingPayment)
        });
        if !awaiting {
            settle(svc, renewal_id).await?;
            continue;
        }
        // Paid at the last moment, with the notification still on its way? Ask first: a paid
        // order is never closed as unpaid. If the provider cannot be asked, try next round.
        let request_id = format!("timer-{}", uuid::Uuid::new_v4());
        match crate::app::payment_callbacks::check_order(svc, renewal_id, &request_id).await {
            Ok(Some(_)) => {
                tracing::info!(%renewal_id, "paid before its window ended; recorded from the order query");
                settle(svc, renewal_id).await?;
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%renewal_id, error = %e, "order not queried; not expired yet");
                continue;
            }
        }
        let meta = EventMetadata {
            actor: Actor::System,
            role: Role::System,
            correlation_id: renewal_id.to_string(),
            causation_id: "timer:payment-window".into(),
            request_id,
        };
        match svc
            .ledger
            .execute::<Permit>(
                &permit_id,
                PermitCommand::ExpireUnpaid { renewal_id, now },
                &meta,
            )
            .await
        {
            Ok(c) => {
                if !c.events.is_empty() {
                    expired += 1;
                }
                settle(svc, renewal_id).await?;
            }
            Err(e) => tracing::debug!(%renewal_id, error = %e, "not expired"),
        }
    }
    Ok(expired)
}
