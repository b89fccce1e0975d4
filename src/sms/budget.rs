//! The daily SMS budget per lot: every SMS sent for a lot counts against its business day
//! (Asia/Shanghai). Code requests stop when it is spent; notices go out regardless (they are
//! owed), and still count. Near the end (80 %) and at it, a warning is logged once.

use crate::store::{Db, StoreError};
use chrono::NaiveDate;

/// The share of the budget at which the warning is logged, in percent.
pub const WARN_AT_PERCENT: i64 = 80;

/// SMS counted for `lot_id` on `day`.
pub async fn used(db: &Db, lot_id: &str, day: NaiveDate) -> Result<i64, StoreError> {
    let used: Option<i64> =
        sqlx::query_scalar("SELECT sent FROM sms_daily_count WHERE lot_id = $1 AND day = $2")
            .bind(lot_id)
            .bind(day.to_string())
            .fetch_optional(&db.read)
            .await?;
    Ok(used.unwrap_or(0))
}

/// Counts one SMS for `lot_id` on `day` against `budget`; returns the count with it, after
/// logging the warning if this one reached the warning mark or the budget.
pub async fn spend(db: &Db, lot_id: &str, day: NaiveDate, budget: u32) -> Result<i64, StoreError> {
    let used: i64 = sqlx::query_scalar(
        "INSERT INTO sms_daily_count (lot_id, day, sent) VALUES ($1, $2, 1)
         ON CONFLICT (lot_id, day) DO UPDATE SET sent = sms_daily_count.sent + 1
         RETURNING sent",
    )
    .bind(lot_id)
    .bind(day.to_string())
    .fetch_one(&db.write)
    .await?;
    let budget = i64::from(budget);
    if used == budget {
        tracing::warn!(%lot_id, %day, used, budget,
            "the lot's daily SMS budget is spent: code requests are refused until midnight");
    } else if used == warning_mark(budget) {
        tracing::warn!(%lot_id, %day, used, budget, "the lot's daily SMS budget is nearly spent");
    }
    Ok(used)
}

/// The count at which the warning is logged.
pub fn warning_mark(budget: i64) -> i64 {
    ((budget * WARN_AT_PERCENT + 99) / 100).max(1)
}

/// Today's count per lot, for `/metrics`.
pub async fn today(db: &Db, day: NaiveDate) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT lot_id, sent FROM sms_daily_count WHERE day = $1 ORDER BY lot_id")
            .bind(day.to_string())
            .fetch_all(&db.read)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_comes_at_eighty_percent_rounded_up() {
        assert_eq!(warning_mark(5000), 4000);
        assert_eq!(warning_mark(3), 3);
        assert_eq!(warning_mark(10), 8);
        assert_eq!(warning_mark(1), 1);
    }
}
