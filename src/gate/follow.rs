//! Keeps the gate's model current: reads the feed after the last applied position, woken by
//! appends (this process's, and on PostgreSQL other instances' through the read side's LISTEN),
//! with a slow poll as a safety net.

use super::{Gate, ParkedEvent};
use crate::store::EventLog;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: i64 = 1000;
const POLL: Duration = Duration::from_secs(1);

/// Follows `log` into `gate` until `shutdown` turns true.
pub async fn follow(
    gate: Arc<Gate>,
    log: EventLog,
    mut appended: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut position = 0;
    loop {
        match catch_up(&gate, &log, &mut position).await {
            Ok(()) => {
                gate.caught_up.send_replace(Some(position));
            }
            Err(e) => tracing::warn!(error = %e, "the gate could not read the feed; retrying"),
        }
        tokio::select! {
            _ = appended.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Applies every readable event after `position`, moving it past each batch applied (so a read
/// that fails part way resumes after the last batch, and nothing is applied twice). The caller
/// says the model has caught up only once this has read to the end of the feed, so a check
/// never answers from a model half-way through the ledger.
async fn catch_up(
    gate: &Gate,
    log: &EventLog,
    position: &mut i64,
) -> Result<(), crate::store::StoreError> {
    loop {
        let batch = log.read_feed(*position, BATCH).await?;
        let Some(last) = batch.last().map(|e| e.position) else {
            return Ok(());
        };
        let mut failed = vec![];
        {
            let mut index = gate.index.write().unwrap_or_else(|e| e.into_inner());
            let mut credentials = gate.credentials.write().unwrap_or_else(|e| e.into_inner());
            for event in &batch {
                let applied = index
                    .apply(event)
                    .map_err(|e| e.to_string())
                    .and_then(|()| credentials.apply(event).map_err(|e| e.to_string()));
                if let Err(error) = applied {
                    failed.push(ParkedEvent {
                        position: event.position,
                        event_type: event.event_type.clone(),
                        error,
                    });
                }
            }
        }
        for event in failed {
            gate.park(event);
        }
        *position = last;
        // After the first full read, progress is shown batch by batch (`wait_for`).
        if gate.caught_up.borrow().is_some() {
            gate.caught_up.send_replace(Some(last));
        }
        if batch.len() < BATCH as usize {
            return Ok(());
        }
    }
}
