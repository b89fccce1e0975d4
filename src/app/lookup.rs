//! Lookups in the read models that commands need (which card a renewal or a plate belongs to).

use crate::error::AppError;
use crate::services::Services;
use aggregates::values::{Phone, Plate};
use uuid::Uuid;

/// The card a renewal belongs to, or 404 `no_renewal`.
pub async fn permit_of_renewal(svc: &Services, renewal_id: Uuid) -> Result<Uuid, AppError> {
    let permit: Option<String> =
        sqlx::query_scalar("SELECT permit_id FROM renewals WHERE renewal_id = $1")
            .bind(renewal_id.to_string())
            .fetch_optional(&svc.store.db.read)
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
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT permit_id FROM plate_index WHERE lot_id = $1 AND plate = $2 AND phone = $3
          ORDER BY permit_id",
    )
    .bind(lot_id.to_string())
    .bind(plate.as_str())
    .bind(phone.as_str())
    .fetch_all(&svc.store.db.read)
    .await?;
    Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
}
