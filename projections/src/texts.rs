//! The SMS texts owners receive (the manual's wording where it has one).

use aggregates::values::{Fen, Period};

/// Sign prefix with the lot's name, as SMS templates require.
fn signed(lot_name: &str, body: String) -> String {
    format!("【{lot_name}】{body}")
}

/// A renewal was approved.
pub fn approved(lot_name: &str, plate: &str, period: Period) -> String {
    signed(
        lot_name,
        format!(
            "您申请的{plate}车证续费（{}至{}）已通过审核，车证有效期已更新。",
            period.from, period.to
        ),
    )
}

/// A renewal was rejected (您申请的…未通过审核).
pub fn rejected(lot_name: &str, plate: &str, reason: &str) -> String {
    signed(
        lot_name,
        format!(
            "您申请的{plate}车证续费未通过审核，原因：{reason}。请在缴费订单中申请退款后重新申请。"
        ),
    )
}

/// A refund was paid back.
pub fn refunded(lot_name: &str, plate: &str, amount: Fen) -> String {
    signed(
        lot_name,
        format!("您的{plate}车证续费退款{amount}已原路退回，请注意查收。"),
    )
}

/// A card's last approved period ends soon (a reminder to renew).
pub fn reminder(lot_name: &str, plate: &str, valid_to: chrono::NaiveDate) -> String {
    signed(
        lot_name,
        format!("您的{plate}车证将于{valid_to}到期，请及时续费。"),
    )
}

/// A verification code.
pub fn code(lot_name: &str, code: &str, minutes: i64) -> String {
    signed(
        lot_name,
        format!("您的验证码为{code}，{minutes}分钟内有效，请勿泄露给他人。"),
    )
}

/// Template parameters, in the order the API contract fixes (`docs/api.md`, "Production
/// mode"): real SMS gateways send a template id and these instead of the text.
pub mod params {
    use aggregates::values::{Fen, Period};

    /// A code: `[code, minutes valid]`.
    pub fn code(code: &str, minutes: i64) -> Vec<String> {
        vec![code.to_string(), minutes.to_string()]
    }

    /// An approval: `[plate, from, to]`, dates as `YYYY-MM-DD`.
    pub fn approved(plate: &str, period: Period) -> Vec<String> {
        vec![
            plate.to_string(),
            period.from.to_string(),
            period.to.to_string(),
        ]
    }

    /// A rejection: `[plate, reason]`.
    pub fn rejected(plate: &str, reason: &str) -> Vec<String> {
        vec![plate.to_string(), reason.to_string()]
    }

    /// A reminder: `[plate, valid_to]`, the date as `YYYY-MM-DD`.
    pub fn reminder(plate: &str, valid_to: chrono::NaiveDate) -> Vec<String> {
        vec![plate.to_string(), valid_to.to_string()]
    }

    /// A refund: `[plate, yuan]`, yuan with two decimals and no sign (`360.00`).
    pub fn refunded(plate: &str, amount: Fen) -> Vec<String> {
        let fen = amount.get().unsigned_abs();
        vec![plate.to_string(), format!("{}.{:02}", fen / 100, fen % 100)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parameters_follow_the_contract_order() {
        let period = Period {
            from: "2022-06-01".parse().unwrap(),
            to: "2023-05-31".parse().unwrap(),
        };
        assert_eq!(params::code("012345", 5), ["012345", "5"]);
        assert_eq!(
            params::approved("京A66666", period),
            ["京A66666", "2022-06-01", "2023-05-31"]
        );
        assert_eq!(
            params::rejected("京A66666", "照片不清晰"),
            ["京A66666", "照片不清晰"]
        );
        assert_eq!(
            params::refunded("京A66666", Fen(36005)),
            ["京A66666", "360.05"]
        );
    }

    #[test]
    fn the_rejection_notice_says_not_approved_with_the_reason() {
        let text = rejected("北京大学医学部", "京A66666", "照片不清晰");
        assert!(text.starts_with("【北京大学医学部】您申请的京A66666"));
        assert!(text.contains("未通过审核"));
        assert!(text.contains("照片不清晰"));
    }

    #[test]
    fn the_refund_notice_shows_yuan() {
        assert!(refunded("L", "京A66666", Fen(36000)).contains("¥360.00"));
    }
}
