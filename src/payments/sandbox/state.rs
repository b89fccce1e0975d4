//! The sandbox's orders, refunds and undelivered notifications, and the rules WeChat applies
//! to them. Pure: no clock, no I/O.

use super::error::SandboxError;
use crate::payments::port::{CreateOrder, ProviderError, RefundRequest};
use crate::payments::wechat::bill::{BillPayment, BillRefund, BillRow, TradeBill};
use crate::payments::wechat::RefundStatus;
use aggregates::business_time::{business_date, business_local_time};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an order stands (WeChat's `trade_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderState {
    /// Created, not paid.
    #[serde(rename = "NOTPAY")]
    NotPay,
    /// Paid.
    #[serde(rename = "SUCCESS")]
    Success,
    /// Closed unpaid (by the merchant, or its window ended and someone tried to pay).
    #[serde(rename = "CLOSED")]
    Closed,
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundState {
    /// Asked for; the outcome is not notified yet.
    Processing,
    /// Paid back.
    Success,
    /// Closed without paying; the same out_refund_no may be asked for again.
    Closed,
    /// Failed; stays so.
    Abnormal,
}

impl RefundState {
    /// WeChat's name for it (退款状态).
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Processing => "PROCESSING",
            RefundState::Success => "SUCCESS",
            RefundState::Closed => "CLOSED",
            RefundState::Abnormal => "ABNORMAL",
        }
    }
}

impl From<RefundStatus> for RefundState {
    fn from(status: RefundStatus) -> Self {
        match status {
            RefundStatus::Success => RefundState::Success,
            RefundStatus::Closed => RefundState::Closed,
            RefundStatus::Abnormal => RefundState::Abnormal,
        }
    }
}

/// An order as the sandbox sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSnapshot {
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Amount, fen.
    pub amount_fen: i64,
    /// End of the payment window.
    pub expires_at: DateTime<Utc>,
    /// The prepay id handed out.
    pub prepay_id: String,
    /// Stored state (an expired unpaid order shows NOTPAY until someone tries to pay it).
    pub state: OrderState,
    /// WeChat's transaction number, once paid.
    pub transaction_id: Option<String>,
    /// When it was paid.
    pub success_time: Option<DateTime<Utc>>,
    /// Sum of its successful refunds, fen.
    pub refunded_fen: i64,
}

/// A refund as the sandbox sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSnapshot {
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// The refunded order.
    pub out_trade_no: String,
    /// WeChat's refund number.
    pub refund_id: String,
    /// Amount, fen.
    pub refund_fen: i64,
    /// Where it stands.
    pub state: RefundState,
    /// How many times it was started (a CLOSED refund asked for again starts anew).
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OrderRecord {
    pub out_trade_no: String,
    pub description: String,
    pub amount_fen: i64,
    pub expires_at: DateTime<Utc>,
    pub prepay_id: String,
    pub state: OrderState,
    pub transaction_id: Option<String>,
    pub success_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RefundRecord {
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub refund_id: String,
    pub refund_fen: i64,
    pub total_fen: i64,
    pub reason: String,
    pub state: RefundState,
    pub attempt: u32,
    pub success_time: Option<DateTime<Utc>>,
    /// When the refund was first accepted (the day its bill row falls on); absent in mirror
    /// files written before bills were kept.
    #[serde(default)]
    pub accepted_at: Option<DateTime<Utc>>,
}

/// Which notify URL a notification goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Target {
    Payment,
    Refund,
}

/// A notification not yet acknowledged (kept so a restarted sandbox delivers it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingNotification {
    pub id: String,
    pub target: Target,
    pub event_type: String,
    /// The exact signed body; each attempt signs it anew.
    pub body: String,
}

/// Everything the sandbox remembers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Ledger {
    pub orders: BTreeMap<String, OrderRecord>,
    pub refunds: BTreeMap<String, RefundRecord>,
    pub pending: BTreeMap<String, PendingNotification>,
}

impl Ledger {
    /// Creates the order, or returns the existing one's prepay id.
    pub fn create_order(
        &mut self,
        order: &CreateOrder,
        now: DateTime<Utc>,
        new_prepay_id: impl FnOnce() -> String,
    ) -> Result<String, ProviderError> {
        check_out_trade_no(&order.out_trade_no)?;
        if let Some(existing) = self.orders.get_mut(&order.out_trade_no) {
            expire(existing, now);
            return match existing.state {
                OrderState::Success => Err(ProviderError::AlreadyPaid),
                OrderState::Closed => Err(ProviderError::OrderClosed),
                OrderState::NotPay if existing.amount_fen != order.amount_fen => {
                    Err(ProviderError::AmountMismatch)
                }
                OrderState::NotPay => Ok(existing.prepay_id.clone()),
            };
        }
        if order.amount_fen < 1 {
            return Err(invalid("amount_fen must be at least 1"));
        }
        let chars = order.description.chars().count();
        if chars == 0 || chars > 127 {
            return Err(invalid("description must be 1 to 127 characters"));
        }
        if order.expires_at <= now {
            return Err(invalid("expires_at must be in the future"));
        }
        let prepay_id = new_prepay_id();
        self.orders.insert(
            order.out_trade_no.clone(),
            OrderRecord {
                out_trade_no: order.out_trade_no.clone(),
                description: order.description.clone(),
                amount_fen: order.amount_fen,
                expires_at: order.expires_at,
                prepay_id: prepay_id.clone(),
                state: OrderState::NotPay,
                transaction_id: None,
                success_time: None,
            },
        );
        Ok(prepay_id)
    }

