//! The office's record of gate checks: none, one in [`SAMPLE_EVERY`], or all, as tracing events
//! with target `gate_check` (PERMIT_LEDGER_GATE_LOG).

use aggregates::values::Plate;
use chrono::NaiveDate;
use projections::gate_index::GateAnswer;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// One check in this many is logged when sampling.
pub const SAMPLE_EVERY: u64 = 100;

/// Which checks are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GateLog {
    /// None.
    Off,
    /// One in [`SAMPLE_EVERY`], and every refusal.
    #[default]
    Sampled,
    /// Every check.
    All,
}

pub(super) struct CheckLog {
    mode: GateLog,
    seen: AtomicU64,
}

impl CheckLog {
    pub(super) fn new(mode: GateLog) -> Self {
        Self {
            mode,
            seen: AtomicU64::new(0),
        }
    }

    pub(super) fn record(&self, lot_id: Uuid, plate: &Plate, date: NaiveDate, answer: &GateAnswer) {
        let log = match self.mode {
            GateLog::Off => false,
            GateLog::All => true,
            GateLog::Sampled => {
                !answer.reason.allowed()
                    || self
                        .seen
                        .fetch_add(1, Ordering::Relaxed)
                        .is_multiple_of(SAMPLE_EVERY)
            }
        };
        if log {
            tracing::info!(
                target: "gate_check",
                %lot_id,
                plate = plate.as_str(),
                %date,
                allowed = answer.reason.allowed(),
                reason = answer.reason.as_str(),
                permit_id = ?answer.permit_id,
            );
        }
    }
}
