//! What a notification says: the JSON envelope, the decrypted resources, and the
//! [`Notification`] the service acts on.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Event: a payment succeeded.
pub const TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";
/// Event: a refund reached the payer.
pub const REFUND_SUCCESS: &str = "REFUND.SUCCESS";
/// Event: a refund was closed without paying out (the merchant may retry it).
pub const REFUND_CLOSED: &str = "REFUND.CLOSED";
/// Event: a refund failed and needs handling by hand.
pub const REFUND_ABNORMAL: &str = "REFUND.ABNORMAL";
/// The envelope's `resource_type`.
pub const RESOURCE_TYPE: &str = "encrypt-resource";
/// `original_type` (and associated data) of a payment resource.
pub const ORIGINAL_TRANSACTION: &str = "transaction";
/// `original_type` (and associated data) of a refund resource.
pub const ORIGINAL_REFUND: &str = "refund";

/// A verified notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Notification {
    /// `TRANSACTION.SUCCESS`.
    Payment(PaymentResult),
    /// `REFUND.SUCCESS`, `REFUND.CLOSED` or `REFUND.ABNORMAL`.
    Refund(RefundResult),
}

impl Notification {
    /// The notification's id (the same on every redelivery: use it to log and deduplicate).
    pub fn id(&self) -> &str {
        match self {
            Notification::Payment(p) => &p.notification_id,
            Notification::Refund(r) => &r.notification_id,
        }
    }

    /// The merchant's order number it is about.
    pub fn out_trade_no(&self) -> &str {
        match self {
            Notification::Payment(p) => &p.out_trade_no,
            Notification::Refund(r) => &r.out_trade_no,
        }
    }
}

/// A payment's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentResult {
    /// The envelope's `id`.
    pub notification_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// WeChat's transaction number.
    pub transaction_id: String,
    /// `trade_state`, e.g. `SUCCESS`.
    pub trade_state: String,
    /// `amount.total`, in fen.
    pub amount_total_fen: i64,
    /// When the payer paid.
    pub success_time: DateTime<Utc>,
}

/// A refund's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundResult {
    /// The envelope's `id`.
    pub notification_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// WeChat's refund number.
    pub refund_id: String,
    /// How it ended.
    pub status: RefundStatus,
    /// `amount.refund`, in fen.
    pub refund_fen: i64,
    /// When the money reached the payer (for [`RefundStatus::Success`]).
    pub success_time: Option<DateTime<Utc>>,
}

/// How a refund ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    /// The money reached the payer.
    Success,
    /// Closed without paying out; the merchant may retry with the same `out_refund_no`.
    Closed,
    /// Failed (e.g. the payer's card was cancelled); needs handling by hand.
    Abnormal,
}

impl RefundStatus {
    /// The wire value: `SUCCESS`, `CLOSED` or `ABNORMAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Closed => "CLOSED",
            RefundStatus::Abnormal => "ABNORMAL",
        }
    }

    /// The event type announcing it, e.g. `REFUND.SUCCESS`.
    pub fn event_type(self) -> &'static str {
        match self {
            RefundStatus::Success => REFUND_SUCCESS,
            RefundStatus::Closed => REFUND_CLOSED,
            RefundStatus::Abnormal => REFUND_ABNORMAL,
        }
    }

    /// The status an event type announces, if it is a refund event.
    pub fn from_event_type(event_type: &str) -> Option<Self> {
        match event_type {
            REFUND_SUCCESS => Some(RefundStatus::Success),
            REFUND_CLOSED => Some(RefundStatus::Closed),
            REFUND_ABNORMAL => Some(RefundStatus::Abnormal),
            _ => None,
        }
    }
}

/// The notification body as sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Notification id.
    pub id: String,
    /// RFC 3339.
    pub create_time: String,
    /// E.g. `TRANSACTION.SUCCESS`.
    pub event_type: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    /// Human text, e.g. 支付成功.
    #[serde(default)]
    pub summary: String,
    /// The encrypted payload.
    pub resource: EncryptedResource,
}

/// The envelope's `resource`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncryptedResource {
    /// `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// base64(ciphertext || tag).
    pub ciphertext: String,
    /// The associated data (may be empty).
    #[serde(default)]
    pub associated_data: String,
    /// `transaction` or `refund`.
    pub original_type: String,
    /// 12 characters.
    pub nonce: String,
}

/// A decrypted payment resource (the fields the service reads).
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionResource {
    /// The merchant id it was paid to.
    #[serde(default)]
    pub mchid: Option<String>,
    /// The AppID it was paid under.
    #[serde(default)]
    pub appid: Option<String>,
    /// Merchant's order number.
    pub out_trade_no: String,
    /// WeChat's transaction number.
    pub transaction_id: String,
    /// E.g. `SUCCESS`.
    pub trade_state: String,
    /// RFC 3339.
    pub success_time: DateTime<Utc>,
    /// Amounts.
    pub amount: TransactionAmount,
}

/// `amount` of a payment resource.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionAmount {
    /// Order total, fen.
    pub total: i64,
}

/// A decrypted refund resource (the fields the service reads).
#[derive(Debug, Clone, Deserialize)]
pub struct RefundResource {
    /// The merchant id.
    #[serde(default)]
    pub mchid: Option<String>,
    /// Merchant's order number.
    pub out_trade_no: String,
    /// Merchant's refund number.
    pub out_refund_no: String,
    /// WeChat's refund number.
    pub refund_id: String,
    /// `SUCCESS`, `CLOSED` or `ABNORMAL`.
    pub refund_status: RefundStatus,
    /// RFC 3339, for a successful refund.
    #[serde(default)]
    pub success_time: Option<DateTime<Utc>>,
    /// Amounts.
    pub amount: RefundAmount,
}

/// `amount` of a refund resource.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundAmount {
    /// Refunded, fen.
    pub refund: i64,
}

/// A time as WeChat writes it: RFC 3339 in China Standard Time, e.g.
/// `2024-06-08T10:34:56+08:00`.
pub fn wechat_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&CHINA_STANDARD_TIME)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

const CHINA_STANDARD_TIME: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};