    /// Closes an unpaid order (closing a closed one again is fine).
    pub fn close_order(&mut self, out_trade_no: &str) -> Result<(), ProviderError> {
        let order = self
            .orders
            .get_mut(out_trade_no)
            .ok_or(ProviderError::UnknownOrder)?;
        match order.state {
            OrderState::Success => Err(ProviderError::AlreadyPaid),
            OrderState::NotPay | OrderState::Closed => {
                order.state = OrderState::Closed;
                Ok(())
            }
        }
    }

    /// The payer pays: the order becomes SUCCESS with a new transaction id.
    pub fn pay(
        &mut self,
        out_trade_no: &str,
        now: DateTime<Utc>,
        new_transaction_id: impl FnOnce() -> String,
    ) -> Result<OrderRecord, SandboxError> {
        let order = self
            .orders
            .get_mut(out_trade_no)
            .ok_or(SandboxError::UnknownOrder)?;
        expire(order, now);
        match order.state {
            OrderState::Success => Err(SandboxError::AlreadyPaid),
            OrderState::Closed => Err(SandboxError::OrderClosed),
            OrderState::NotPay => {
                order.state = OrderState::Success;
                order.transaction_id = Some(new_transaction_id());
                order.success_time = Some(now);
                Ok(order.clone())
            }
        }
    }

    /// Takes a refund request. `Some(attempt)` means a refund attempt has started and its
    /// outcome is due; `None` means the request repeats one already under way or finished.
    pub fn request_refund(
        &mut self,
        request: &RefundRequest,
        now: DateTime<Utc>,
        new_refund_id: impl FnOnce() -> String,
    ) -> Result<Option<u32>, ProviderError> {
        check_out_refund_no(&request.out_refund_no)?;
        if request.refund_fen < 1 {
            return Err(invalid("refund_fen must be at least 1"));
        }
        if request.reason.chars().count() > 80 {
            return Err(invalid("reason must be at most 80 characters"));
        }
        let order = self
            .orders
            .get(&request.out_trade_no)
            .ok_or(ProviderError::UnknownOrder)?;
        if order.state != OrderState::Success {
            return Err(ProviderError::NotPaid);
        }
        let paid_fen = order.amount_fen;
        if request.total_fen != paid_fen {
            return Err(ProviderError::AmountMismatch);
        }
        let committed = self.committed_fen(&request.out_trade_no, &request.out_refund_no);
        if let Some(refund) = self.refunds.get_mut(&request.out_refund_no) {
            if refund.out_trade_no != request.out_trade_no {
                return Err(invalid("out_refund_no already used for another order"));
            }
            if refund.refund_fen != request.refund_fen {
                return Err(ProviderError::AmountMismatch);
            }
            if refund.state != RefundState::Closed {
                return Ok(None);
            }
            if committed + refund.refund_fen > paid_fen {
                return Err(ProviderError::RefundExceedsPaid);
            }
            refund.state = RefundState::Processing;
            refund.attempt += 1;
            refund.reason = request.reason.clone();
            return Ok(Some(refund.attempt));
        }
        if committed + request.refund_fen > paid_fen {
            return Err(ProviderError::RefundExceedsPaid);
        }
        self.refunds.insert(
            request.out_refund_no.clone(),
            RefundRecord {
                out_refund_no: request.out_refund_no.clone(),
                out_trade_no: request.out_trade_no.clone(),
                refund_id: new_refund_id(),
                refund_fen: request.refund_fen,
                total_fen: request.total_fen,
                reason: request.reason.clone(),
                state: RefundState::Processing,
                attempt: 1,
                success_time: None,
                accepted_at: Some(now),
            },
        );
        Ok(Some(1))
    }

    /// Ends attempt `attempt` of a processing refund; `None` if it is not that attempt or
    /// not processing. Returns the refund and its order's transaction id.
    pub fn complete_refund(
        &mut self,
        out_refund_no: &str,
        attempt: u32,
        outcome: RefundStatus,
        now: DateTime<Utc>,
    ) -> Option<(RefundRecord, String)> {
        let refund = self.refunds.get_mut(out_refund_no)?;
        if refund.state != RefundState::Processing || refund.attempt != attempt {
            return None;
        }
        refund.state = outcome.into();
        refund.success_time = (outcome == RefundStatus::Success).then_some(now);
        let transaction_id = self
            .orders
            .get(&refund.out_trade_no)
            .and_then(|o| o.transaction_id.clone())
            .unwrap_or_default();
        Some((refund.clone(), transaction_id))
    }

