//! [`SandboxPayments`] as a [`PaymentProvider`].

use super::{resources, SandboxPayments};
use crate::payments::port::{
    CreateOrder, CreatedOrder, PaymentProvider, ProviderError, RefundRequest,
};
use crate::payments::wechat::Verifier;
use chrono::Utc;

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
            .commit(|ledger| ledger.request_refund(&refund, resources::refund_id))
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

    fn verifier(&self) -> &Verifier {
        &self.shared.verifier
    }
}
