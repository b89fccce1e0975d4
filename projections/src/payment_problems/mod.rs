//! Refunds that went wrong and are staff work: every payment problem with where it stands, the
//! open ones listed by `GET /api/v1/admin/payments/problems`.

pub mod query;

use crate::rows::Staged;
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

crate::view_row! {
    /// A payment problem and where it stands.
    struct ProblemRow in "payment_problems" key (problem_id) {
        problem_id: String,
        permit_id: String,
        renewal_id: String,
        kind: String,
        out_trade_no: String,
        out_refund_no: String,
        amount_fen: i64,
        detail: String,
        since: String,
        status: String,
        note: Option<String>,
        closed_at: Option<String>,
    }
}

crate::view_row! {
    /// A renewal's order number.
    struct OrderRow in "payment_problems_orders" key (renewal_id) {
        renewal_id: String,
        order_id: String,
    }
}

/// The rows one batch works on.
struct Batch {
    problems: Staged<ProblemRow>,
    orders: Staged<OrderRow>,
}

impl Batch {
    /// Closes the problem `problem_id` with `status`.
    fn close(
        &mut self,
        problem_id: &str,
        status: ProblemStatus,
        note: Option<String>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ProjectionError> {
        if let Some(p) = self.problems.get_mut(&vec![problem_id.to_string()])? {
            p.status = status.as_str().to_string();
            p.note = note;
            p.closed_at = Some(rfc3339(at));
        }
        Ok(())
    }

    /// The provider paid `out_refund_no` back: its open or retried problems are settled.
    fn settle(
        &mut self,
        renewal_id: uuid::Uuid,
        out_refund_no: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ProjectionError> {
        let renewal_id = renewal_id.to_string();
        let open = [
            ProblemStatus::Open.as_str(),
            ProblemStatus::Retried.as_str(),
        ];
        for key in self.problems.matching(|p| {
            p.renewal_id == renewal_id
                && p.out_refund_no == out_refund_no
                && open.contains(&p.status.as_str())
        }) {
            if let Some(p) = self.problems.get_mut(&key)? {
                p.status = ProblemStatus::Settled.as_str().to_string();
                p.closed_at = Some(rfc3339(at));
            }
        }
        Ok(())
    }

    fn fold(
        &mut self,
        event: &FeedEvent,
        permit_event: PermitEvent,
    ) -> Result<(), ProjectionError> {
        match permit_event {
            PermitEvent::RenewalSubmitted {
                renewal_id,
                order_id,
                ..
            } => self.orders.put(OrderRow {
                renewal_id: renewal_id.to_string(),
                order_id,
            }),
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
                let out_trade_no = self
                    .orders
                    .get(&vec![renewal_id.to_string()])?
                    .map(|o| o.order_id.clone())
                    .unwrap_or_default();
                self.problems.put(ProblemRow {
                    problem_id,
                    permit_id: event.aggregate_id.clone(),
                    renewal_id: renewal_id.to_string(),
                    kind: problem_kind(stray, failure).to_string(),
                    out_trade_no,
                    out_refund_no,
                    amount_fen: amount.get(),
                    detail,
                    since: rfc3339(at),
                    status: ProblemStatus::Open.as_str().to_string(),
                    note: None,
                    closed_at: None,
                });
            }
            PermitEvent::PaymentProblemRetried { problem_id, at, .. } => {
                self.close(&problem_id, ProblemStatus::Retried, None, at)?;
            }
            PermitEvent::PaymentProblemResolved {
                problem_id,
                note,
                at,
                ..
            } => {
                self.close(&problem_id, ProblemStatus::Resolved, Some(note), at)?;
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
            } => self.settle(renewal_id, &out_refund_no, refunded_at)?,
            _ => {}
        }
        Ok(())
    }
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
        self.apply_batch(tx, t, std::slice::from_ref(event)).await
    }
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        t: &Tables,
        events: &[FeedEvent],
    ) -> Result<(), ProjectionError> {
        let mut b = Batch {
            problems: Staged::new(t),
            orders: Staged::new(t),
        };
        let mut decoded = Vec::with_capacity(events.len());
        // Renewals whose problems a refund may settle.
        let mut refunded = Vec::new();
        for event in events {
            let Some(e) = decode_permit(event)? else {
                continue;
            };
            match &e {
                PermitEvent::PaymentProblemRaised { renewal_id, .. } => {
                    b.orders.want(vec![renewal_id.to_string()]);
                }
                PermitEvent::PaymentProblemRetried { problem_id, .. }
                | PermitEvent::PaymentProblemResolved { problem_id, .. } => {
                    b.problems.want(vec![problem_id.clone()]);
                }
                PermitEvent::Refunded { renewal_id, .. }
                | PermitEvent::StrayPaymentRefunded { renewal_id, .. } => {
                    refunded.push(renewal_id.to_string());
                }
                _ => {}
            }
            decoded.push((event, e));
        }
        b.orders.load(tx).await?;
        b.problems.load(tx).await?;
        b.problems.load_by(tx, "renewal_id", &refunded).await?;
        for (event, e) in decoded {
            b.fold(event, e)?;
        }
        b.problems.flush(tx).await?;
        b.orders.flush(tx).await?;
        Ok(())
    }
}
