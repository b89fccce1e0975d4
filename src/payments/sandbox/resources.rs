//! What the sandbox puts in its notifications: decrypted resources and WeChat-like ids.

use super::state::{OrderRecord, RefundRecord};
use crate::payments::wechat::notification::wechat_time;
use crate::payments::wechat::RefundStatus;
use chrono::Utc;
use rand::Rng;
use serde_json::json;

/// The sandbox merchant id (`mchid`) in every resource.
pub const SANDBOX_MCHID: &str = "1900000109";
/// The sandbox app id (`appid`) in every payment resource.
pub const SANDBOX_APPID: &str = "wxd678efh567hg6787";

/// A decrypted `TRANSACTION.SUCCESS` resource, as WeChat sends it.
pub(super) fn payment(order: &OrderRecord) -> serde_json::Value {
    json!({
        "mchid": SANDBOX_MCHID,
        "appid": SANDBOX_APPID,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": order.success_time.map(wechat_time),
        "payer": { "openid": "oSandboxPayer000000000000000" },
        "amount": {
            "total": order.amount_fen,
            "payer_total": order.amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    })
}

/// A decrypted `REFUND.*` resource, as WeChat sends it.
pub(super) fn refund(
    refund: &RefundRecord,
    transaction_id: &str,
    outcome: RefundStatus,
) -> serde_json::Value {
    let mut resource = json!({
        "mchid": SANDBOX_MCHID,
        "out_trade_no": refund.out_trade_no,
        "transaction_id": transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": outcome.as_str(),
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": refund.total_fen,
            "refund": refund.refund_fen,
            "payer_total": refund.total_fen,
            "payer_refund": refund.refund_fen,
        },
    });
    if let (Some(time), Some(map)) = (refund.success_time, resource.as_object_mut()) {
        map.insert("success_time".into(), wechat_time(time).into());
    }
    resource
}

/// `4200` + `00` + the date + 14 random digits: 28 digits, like WeChat's.
pub(super) fn transaction_id() -> String {
    format!("420000{}{}", Utc::now().format("%Y%m%d"), random_digits(14))
}

/// `50` + 27 random digits, like WeChat's refund ids.
pub(super) fn refund_id() -> String {
    format!("50{}", random_digits(27))
}

/// `wx` + day and time + 24 random hex digits, like WeChat's prepay ids.
pub(super) fn prepay_id() -> String {
    format!(
        "wx{}{}",
        Utc::now().format("%d%H%M%S"),
        hex::encode(rand::random::<[u8; 12]>())
    )
}

fn random_digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}
