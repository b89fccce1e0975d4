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

/// A verification code.
pub fn code(lot_name: &str, code: &str, minutes: i64) -> String {
    signed(
        lot_name,
        format!("您的验证码为{code}，{minutes}分钟内有效，请勿泄露给他人。"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
