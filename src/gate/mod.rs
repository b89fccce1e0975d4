//! The gate check: the in-memory [`GateIndex`] kept current from the feed by [`follow`], asked
//! without a database round trip, each answer optionally logged for the office.

mod follow;
mod log;

pub use follow::follow;
pub use log::GateLog;

use aggregates::values::Plate;
use chrono::NaiveDate;
use projections::gate_index::{GateAnswer, GateIndex};
use std::sync::RwLock;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// The gate's model and where it stands in the feed.
pub struct Gate {
    index: RwLock<GateIndex>,
    /// The position applied; `None` until the first catch-up with the feed finished.
    caught_up: watch::Sender<Option<i64>>,
    log: log::CheckLog,
}

/// Why a check cannot be answered now.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The model has not read the feed up to where it was asked to (or at all yet).
    #[error("the gate has not caught up with the ledger yet")]
    Lagging,
}

impl Gate {
    /// An empty gate that logs checks as `log` says.
    pub fn new(log: GateLog) -> Self {
        Self {
            index: RwLock::new(GateIndex::default()),
            caught_up: watch::channel(None).0,
            log: log::CheckLog::new(log),
        }
    }

    /// Whether `plate` may enter `lot_id` on business day `date`; refused until the model has
    /// caught up with the feed once.
    pub fn check(
        &self,
        lot_id: Uuid,
        plate: &Plate,
        date: NaiveDate,
    ) -> Result<GateAnswer, GateError> {
        if self.caught_up.borrow().is_none() {
            return Err(GateError::Lagging);
        }
        let answer = self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .check(lot_id, plate, date);
        self.log.record(lot_id, plate, date, &answer);
        Ok(answer)
    }

    /// Waits, at most `timeout`, until the model has applied `position`.
    pub async fn wait_for(&self, position: i64, timeout: Duration) -> Result<(), GateError> {
        let mut rx = self.caught_up.subscribe();
        let reached =
            tokio::time::timeout(timeout, rx.wait_for(|p| p.is_some_and(|p| p >= position)))
                .await
                .is_ok_and(|r| r.is_ok());
        if reached {
            Ok(())
        } else {
            Err(GateError::Lagging)
        }
    }

    /// The position applied, once caught up.
    pub fn position(&self) -> Option<i64> {
        *self.caught_up.borrow()
    }
}