    /// Remembers a notification until it is acknowledged.
    pub fn queue(
        &mut self,
        id: String,
        target: Target,
        event_type: &str,
        body: Vec<u8>,
    ) -> PendingNotification {
        let note = PendingNotification {
            id: id.clone(),
            target,
            event_type: event_type.to_owned(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        self.pending.insert(id, note.clone());
        note
    }

    /// Refunds still processing, with their attempt numbers.
    pub fn processing_refunds(&self) -> Vec<(String, u32)> {
        self.refunds
            .values()
            .filter(|r| r.state == RefundState::Processing)
            .map(|r| (r.out_refund_no.clone(), r.attempt))
            .collect()
    }

    /// The order as a snapshot.
    pub fn order_snapshot(&self, out_trade_no: &str) -> Option<OrderSnapshot> {
        let order = self.orders.get(out_trade_no)?;
        let refunded_fen = self
            .refunds
            .values()
            .filter(|r| r.out_trade_no == out_trade_no && r.state == RefundState::Success)
            .map(|r| r.refund_fen)
            .sum();
        Some(OrderSnapshot {
            out_trade_no: order.out_trade_no.clone(),
            amount_fen: order.amount_fen,
            expires_at: order.expires_at,
            prepay_id: order.prepay_id.clone(),
            state: order.state,
            transaction_id: order.transaction_id.clone(),
            success_time: order.success_time,
            refunded_fen,
        })
    }

    /// The refund as a snapshot.
    pub fn refund_snapshot(&self, out_refund_no: &str) -> Option<RefundSnapshot> {
        let refund = self.refunds.get(out_refund_no)?;
        Some(RefundSnapshot {
            out_refund_no: refund.out_refund_no.clone(),
            out_trade_no: refund.out_trade_no.clone(),
            refund_id: refund.refund_id.clone(),
            refund_fen: refund.refund_fen,
            state: refund.state,
            attempts: refund.attempt,
        })
    }

    /// The trade bill of business day `date`: payments that succeeded that day and refunds
    /// accepted that day, each refund with its state now.
    pub fn trade_bill(&self, date: NaiveDate) -> TradeBill {
        let on_day = |t: &Option<DateTime<Utc>>| t.filter(|t| business_date(*t) == date);
        let mut dated: Vec<(DateTime<Utc>, BillRow)> = Vec::new();
        for order in self.orders.values() {
            if let (Some(at), Some(transaction_id)) =
                (on_day(&order.success_time), &order.transaction_id)
            {
                dated.push((
                    at,
                    BillRow::Payment(BillPayment {
                        traded_at: business_local_time(at),
                        transaction_id: transaction_id.clone(),
                        out_trade_no: order.out_trade_no.clone(),
                        state: "SUCCESS".into(),
                        fen: order.amount_fen,
                    }),
                ));
            }
        }
        for refund in self.refunds.values() {
            let Some(at) = on_day(&refund.accepted_at) else {
                continue;
            };
            let transaction_id = self
                .orders
                .get(&refund.out_trade_no)
                .and_then(|o| o.transaction_id.clone())
                .unwrap_or_default();
            dated.push((
                at,
                BillRow::Refund(BillRefund {
                    traded_at: business_local_time(at),
                    transaction_id,
                    out_trade_no: refund.out_trade_no.clone(),
                    out_refund_no: refund.out_refund_no.clone(),
                    refund_id: refund.refund_id.clone(),
                    fen: refund.refund_fen,
                    status: refund.state.as_str().to_string(),
                }),
            ));
        }
        dated.sort_by_key(|(at, _)| *at);
        TradeBill {
            rows: dated.into_iter().map(|(_, row)| row).collect(),
        }
    }

    /// Money of the order's refunds that are not closed, other than `except`.
    fn committed_fen(&self, out_trade_no: &str, except: &str) -> i64 {
        self.refunds
            .values()
            .filter(|r| r.out_trade_no == out_trade_no && r.out_refund_no != except)
            .filter(|r| r.state != RefundState::Closed)
            .map(|r| r.refund_fen)
            .sum()
    }
}

/// An unpaid order whose window has ended is closed.
fn expire(order: &mut OrderRecord, now: DateTime<Utc>) {
    if order.state == OrderState::NotPay && now > order.expires_at {
        order.state = OrderState::Closed;
    }
}

fn invalid(message: &str) -> ProviderError {
    ProviderError::InvalidRequest(message.to_owned())
}

/// WeChat's rule: 6 to 32 of `A-Z a-z 0-9 _ - | *`.
fn check_out_trade_no(value: &str) -> Result<(), ProviderError> {
    let ok = (6..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b));
    ok.then_some(())
        .ok_or_else(|| invalid("out_trade_no must be 6 to 32 of A-Z a-z 0-9 _ - | *"))
}

/// WeChat's rule: 1 to 64 of `A-Z a-z 0-9 _ - | * @`.
fn check_out_refund_no(value: &str) -> Result<(), ProviderError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b));
    ok.then_some(())
        .ok_or_else(|| invalid("out_refund_no must be 1 to 64 of A-Z a-z 0-9 _ - | * @"))
}
