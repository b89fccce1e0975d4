//! Lookups in the read models that commands need (which card a renewal or a plate belongs to).
//!
//! A command may follow the write that created what it looks up (a refund right after the
//! submission): on a miss, the lookup waits (briefly) for the view to reach the ledger's head
//! and asks again, so a caller never gets a 404 for something it was just told exists.

use crate::error::AppError;
use crate::services::Services;
use aggregates::values::{Phone, Plate};
use std::time::Duration;
use uuid::Uuid;

const CATCH_UP: Duration = Duration::from_secs(3);

/// Runs `query` against view `projection`; on an empty answer, waits until the view has caught
/// up with the ledger's head and runs it once more.
async fn with_catch_up<T, F, Fut>(svc: &Services, projection: &str, query: F) -> Result<T, AppError>
where
    T: Default + PartialEq,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let first = query().await?;
    if first != T::default() {
        return Ok(first);
    }
    let head = svc.store.log.head().await?;
    if svc.read.wait_for(projection, head, CATCH_UP).await.is_err() {
        return Ok(first);
    }
    query().await
}

/// Records which card a renewal (and its payment order) belongs to; written just before the
/// renewal is appended, so that whatever the ledger holds, the lookup holds too.
pub async fn record_renewal(
    svc: &Services,
    renewal_id: Uuid,
    permit_id: Uuid,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO order_lookup (renewal_id, permit_id) VALUES ($1, $2)
         ON CONFLICT (renewal_id) DO NOTHING",
    )
    .bind(renewal_id.to_string())
    .bind(permit_id.to_string())
    .execute(&svc.store.db.write)
    .await?;
    Ok(())
}

/// The card a renewal belongs to, or 404 `no_renewal`: from the lookup written with the
/// submission (no projection involved: payment callbacks work while a view lags), else, for
/// renewals older than that table, from the `cards` view.
pub async fn permit_of_renewal(svc: &Services, renewal_id: Uuid) -> Result<Uuid, AppError> {
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT permit_id FROM order_lookup WHERE renewal_id = $1")
            .bind(renewal_id.to_string())
            .fetch_optional(&svc.store.db.write)
            .await?;
    if let Some(permit) = recorded.and_then(|p| p.parse().ok()) {
        return Ok(permit);
    }
    let permit: Option<String> = with_catch_up(svc, "cards", || async {
        Ok(
            sqlx::query_scalar("SELECT permit_id FROM renewals WHERE renewal_id = $1")
                .bind(renewal_id.to_string())
                .fetch_optional(&svc.store.db.read)
                .await?,
        )
    })
    .await?;
    permit
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| AppError::not_found("no_renewal", "no such renewal"))
}

/// The cards held under `phone` that carry `plate` at `lot_id`.
pub async fn permits_for_plate(
    svc: &Services,
    lot_id: Uuid,
    plate: &Plate,
    phone: &Phone,
) -> Result<Vec<Uuid>, AppError> {
    let ids: Vec<String> = with_catch_up(svc, "plate_index", || async {
        Ok(sqlx::query_scalar(
            "SELECT permit_id FROM plate_index WHERE lot_id = $1 AND plate = $2 AND phone = $3
              ORDER BY permit_id",
        )
        .bind(lot_id.to_string())
        .bind(plate.as_str())
        .bind(phone.as_str())
        .fetch_all(&svc.store.db.read)
        .await?)
    })
    .await?;
    Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
}

/// Whether `phone` holds a card at `lot_id` (codes go only to card holders). A miss waits for
/// the `cards` view to reach the ledger's head, so a card issued a moment ago counts.
pub async fn holds_card_at(svc: &Services, lot_id: Uuid, phone: &Phone) -> Result<bool, AppError> {
    let cards: i64 = with_catch_up(svc, "cards", || async {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM cards WHERE lot_id = $1 AND phone = $2")
                .bind(lot_id.to_string())
                .bind(phone.as_str())
                .fetch_one(&svc.store.db.read)
                .await?,
        )
    })
    .await?;
    Ok(cards > 0)
}
