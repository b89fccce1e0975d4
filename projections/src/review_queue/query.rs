//! Reading the `review_queue` view: typed rows, oldest payment first.

use sqlx::AnyPool;

/// A paid renewal waiting for a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueueItem {
    /// Renewal id.
    pub renewal_id: String,
    /// Its card.
    pub permit_id: String,
    /// The card's vehicle.
    pub plate: String,
    /// The holder.
    pub holder_name: String,
    /// The holder's phone, whole (mask it to show it).
    pub phone: String,
    /// The season's first day (`YYYY-MM-DD`).
    pub period_from: String,
    /// The season's last day.
    pub period_to: String,
    /// The amount paid.
    pub amount_fen: i64,
    /// When it was paid (RFC 3339).
    pub paid_at: String,
}

/// The whole queue, oldest payment first.
pub async fn items(db: &AnyPool) -> Result<Vec<QueueItem>, sqlx::Error> {
    sqlx::query_as(
        "SELECT renewal_id, permit_id, plate, holder_name, phone, period_from, period_to,
                amount_fen, paid_at
           FROM review_queue ORDER BY paid_at, renewal_id",
    )
    .fetch_all(db)
    .await
}
