//! The port the service calls to take and give back money.

use super::wechat::bill::TradeBill;
use super::wechat::{JsapiParams, Verifier};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A payment provider shaped like WeChat Pay API v3 (JSAPI).
///
/// Outcomes (paid, refunded) are not returned by these calls: they arrive later as signed
/// notifications, which the service checks with [`PaymentProvider::verifier`].
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Creates a JSAPI prepay order; idempotent on out_trade_no with the same amount.
    async fn create_order(&self, order: CreateOrder) -> Result<CreatedOrder, ProviderError>;
    /// What the provider knows of an order now (`GET …/out-trade-no/{out_trade_no}`): the
    /// proof a payment was made when its notification did not come.
    async fn query_order(&self, out_trade_no: &str) -> Result<OrderStatus, ProviderError>;
    /// Closes an unpaid order (when the payment window ends or the owner cancels).
    async fn close_order(&self, out_trade_no: &str) -> Result<(), ProviderError>;
    /// Asks for a refund; idempotent on out_refund_no (a retry reuses it). The outcome arrives
    /// later by notification.
    async fn request_refund(&self, refund: RefundRequest) -> Result<(), ProviderError>;
    /// The trade bill (`bill_type=ALL`) of one business day (China Standard Time): every
    /// payment that succeeded and every refund accepted that day, checked against the digest
    /// the provider gave for it. No trade that day is an empty bill; a bill that cannot be
    /// read or believed is [`ProviderError::BadResponse`].
    async fn trade_bill(&self, date: NaiveDate) -> Result<TradeBill, ProviderError>;
    /// The verifier for this provider's notifications.
    fn verifier(&self) -> &Verifier;
    /// The signed parameters the payer's WeChat client pays `prepay_id` with (JSAPI
    /// `getBrandWCPayRequest`); `None` where there is no WeChat client (the sandbox).
    fn jsapi(&self, prepay_id: &str) -> Option<JsapiParams> {
        let _ = prepay_id;
        None
    }
}

/// An order's state at the provider (`trade_state` of WeChat Pay v3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatus {
    /// The merchant's order number.
    pub out_trade_no: String,
    /// `SUCCESS`, `NOTPAY`, `CLOSED`, `REFUND`, `USERPAYING`, `PAYERROR` or `REVOKED`.
    pub trade_state: String,
    /// WeChat's transaction number, once paid.
    pub transaction_id: Option<String>,
    /// What the payer paid, in fen, once paid.
    pub amount_total_fen: Option<i64>,
    /// When the payer paid.
    pub success_time: Option<DateTime<Utc>>,
}

impl OrderStatus {
    /// Whether the money was taken (`SUCCESS`, or `REFUND`: paid, then refunded in part or whole).
    pub fn is_paid(&self) -> bool {
        matches!(self.trade_state.as_str(), "SUCCESS" | "REFUND")
    }
}

/// An order to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrder {
    /// The merchant's order number: 6 to 32 of `A-Z a-z 0-9 _ - | *`, unique per payment.
    pub out_trade_no: String,
    /// What is bought, shown to the payer (1 to 127 characters).
    pub description: String,
    /// The amount, in fen (at least 1).
    pub amount_fen: i64,
    /// When the payment window ends; after it the order cannot be paid.
    pub expires_at: DateTime<Utc>,
    /// The payer's openid under the official account (JSAPI needs it; the sandbox does not).
    pub payer_openid: Option<String>,
}

/// A created order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedOrder {
    /// What the payer's WeChat client needs to pay (JSAPI `prepay_id`).
    pub prepay_id: String,
}

/// A refund to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The paid order to refund.
    pub out_trade_no: String,
    /// The merchant's refund number (1 to 64 of `A-Z a-z 0-9 _ - | * @`); reuse it to retry.
    pub out_refund_no: String,
    /// How much to give back, in fen (at least 1).
    pub refund_fen: i64,
    /// The order's total, in fen (must match what was paid).
    pub total_fen: i64,
    /// Why, shown to the payer (may be empty, at most 80 characters).
    pub reason: String,
}

/// Why the provider refused or failed a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No order with that out_trade_no.
    #[error("no such order")]
    UnknownOrder,
    /// The order is closed (or its payment window has ended).
    #[error("the order is closed")]
    OrderClosed,
    /// The order is already paid.
    #[error("the order is already paid")]
    AlreadyPaid,
    /// An amount differs from the order's (or from the earlier request with the same number).
    #[error("the amount does not match the order")]
    AmountMismatch,
    /// A refund for an order that has not been paid.
    #[error("the order has not been paid")]
    NotPaid,
    /// The refunds of the order would exceed what was paid.
    #[error("the refunds would exceed what was paid")]
    RefundExceedsPaid,
    /// A request WeChat would refuse as invalid (bad number, amount, text).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The provider could not be reached or failed; the call may be retried.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider answered something that cannot be believed (no valid signature, or not the
    /// documented shape); the call may be retried.
    #[error("the payment provider's answer was refused: {0}")]
    BadResponse(String),
    /// The provider has no trade bill for that day: nothing was paid or refunded.
    #[error("no trade bill for that day")]
    NoBill,
    /// The provider refused the merchant itself (signature, permissions, account): not retried,
    /// staff must fix the merchant settings.
    #[error("the payment provider refused the merchant: {0}")]
    MerchantRefused(String),
}

impl ProviderError {
    /// The stable snake_case code, for logs and responses.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::UnknownOrder => "payment_unknown_order",
            ProviderError::OrderClosed => "payment_order_closed",
            ProviderError::AlreadyPaid => "payment_already_paid",
            ProviderError::AmountMismatch => "payment_amount_mismatch",
            ProviderError::NotPaid => "payment_not_paid",
            ProviderError::RefundExceedsPaid => "payment_refund_exceeds_paid",
            ProviderError::InvalidRequest(_) => "payment_invalid_request",
            ProviderError::Unavailable(_) => "payment_provider_unavailable",
            ProviderError::BadResponse(_) => "payment_provider_bad_response",
            ProviderError::NoBill => "payment_no_bill",
            ProviderError::MerchantRefused(_) => "payment_merchant_refused",
        }
    }

    /// Whether the same call may succeed later (an outage, an unbelievable answer); every
    /// other error is the provider's final word on the request.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Unavailable(_) | ProviderError::BadResponse(_)
        )
    }
}
