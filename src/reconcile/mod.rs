//! Reconciliation: a day's WeChat Pay trade bill against the ledger's money.
//!
//! - [`compare`]: the comparison itself (pure) and the report.
//! - [`ledger_side`]: the ledger's payments and refunds, read from the event log.
//! - [`results`]: stored results (table `reconciliations`), the last per date served by
//!   `GET /api/v1/admin/reconciliation?date=`.
//! - [`cli`]: `permit-ledger reconcile --date YYYY-MM-DD [--json]`.
//! - [`daily`]: production mode's daily run for the day before.

pub mod cli;
pub mod compare;
pub mod daily;
pub mod ledger_side;
pub mod results;

use crate::payments::{PaymentProvider, ProviderError};
use crate::store::{Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
pub use compare::{Mismatch, MismatchKind, Report};
pub use results::RanBy;

/// Why a reconciliation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The bill could not be had or believed.
    #[error("the trade bill of {date}: {error}")]
    Bill {
        /// The day.
        date: NaiveDate,
        /// What the provider did.
        error: ProviderError,
    },
    /// The ledger could not be read.
    #[error("the ledger: {0}")]
    Ledger(#[from] StoreError),
    /// The result could not be kept.
    #[error("keeping the result: {0}")]
    Keep(#[from] sqlx::Error),
}

/// Fetches the bill of `date`, compares it with the ledger and keeps the report.
pub async fn reconcile(
    store: &Store,
    payments: &dyn PaymentProvider,
    date: NaiveDate,
    ran_by: RanBy,
    now: DateTime<Utc>,
) -> Result<Report, ReconcileError> {
    let bill = payments
        .trade_bill(date)
        .await
        .map_err(|error| ReconcileError::Bill { date, error })?;
    let money = ledger_side::ledger_money(&store.log).await?;
    let report = compare::compare(date, &bill, &money);
    results::save(&store.db, &report, now, ran_by).await?;
    if report.ok {
        tracing::info!(%date, rows = bill.rows.len(), "reconciliation: the bill and the ledger agree");
    } else {
        tracing::error!(%date, mismatches = report.mismatches.len(),
            "reconciliation: the bill and the ledger disagree; see GET /api/v1/admin/reconciliation");
    }
    Ok(report)
}
