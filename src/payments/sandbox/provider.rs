//! [`SandboxPayments`] as a [`PaymentProvider`].

use super::{resources, OrderState, SandboxPayments};
use super::{SANDBOX_APPID, SANDBOX_MCHID};
use crate::payments::port::{
    CreateOrder, CreatedOrder, OrderStatus, PaymentProvider, ProviderError, RefundRequest,
};
use crate::payments::wechat::bill::{self, TradeBill};
use crate::payments::wechat::Verifier;
use chrono::{NaiveDate, Utc};

#[async_trait::async_trait]
impl PaymentProvider for SandboxPayments {
    async fn create_order(&self, order: CreateOrder) -> Result<CreatedOrder, ProviderError> {
        let now = Utc::now();
        let prepay_id = self
            .shared
            .commit(|ledger| ledger.create_order(&order, now, resources::prepay_id))
            .await?;
        tracing::info!(
            out_trade_no = %order.out_trade_no,
            amount_fen = order.amount_fen,
            "sandbox payments: order created"
        );
        Ok(CreatedOrder { prepay_id })
    }

    async fn query_order(&self, out_trade_no: &str) -> Result<OrderStatus, ProviderError> {
        let order = self
            .order_state(out_trade_no)
            .ok_or(ProviderError::UnknownOrder)?;
        let paid = order.state == OrderState::Success;
        let trade_state = match order.state {
            OrderState::Success if order.refunded_fen > 0 => "REFUND",
            OrderState::Success => "SUCCESS",
            OrderState::NotPay if Utc::now() > order.expires_at => "CLOSED",
            OrderState::NotPay => "NOTPAY",
            OrderState::Closed => "CLOSED",
        };
        Ok(OrderStatus {
            out_trade_no: order.out_trade_no,
            trade_state: trade_state.to_string(),
            transaction_id: order.transaction_id,
            amount_total_fen: paid.then_some(order.amount_fen),
            success_time: order.success_time,
        })
    }

    async fn close_order(&self, out_trade_no: &str) -> Result<(), ProviderError> {
        self.shared
            .commit(|ledger| ledger.close_order(out_trade_no))
            .await?;
        tracing::info!(out_trade_no, "sandbox payments: order closed");
        Ok(())
    }

    async fn request_refund(&self, refund: RefundRequest) -> Result<(), ProviderError> {
        let started = self
            .shared
            .commit(|ledger| ledger.request_refund(&refund, Utc::now(), resources::refund_id))
            .await?;
        if let Some(attempt) = started {
            tracing::info!(
                out_trade_no = %refund.out_trade_no,
                out_refund_no = %refund.out_refund_no,
                refund_fen = refund.refund_fen,
                attempt,
                "sandbox payments: refund started"
            );
            self.shared
                .spawn_refund_outcome(refund.out_refund_no, attempt);
        }
        Ok(())
    }

    async fn trade_bill(&self, date: NaiveDate) -> Result<TradeBill, ProviderError> {
        // Written out and read back as WeChat's file, so the sandbox's bill goes through the
        // same reading as the real one.
        let text = bill::render(
            &self.bill_of(date),
            bill::Merchant {
                appid: SANDBOX_APPID,
                mchid: SANDBOX_MCHID,
            },
        );
        bill::parse(text.as_bytes()).map_err(|e| ProviderError::BadResponse(e.to_string()))
    }

    fn verifier(&self) -> &Verifier {
        &self.shared.verifier
    }
}
