//! Reading the `payment_problems` view: the problems staff have yet to handle.

use aggregates::permit::ProblemStatus;
use sqlx::AnyPool;

/// A refund that went wrong and waits for staff.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenProblem {
    /// Problem id.
    pub problem_id: String,
    /// `refund_…` or `stray_refund_…` and how it failed.
    pub kind: String,
    /// The renewal.
    pub renewal_id: String,
    /// The payment order.
    pub out_trade_no: String,
    /// The refund number.
    pub out_refund_no: String,
    /// The amount to pay back.
    pub amount_fen: i64,
    /// What the provider said.
    pub detail: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// Every open problem, oldest first.
pub async fn open(db: &AnyPool) -> Result<Vec<OpenProblem>, sqlx::Error> {
    sqlx::query_as(
        "SELECT problem_id, kind, renewal_id, out_trade_no, out_refund_no, amount_fen, detail,
                since
           FROM payment_problems WHERE status = $1 ORDER BY since, problem_id",
    )
    .bind(ProblemStatus::Open.as_str())
    .fetch_all(db)
    .await
}
