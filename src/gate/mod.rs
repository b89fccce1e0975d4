//! The gate check: the in-memory [`GateIndex`] and the staff credentials the gate role signs in
//! with, both kept current from the feed by [`follow`] and asked without a database round trip,
//! each answer optionally logged for the office. An event the gate cannot decode is parked in
//! memory (logged, counted in `/metrics`) and gone past: the next start reads it again.

mod follow;
mod log;

pub use follow::follow;
pub use log::GateLog;

use crate::app::staff::{Credential, CredentialIndex};
use aggregates::values::Plate;
use chrono::{DateTime, NaiveDate, Utc};
use projections::gate_index::{GateAnswer, GateIndex};
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// The gate's model and where it stands in the feed.
pub struct Gate {
    index: RwLock<GateIndex>,
    credentials: RwLock<CredentialIndex>,
    parked: Mutex<Parked>,
    /// The position applied; `None` until the first catch-up with the feed finished.
    caught_up: watch::Sender<Option<i64>>,
    log: log::CheckLog,
}

/// The events the gate went past without applying.
#[derive(Debug, Default)]
struct Parked {
    count: u64,
    first: Vec<ParkedEvent>,
}

/// How many parked events the gate keeps the details of.
const PARKED_KEPT: usize = 100;

/// An event the gate could not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEvent {
    /// Its feed position.
    pub position: i64,
    /// Its type.
    pub event_type: String,
    /// Why it could not be applied.
    pub error: String,
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
            credentials: RwLock::new(CredentialIndex::default()),
            parked: Mutex::new(Parked::default()),
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

    /// What the in-memory credentials say about a staff token at `now`; `Unknown` until the
    /// model has caught up with the feed once.
    pub fn credential(&self, token: &str, now: DateTime<Utc>) -> Credential {
        if self.caught_up.borrow().is_none() {
            return Credential::Unknown;
        }
        self.credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(token, now)
    }

    /// How many events the gate went past without applying, and the first of them.
    pub fn parked(&self) -> (u64, Vec<ParkedEvent>) {
        let parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        (parked.count, parked.first.clone())
    }

    fn park(&self, event: ParkedEvent) {
        tracing::error!(
            position = event.position,
            event_type = %event.event_type,
            error = %event.error,
            "the gate cannot read an event: parked, it goes past it"
        );
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        parked.count += 1;
        if parked.first.len() < PARKED_KEPT {
            parked.first.push(event);
        }
    }

    /// The position applied, once caught up.
    pub fn position(&self) -> Option<i64> {
        *self.caught_up.borrow()
    }
}
