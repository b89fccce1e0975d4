//! The payment process: a requested refund (or a stray payment, one the renewal could not
//! take) becomes a refund request to the provider, and an
//! unpaid renewal that expired or was cancelled closes its order there; both through the
//! durable outbox (refunds reuse their `out_refund_no` on every retry).

use crate::outbox::{Outbox, CLOSE_ORDER, REFUND};
use crate::rows::Staged;
use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::permit::PermitEvent;
use serde_json::json;
use sqlx::AnyConnection;

/// The `payment_dispatch` projection: table `payment_dispatch_orders` (each renewal's order
/// number and amount); its output goes to the outbox.
pub struct PaymentDispatch;

const TABLES: &[&str] = &["payment_dispatch_orders"];

const SCHEMA: &[&str] = &["CREATE TABLE {payment_dispatch_orders} (
        renewal_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        amount_fen BIGINT NOT NULL
    )"];

crate::view_row! {
    /// A renewal's order number and amount.
    struct OrderRow in "payment_dispatch_orders" key (renewal_id) {
        renewal_id: String,
        order_id: String,
        amount_fen: i64,
    }
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
fn enqueue_refund(
    orders: &Staged<OrderRow>,
    outbox: &mut Outbox,
    event: &FeedEvent,
    renewal_id: uuid::Uuid,
    refund: Refund<'_>,
) -> Result<(), ProjectionError> {
    let Some(order) = orders.get(&vec![renewal_id.to_string()])? else {
        return Ok(());
    };
    let total = if refund.whole_payment {
        refund.refund_fen
    } else {
        order.amount_fen
    };
    let payload = json!({
        "renewal_id": renewal_id,
        "permit_id": event.aggregate_id,
        "out_trade_no": order.order_id,
        "out_refund_no": refund.out_refund_no,
        "refund_fen": refund.refund_fen,
        "total_fen": total,
        "reason": refund.reason,
    });
    outbox.push(REFUND, event, &payload);
    Ok(())
}

/// Applies one event to the batch's orders and outbox.
fn fold(
    orders: &mut Staged<OrderRow>,
    outbox: &mut Outbox,
    event: &FeedEvent,
    permit_event: PermitEvent,
) -> Result<(), ProjectionError> {
    match permit_event {
        PermitEvent::RenewalSubmitted {
            renewal_id,
            order_id,
            amount,
            ..
        } => orders.put(OrderRow {
            renewal_id: renewal_id.to_string(),
            order_id,
            amount_fen: amount.get(),
        }),
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
            enqueue_refund(orders, outbox, event, renewal_id, refund)?;
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
            enqueue_refund(orders, outbox, event, renewal_id, refund)?;
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
            enqueue_refund(orders, outbox, event, renewal_id, refund)?;
        }
        PermitEvent::RenewalExpiredUnpaid { renewal_id, .. }
        | PermitEvent::RenewalCancelled { renewal_id, .. } => {
            if let Some(order) = orders.get(&vec![renewal_id.to_string()])? {
                let payload = json!({"renewal_id": renewal_id, "out_trade_no": order.order_id});
                outbox.push(CLOSE_ORDER, event, &payload);
            }
        }
        _ => {}
    }
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
        self.apply_batch(tx, t, std::slice::from_ref(event)).await
    }
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        t: &Tables,
        events: &[FeedEvent],
    ) -> Result<(), ProjectionError> {
        let mut orders = Staged::new(t);
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            let Some(e) = decode_permit(event)? else {
                continue;
            };
            if let Some(renewal_id) = e.renewal_id() {
                orders.want(vec![renewal_id.to_string()]);
            }
            decoded.push((event, e));
        }
        orders.load(tx).await?;
        let mut outbox = Outbox::new();
        for (event, e) in decoded {
            fold(&mut orders, &mut outbox, event, e)?;
        }
        orders.flush(tx).await?;
        outbox.flush(tx).await?;
        Ok(())
    }
}
