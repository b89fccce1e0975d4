//! Refunds that went wrong and are staff work: every payment problem with where it stands, the
//! open ones listed by `GET /api/v1/admin/payments/problems`.

use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::permit::{problem_kind, PermitEvent, ProblemStatus};
use sqlx::AnyConnection;

/// The `payment_problems` projection: table `payment_problems` (one row per problem) and
/// `payment_problems_orders` (each renewal's order number).
pub struct PaymentProblems;

const TABLES: &[&str] = &["payment_problems", "payment_problems_orders"];

const SCHEMA: &[&str] = &[
    "CREATE TABLE {payment_problems} (
        problem_id TEXT PRIMARY KEY,
        permit_id TEXT NOT NULL,
        renewal_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        out_trade_no TEXT NOT NULL,
        out_refund_no TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        detail TEXT NOT NULL,
        since TEXT NOT NULL,
        status TEXT NOT NULL,
        note TEXT,
        closed_at TEXT
    )",
    "CREATE INDEX {payment_problems}_open ON {payment_problems} (status, since)",
    "CREATE TABLE {payment_problems_orders} (
        renewal_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL
    )",
];

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Closes the problem `problem_id` with `status`.
async fn close(
    tx: &mut AnyConnection,
    t: &Tables,
    problem_id: &str,
    status: ProblemStatus,
    note: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET status = $1, note = $2, closed_at = $3 WHERE problem_id = $4",
        t.get("payment_problems")
    ))
    .bind(status.as_str())
    .bind(note)
    .bind(rfc3339(at))
    .bind(problem_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The provider paid `out_refund_no` back: its open or retried problems are settled.
async fn settle(
    tx: &mut AnyConnection,
    t: &Tables,
    renewal_id: uuid::Uuid,
    out_refund_no: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET status = $1, closed_at = $2
          WHERE renewal_id = $3 AND out_refund_no = $4 AND status IN ($5, $6)",
        t.get("payment_problems")
    ))
    .bind(ProblemStatus::Settled.as_str())
    .bind(rfc3339(at))
    .bind(renewal_id.to_string())
    .bind(out_refund_no)
    .bind(ProblemStatus::Open.as_str())
    .bind(ProblemStatus::Retried.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Projection for PaymentProblems {
    fn name(&self) -> &'static str {
        "payment_problems"
    }
    fn version(&self) -> i32 {
        1
    }
    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }
    fn schema(&self) -> &'static [&'static str] {
        SCHEMA
    }
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        t: &Tables,
        event: &FeedEvent,
    ) -> Result<(), ProjectionError> {
        let Some(permit_event) = decode_permit(event)? else {
            return Ok(());
        };
        match permit_event {
            PermitEvent::RenewalSubmitted {
                renewal_id,
                order_id,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {} (renewal_id, order_id) VALUES ($1, $2)",
                    t.get("payment_problems_orders")
                ))
                .bind(renewal_id.to_string())
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::PaymentProblemRaised {
                problem_id,
                renewal_id,
                stray,
                failure,
                out_refund_no,
                amount,
                detail,
                at,
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {problems} (problem_id, permit_id, renewal_id, kind,
                        out_trade_no, out_refund_no, amount_fen, detail, since, status)
                     SELECT $1, $2, $3, $4, coalesce(MAX(o.order_id), ''), $5, $6, $7, $8, $9
                       FROM {orders} o WHERE o.renewal_id = $3",
                    problems = t.get("payment_problems"),
                    orders = t.get("payment_problems_orders"),
                ))
                .bind(problem_id)
                .bind(&event.aggregate_id)
                .bind(renewal_id.to_string())
                .bind(problem_kind(stray, failure))
                .bind(out_refund_no)
                .bind(amount.get())
                .bind(detail)
                .bind(rfc3339(at))
                .bind(ProblemStatus::Open.as_str())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::PaymentProblemRetried { problem_id, at, .. } => {
                close(tx, t, &problem_id, ProblemStatus::Retried, None, at).await?;
            }
            PermitEvent::PaymentProblemResolved {
                problem_id,
                note,
                at,
                ..
            } => {
                close(tx, t, &problem_id, ProblemStatus::Resolved, Some(note), at).await?;
            }
            PermitEvent::Refunded {
                renewal_id,
                out_refund_no,
                refunded_at,
                ..
            }
            | PermitEvent::StrayPaymentRefunded {
                renewal_id,
                out_refund_no,
                refunded_at,
                ..
            } => settle(tx, t, renewal_id, &out_refund_no, refunded_at).await?,
            _ => {}
        }
        Ok(())
    }
}
