//! WeChat Pay's error answers (`{"code", "message"}` with a 4xx or 5xx status) as
//! [`ProviderError`]s: what may be retried ([`ProviderError::Unavailable`]) and what not.

use crate::payments::port::ProviderError;
use reqwest::StatusCode;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The error a non-2xx answer means.
pub fn from_answer(status: StatusCode, body: &[u8]) -> ProviderError {
    let error: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    // WeChat's messages are short and carry no personal data; keep them bounded anyway.
    let message: String = error.message.chars().take(200).collect();
    let said = format!("{} {}: {message}", status.as_u16(), error.code);
    match error.code.as_str() {
        "ORDERPAID" => ProviderError::AlreadyPaid,
        "ORDER_CLOSED" | "ORDERCLOSED" => ProviderError::OrderClosed,
        "ORDER_NOT_EXIST" | "ORDERNOTEXIST" | "RESOURCE_NOT_EXISTS" => ProviderError::UnknownOrder,
        // No trade that day (申请交易账单); a bill still being made is asked for again later.
        "NO_STATEMENT_EXIST" => ProviderError::NoBill,
        "STATEMENT_CREATING" => ProviderError::Unavailable(said),
        // Busy, or a bank behind WeChat is: try again later.
        "SYSTEM_ERROR" | "SYSTEMERROR" | "FREQUENCY_LIMITED" | "BANK_ERROR" | "BANKERROR"
        | "NOT_ENOUGH" => ProviderError::Unavailable(said),
        // The merchant's own set-up: keys, permissions, the account, the AppID binding.
        "SIGN_ERROR"
        | "NO_AUTH"
        | "MCH_NOT_EXISTS"
        | "APPID_MCHID_NOT_MATCH"
        | "ACCOUNT_ERROR"
        | "RULE_LIMIT"
        | "TRADE_ERROR" => ProviderError::MerchantRefused(said),
        _ if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
            ProviderError::Unavailable(said)
        }
        _ if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
            ProviderError::MerchantRefused(said)
        }
        _ if status == StatusCode::NOT_FOUND => ProviderError::UnknownOrder,
        _ => ProviderError::InvalidRequest(said),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str) -> ProviderError {
        let body = format!(r#"{{"code":"{code}","message":"m"}}"#);
        from_answer(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn business_refusals_are_not_retried_and_outages_are() {
        assert_eq!(answer(403, "ORDERPAID"), ProviderError::AlreadyPaid);
        assert_eq!(answer(400, "ORDER_CLOSED"), ProviderError::OrderClosed);
        assert_eq!(answer(404, "ORDER_NOT_EXIST"), ProviderError::UnknownOrder);
        assert_eq!(answer(400, "NO_STATEMENT_EXIST"), ProviderError::NoBill);
        assert!(matches!(
            answer(400, "STATEMENT_CREATING"),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(
            answer(400, "PARAM_ERROR"),
            ProviderError::InvalidRequest(_)
        ));
        assert!(matches!(
            answer(401, "SIGN_ERROR"),
            ProviderError::MerchantRefused(_)
        ));
        assert!(matches!(
            answer(500, "SYSTEM_ERROR"),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(
            answer(429, "FREQUENCY_LIMITED"),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(
            from_answer(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>"),
            ProviderError::Unavailable(_)
        ));
    }
}
