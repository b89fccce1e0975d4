//! The payment process: a requested refund (or a stray payment, one the renewal could not
//! take) becomes a refund request to the provider, and an
//! unpaid renewal that expired or was cancelled closes its order there; both through the
//! durable outbox (refunds reuse their `out_refund_no` on every retry).

use crate::outbox::{self, CLOSE_ORDER, REFUND};
use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::permit::PermitEvent;
use serde_json::json;
use sqlx::{AnyConnection, Row};

/// The `payment_dispatch` projection: table `payment_dispatch_orders` (each renewal's order
/// number and amount); its output goes to the outbox.
pub struct PaymentDispatch;

const TABLES: &[&str] = &["payment_dispatch_orders"];

const SCHEMA: &[&str] = &["CREATE TABLE {payment_dispatch_orders} (
        renewal_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        amount_fen BIGINT NOT NULL
    )"];

async fn order_of(
    tx: &mut AnyConnection,
    t: &Tables,
    renewal_id: uuid::Uuid,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT order_id, amount_fen FROM {} WHERE renewal_id = $1",
        t.get("payment_dispatch_orders")
    ))
    .bind(renewal_id.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// Shown to the payer with the refund of a rejected renewal.
const REJECTED: &str = "续费审核未通过";
/// Shown to the payer with the refund of a stray payment.
const STRAY: &str = "续费订单已取消、已过期或重复支付，全额退回";

/// A refund to ask the provider for.
struct Refund<'a> {
    out_refund_no: &'a str,
    refund_fen: i64,
    /// The order's total is the refunded payment itself (a stray payment), not the order's.
    whole_payment: bool,
    reason: &'static str,
}

/// Puts a refund of the renewal's order into the outbox.
async fn enqueue_refund(
    tx: &mut AnyConnection,
    t: &Tables,
    event: &FeedEvent,
    renewal_id: uuid::Uuid,
    refund: Refund<'_>,
) -> Result<(), ProjectionError> {
    let Some((order_id, order_total)) = order_of(tx, t, renewal_id).await? else {
        return Ok(());
    };
    let total = if refund.whole_payment {
        refund.refund_fen
    } else {
        order_total
    };
    let payload = json!({
        "renewal_id": renewal_id,
        "permit_id": event.aggregate_id,
        "out_trade_no": order_id,
        "out_refund_no": refund.out_refund_no,
        "refund_fen": refund.refund_fen,
        "total_fen": total,
        "reason": refund.reason,
    });
    outbox::enqueue(tx, REFUND, event, &payload).await?;
    Ok(())
}

#[async_trait::async_trait]
impl Projection for PaymentDispatch {
    fn name(&self) -> &'static str {
        "payment_dispatch"
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
                amount,
                ..
            } => {
                sqlx::query(&format!(
                    "INSERT INTO {} (renewal_id, order_id, amount_fen) VALUES ($1, $2, $3)",
                    t.get("payment_dispatch_orders")
                ))
                .bind(renewal_id.to_string())
                .bind(order_id)
                .bind(amount.get())
                .execute(&mut *tx)
                .await?;
            }
            PermitEvent::RefundRequested {
                renewal_id,
                out_refund_no,
                amount,
                ..
            } => {
                let refund = Refund {
                    out_refund_no: &out_refund_no,
                    refund_fen: amount.get(),
                    whole_payment: false,
                    reason: REJECTED,
                };
                enqueue_refund(tx, t, event, renewal_id, refund).await?;
            }
            // Money the renewal could not take goes back in full, under its own refund number.
            PermitEvent::StrayPaymentReceived {
                renewal_id,
                out_refund_no,
                amount,
                ..
            } => {
                let refund = Refund {
                    out_refund_no: &out_refund_no,
                    refund_fen: amount.get(),
                    whole_payment: true,
                    reason: STRAY,
                };
                enqueue_refund(tx, t, event, renewal_id, refund).await?;
            }
            // Staff asked again for a failed refund (same number, or a new one after CLOSED).
            PermitEvent::PaymentProblemRetried {
                renewal_id,
                stray,
                out_refund_no,
                amount,
                ..
            } => {
                let refund = Refund {
                    out_refund_no: &out_refund_no,
                    refund_fen: amount.get(),
                    whole_payment: stray,
                    reason: if stray { STRAY } else { REJECTED },
                };
                enqueue_refund(tx, t, event, renewal_id, refund).await?;
            }
            PermitEvent::RenewalExpiredUnpaid { renewal_id, .. }
            | PermitEvent::RenewalCancelled { renewal_id, .. } => {
                if let Some((order_id, _)) = order_of(tx, t, renewal_id).await? {
                    let payload = json!({"renewal_id": renewal_id, "out_trade_no": order_id});
                    outbox::enqueue(tx, CLOSE_ORDER, event, &payload).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
