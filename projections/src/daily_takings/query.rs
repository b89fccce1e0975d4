//! Reading the `daily_takings_channels` view: one lot's figures per business day and channel.

use sqlx::AnyPool;

/// One business day's figures for one channel at one lot.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelDay {
    /// The business day (`YYYY-MM-DD`, Asia/Shanghai).
    pub day: String,
    /// `wechat_pay` or the desk's method.
    pub channel: String,
    /// Money paid.
    pub paid_fen: i64,
    /// Payments.
    pub paid_count: i64,
    /// Money paid back.
    pub refunded_fen: i64,
    /// Refunds.
    pub refunded_count: i64,
}

/// The lot's figures from `from` to `to` (inclusive, `YYYY-MM-DD`), by day then channel.
/// Days are text of one width, so comparing them as text compares them as dates.
pub async fn channel_days(
    db: &AnyPool,
    lot_id: &str,
    from: &str,
    to: &str,
) -> Result<Vec<ChannelDay>, sqlx::Error> {
    sqlx::query_as(
        "SELECT day, channel, paid_fen, paid_count, refunded_fen, refunded_count
           FROM daily_takings_channels
          WHERE lot_id = $1 AND day >= $2 AND day <= $3
          ORDER BY day, channel",
    )
    .bind(lot_id)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}
