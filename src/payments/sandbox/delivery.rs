//! Delivering notifications: POST to the notify URL until a 2xx, on the retry schedule,
//! each attempt signed anew; then, if configured, once more as a duplicate.

use super::state::{PendingNotification, Target};
use super::Shared;
use chrono::Utc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Delivers one notification (a task of its own).
pub(super) async fn deliver(shared: Arc<Shared>, note: PendingNotification) {
    let acknowledged = send_until_acknowledged(&shared, &note, false).await;
    let removed = shared
        .commit(|ledger| Ok::<_, ()>(ledger.pending.remove(&note.id).is_some()))
        .await;
    if acknowledged && removed == Ok(true) && shared.config.duplicate_deliveries {
        tokio::time::sleep(duplicate_delay(&shared.config.retry_schedule)).await;
        send_until_acknowledged(&shared, &note, true).await;
    }
}

/// Tries now and after each wait of the schedule; true once acknowledged.
async fn send_until_acknowledged(
    shared: &Shared,
    note: &PendingNotification,
    duplicate: bool,
) -> bool {
    let waits = std::iter::once(Duration::ZERO).chain(shared.config.retry_schedule.iter().copied());
    for (attempt, wait) in (1u32..).zip(waits) {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let Some(url) = notify_url(shared, note.target).await else {
            return false;
        };
        shared.attempts.fetch_add(1, Ordering::SeqCst);
        match post(shared, &url, &note.body).await {
            Ok(status) if status.is_success() => {
                shared.acknowledged.fetch_add(1, Ordering::SeqCst);
                tracing::info!(
                    notification_id = %note.id,
                    event_type = %note.event_type,
                    attempt,
                    duplicate,
                    status = status.as_u16(),
                    "sandbox payments: notification acknowledged"
                );
                return true;
            }
            Ok(status) => tracing::warn!(
                notification_id = %note.id,
                event_type = %note.event_type,
                attempt,
                duplicate,
                status = status.as_u16(),
                "sandbox payments: notification refused, will retry"
            ),
            Err(e) => tracing::warn!(
                notification_id = %note.id,
                event_type = %note.event_type,
                attempt,
                duplicate,
                error = %e,
                "sandbox payments: notification not delivered, will retry"
            ),
        }
    }
    tracing::error!(
        notification_id = %note.id,
        event_type = %note.event_type,
        duplicate,
        "sandbox payments: retry schedule exhausted, notification given up"
    );
    false
}

/// The notify URL for `target`, waiting until one is set.
async fn notify_url(shared: &Shared, target: Target) -> Option<String> {
    let mut urls = shared.urls.subscribe();
    let current = urls.wait_for(Option::is_some).await.ok()?;
    current.as_ref().map(|urls| match target {
        Target::Payment => urls.payment.clone(),
        Target::Refund => urls.refund.clone(),
    })
}

async fn post(
    shared: &Shared,
    url: &str,
    body: &str,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let headers = shared.signer.sign(body.as_bytes(), Utc::now());
    let request = shared
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    let response = headers.apply_to(request).send().await?;
    Ok(response.status())
}

/// How long an acknowledged delivery waits before its duplicate: the schedule's first wait.
fn duplicate_delay(schedule: &[Duration]) -> Duration {
    schedule
        .first()
        .copied()
        .unwrap_or(Duration::from_millis(200))
}
