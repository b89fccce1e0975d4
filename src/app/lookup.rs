//! What commands need to find before they act (which card a renewal or a plate belongs to,
//! whether a phone holds a card): from the ledger or from a lookup written with the append,
//! not from a view, where the data allows.
//!
//! Where a view is still asked (renewals older than `order_lookup`, the holder check), a miss
//! waits (briefly) for the view to reach the ledger's head and asks again, so a caller never
//! gets a 404 for something it was just told exists.

use crate::error::AppError;
use crate::services::Services;
use aggregates::permit::Permit;
use aggregates::values::{Phone, Plate};
use aggregates::vehicle_binding::{binding_id, VehicleBinding};
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

/// Records which card a renewal (and its payment order) belongs to, and when its payment window
/// ends; written just before the renewal is appended, so that whatever the ledger holds, the
/// lookup holds too (the expiry timer reads the window here).
pub async fn record_renewal(
    svc: &Services,
    renewal_id: Uuid,
    permit_id: Uuid,
    pay_by: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO order_lookup (renewal_id, permit_id, pay_by) VALUES ($1, $2, $3)
         ON CONFLICT (renewal_id) DO NOTHING",
    )
    .bind(renewal_id.to_string())
    .bind(permit_id.to_string())
    .bind(pay_by.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
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
        Ok(projections::cards::query::permit_of_renewal(
            &svc.store.db.read,
            &renewal_id.to_string(),
        )
        .await?)
    })
    .await?;
    permit
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| AppError::not_found("no_renewal", "no such renewal"))
}

/// The card held under `phone` that carries `plate` at `lot_id`, if any: from the vehicle's
/// binding at the lot and the card itself (the ledger, not a view; one plate, one card a lot).
pub async fn permits_for_plate(
    svc: &Services,
    lot_id: Uuid,
    plate: &Plate,
    phone: &Phone,
) -> Result<Vec<Uuid>, AppError> {
    let binding = svc
        .ledger
        .load::<VehicleBinding>(&binding_id(lot_id, plate))
        .await?;
    let Some(permit_id) = binding.aggregate.bound_to else {
        return Ok(Vec::new());
    };
    let card = svc.ledger.load::<Permit>(&permit_id.to_string()).await?;
    let held = card
        .aggregate
        .card
        .is_some_and(|c| &c.phone == phone && &c.plate == plate && c.lot_id == lot_id);
    Ok(if held { vec![permit_id] } else { Vec::new() })
}

/// Whether `phone` holds a card at `lot_id` (codes go only to card holders). A miss waits for
/// the `cards` view to reach the ledger's head, so a card issued a moment ago counts.
pub async fn holds_card_at(svc: &Services, lot_id: Uuid, phone: &Phone) -> Result<bool, AppError> {
    let cards: i64 = with_catch_up(svc, "cards", || async {
        Ok(projections::cards::query::count_of_holder(
            &svc.store.db.read,
            &lot_id.to_string(),
            phone.as_str(),
        )
        .await?)
    })
    .await?;
    Ok(cards > 0)
}
