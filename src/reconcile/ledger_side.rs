//! The ledger's side of a reconciliation, read from the event log itself (not from a view, so
//! nothing lags): the permit streams' payments and refunds, each dated by when it was recorded
//! (`recorded_at`, the real time the provider's notification was appended; the trade bill is
//! dated by WeChat's real clock too, whatever the sandbox's business clock says).

use super::compare::{LedgerMoney, LedgerPayment, LedgerRefund, LedgerRefundState};
use crate::store::{EventLog, StoreError};
use aggregates::permit::{Permit, PermitEvent};
use cqrs_es::Aggregate;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Every payment and refund the ledger holds.
pub async fn ledger_money(log: &EventLog) -> Result<LedgerMoney, StoreError> {
    let mut orders: HashMap<Uuid, String> = HashMap::new();
    let mut payments = Vec::new();
    let mut refunds: BTreeMap<String, LedgerRefund> = BTreeMap::new();
    for stored in log.load_type(Permit::TYPE).await? {
        let event = projections::decode_permit(&stored)
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        let order_of = |orders: &HashMap<Uuid, String>, renewal_id: Uuid| {
            orders
                .get(&renewal_id)
                .cloned()
                .unwrap_or_else(|| renewal_id.simple().to_string())
        };
        match event {
            Some(PermitEvent::RenewalSubmitted {
                renewal_id,
                order_id,
                ..
            }) => {
                orders.insert(renewal_id, order_id);
            }
            Some(PermitEvent::Paid {
                renewal_id,
                transaction_id,
                amount,
                ..
            }) => payments.push(LedgerPayment {
                out_trade_no: order_of(&orders, renewal_id),
                transaction_id,
                fen: amount.get(),
                recorded_at: stored.recorded_at,
            }),
            Some(PermitEvent::StrayPaymentReceived {
                renewal_id,
                transaction_id,
                amount,
                out_refund_no,
                ..
            }) => {
                let out_trade_no = order_of(&orders, renewal_id);
                payments.push(LedgerPayment {
                    out_trade_no: out_trade_no.clone(),
                    transaction_id,
                    fen: amount.get(),
                    recorded_at: stored.recorded_at,
                });
                refunds.insert(
                    out_refund_no.clone(),
                    requested(out_trade_no, out_refund_no, amount.get()),
                );
            }
            Some(PermitEvent::RefundRequested {
                renewal_id,
                out_refund_no,
                amount,
                ..
            }) => {
                // Asked again after a failure: under way again.
                let out_trade_no = order_of(&orders, renewal_id);
                let refund = refunds
                    .entry(out_refund_no.clone())
                    .or_insert_with(|| requested(out_trade_no, out_refund_no, amount.get()));
                if refund.state == LedgerRefundState::Failed {
                    refund.state = LedgerRefundState::Requested;
                }
            }
            Some(
                PermitEvent::Refunded { out_refund_no, .. }
                | PermitEvent::StrayPaymentRefunded { out_refund_no, .. },
            ) => {
                if let Some(refund) = refunds.get_mut(&out_refund_no) {
                    refund.state = LedgerRefundState::Completed;
                    refund.completed_at = Some(stored.recorded_at);
                }
            }
            Some(
                PermitEvent::RefundFailed { out_refund_no, .. }
                | PermitEvent::StrayRefundFailed { out_refund_no, .. },
            ) => {
                if let Some(refund) = refunds.get_mut(&out_refund_no) {
                    if refund.state != LedgerRefundState::Completed {
                        refund.state = LedgerRefundState::Failed;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(LedgerMoney {
        payments,
        refunds: refunds.into_values().collect(),
    })
}

fn requested(out_trade_no: String, out_refund_no: String, fen: i64) -> LedgerRefund {
    LedgerRefund {
        out_trade_no,
        out_refund_no,
        fen,
        state: LedgerRefundState::Requested,
        completed_at: None,
    }
}
