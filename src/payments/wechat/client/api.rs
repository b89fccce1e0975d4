//! The bodies of the API v3 calls the client makes, as WeChat Pay's documentation names their
//! fields (`/v3/pay/transactions/jsapi`, `…/out-trade-no/{n}`, `…/close`,
//! `/v3/refund/domestic/refunds`).

use crate::payments::port::{OrderStatus, ProviderError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// JSAPI prepay.
pub const JSAPI_PATH: &str = "/v3/pay/transactions/jsapi";
/// Domestic refunds.
pub const REFUND_PATH: &str = "/v3/refund/domestic/refunds";
/// The only currency.
pub const CNY: &str = "CNY";
/// Trade bills (申请交易账单).
pub const TRADE_BILL_PATH: &str = "/v3/bill/tradebill";

/// `POST /v3/pay/transactions/jsapi`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JsapiOrder {
    /// The official account's AppID.
    pub appid: String,
    /// The merchant id.
    pub mchid: String,
    /// What is bought.
    pub description: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The end of the payment window, RFC 3339 in China Standard Time.
    pub time_expire: String,
    /// Where the payment result goes.
    pub notify_url: String,
    /// How much.
    pub amount: OrderAmount,
    /// Who pays.
    pub payer: Payer,
}

/// `amount` of an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderAmount {
    /// Fen.
    pub total: i64,
    /// `CNY`.
    pub currency: String,
}

/// `payer` of an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payer {
    /// The payer's openid under `appid`.
    pub openid: String,
}

/// The prepay answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prepay {
    /// What the payer's client pays with (valid two hours).
    pub prepay_id: String,
}

/// `POST …/out-trade-no/{out_trade_no}/close`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Close {
    /// The merchant id.
    pub mchid: String,
}

/// An order as `GET …/out-trade-no/{out_trade_no}` describes it (the fields read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transaction {
    /// The AppID it was paid under.
    pub appid: String,
    /// The merchant id.
    pub mchid: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// WeChat's transaction number (once paid).
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// `SUCCESS`, `REFUND`, `NOTPAY`, `CLOSED`, `REVOKED`, `USERPAYING` or `PAYERROR`.
    pub trade_state: String,
    /// When it was paid.
    #[serde(default)]
    pub success_time: Option<DateTime<Utc>>,
    /// The amounts (absent before payment).
    #[serde(default)]
    pub amount: Option<PaidAmount>,
}

/// `amount` of a queried order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaidAmount {
    /// The order's total, fen.
    pub total: i64,
}

impl Transaction {
    /// What the port reports.
    pub fn into_status(self) -> OrderStatus {
        let paid = matches!(self.trade_state.as_str(), "SUCCESS" | "REFUND");
        OrderStatus {
            out_trade_no: self.out_trade_no,
            trade_state: self.trade_state,
            transaction_id: self.transaction_id.filter(|_| paid),
            amount_total_fen: self.amount.map(|a| a.total).filter(|_| paid),
            success_time: self.success_time.filter(|_| paid),
        }
    }
}

/// `POST /v3/refund/domestic/refunds`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundOrder {
    /// The paid order.
    pub out_trade_no: String,
    /// The merchant's refund number (the same one on a retry).
    pub out_refund_no: String,
    /// Shown to the payer.
    pub reason: String,
    /// Where the refund result goes.
    pub notify_url: String,
    /// How much.
    pub amount: RefundAmount,
}

/// `amount` of a refund request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundAmount {
    /// Fen to give back.
    pub refund: i64,
    /// The order's total, fen.
    pub total: i64,
    /// `CNY`.
    pub currency: String,
}

/// A refund as WeChat Pay describes it (the answer to a request or a query; the fields read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    /// WeChat's refund number.
    pub refund_id: String,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// The order.
    pub out_trade_no: String,
    /// `SUCCESS`, `CLOSED`, `PROCESSING` or `ABNORMAL`.
    pub status: String,
}

/// The answer to `GET /v3/bill/tradebill`: where to download the day's bill and its digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BillLocation {
    /// `SHA1`.
    pub hash_type: String,
    /// The digest of the bill as downloaded (hex).
    pub hash_value: String,
    /// Where to download it (valid a few minutes; the download is signed like any request).
    pub download_url: String,
}

/// An order or refund number as a path segment: WeChat's alphabet is `A-Z a-z 0-9 _ - | * @`;
/// anything else is refused before it reaches a URL.
pub fn path_segment(value: &str) -> Result<String, ProviderError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b));
    if !ok {
        return Err(ProviderError::InvalidRequest(
            "an order or refund number outside WeChat's alphabet".into(),
        ));
    }
    Ok(value.replace('|', "%7C").replace('@', "%40"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_with_a_slash_never_reaches_a_url() {
        assert!(path_segment("../../v3/x").is_err());
        assert!(path_segment("").is_err());
        assert_eq!(path_segment("ab|c@d").unwrap(), "ab%7Cc%40d");
        assert_eq!(
            path_segment("1217752501201407033233368018").unwrap(),
            "1217752501201407033233368018"
        );
    }

    #[test]
    fn an_unpaid_order_reports_no_payment_even_if_fields_are_present() {
        let order: Transaction = serde_json::from_str(
            r#"{"appid":"wx1","mchid":"1","out_trade_no":"o1","trade_state":"NOTPAY",
                "amount":{"total":100,"currency":"CNY"}}"#,
        )
        .unwrap();
        let status = order.into_status();
        assert!(!status.is_paid());
        assert_eq!(status.amount_total_fen, None);
    }
}
