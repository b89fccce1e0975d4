//! Renewals paid at the desk (注意事项 1: other payment methods are handled offline): the
//! same rules as an online renewal, approved at once, with the method and receipt number.

use crate::error::AppError;
use crate::services::Services;
use aggregates::lot::Lot;
use aggregates::metadata::EventMetadata;
use aggregates::permit::{DeskMethod, Permit, PermitCommand, PermitError, RenewalTerms};
use aggregates::values::{Fen, Period};
use uuid::Uuid;

/// A renewal paid at the desk.
#[derive(Debug, Clone)]
pub struct DeskRenewal {
    /// The card.
    pub permit_id: Uuid,
    /// The staff member at the desk.
    pub staff_id: Uuid,
    /// How it was paid.
    pub method: DeskMethod,
    /// The desk's receipt number.
    pub receipt_no: String,
    /// The amount taken.
    pub amount: Fen,
}

/// What the desk is told.
#[derive(Debug, Clone)]
pub struct DeskRenewed {
    /// The new renewal.
    pub renewal_id: Uuid,
    /// The season it bought.
    pub period: Period,
    /// The ledger position.
    pub position: Option<i64>,
}

fn receipt_used() -> AppError {
    AppError::rule(
        "receipt_used",
        "this receipt number was already used at this lot",
    )
}

/// Records a renewal paid at the desk: decided first on the card as it stands, then the
/// receipt number is claimed for the lot, then the renewal is appended (the claim is given
/// back if the append is refused).
pub async fn renew_at_desk(
    svc: &Services,
    desk: DeskRenewal,
    meta: &EventMetadata,
) -> Result<DeskRenewed, AppError> {
    let loaded = svc
        .ledger
        .load::<Permit>(&desk.permit_id.to_string())
        .await?;
    let card = loaded
        .aggregate
        .card
        .as_ref()
        .ok_or_else(|| AppError::refused(&PermitError::NotIssued))?;
    let lot = svc
        .ledger
        .load::<Lot>(&card.lot_id.to_string())
        .await?
        .aggregate
        .registered
        .ok_or_else(|| AppError::not_found("no_lot", "no such lot"))?;
    let now = svc.clock.now();
    let renewal_id = Uuid::new_v4();
    let command = PermitCommand::RenewAtDesk {
        renewal_id,
        staff_id: desk.staff_id,
        now,
        today: aggregates::business_time::business_date(now),
        terms: RenewalTerms {
            price: lot.product.price,
            calendar: lot.product.calendar,
            consent_version: lot.consent.version.clone(),
        },
        method: desk.method,
        receipt_no: desk.receipt_no,
        amount: desk.amount,
    };
    let events = loaded
        .aggregate
        .decide(command.clone())
        .map_err(|e| AppError::refused(&e))?;
    let Some(aggregates::permit::PermitEvent::DeskRenewalPaid {
        period, receipt_no, ..
    }) = events.first()
    else {
        return Err(AppError::Internal(
            "a desk renewal decided no payment".into(),
        ));
    };
    let (lot_id, period) = (card.lot_id, *period);
    let claimed = sqlx::query(
        "INSERT INTO desk_receipts (lot_id, receipt_no, renewal_id) VALUES ($1, $2, $3)
         ON CONFLICT (lot_id, receipt_no) DO NOTHING",
    )
    .bind(lot_id.to_string())
    .bind(receipt_no)
    .bind(renewal_id.to_string())
    .execute(&svc.store.db.write)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(receipt_used());
    }
    match svc
        .ledger
        .execute::<Permit>(&desk.permit_id.to_string(), command, meta)
        .await
    {
        Ok(committed) => Ok(DeskRenewed {
            renewal_id,
            period,
            position: committed.position,
        }),
        Err(e) => {
            // Nothing was appended: the receipt number is free again.
            let released = sqlx::query("DELETE FROM desk_receipts WHERE renewal_id = $1")
                .bind(renewal_id.to_string())
                .execute(&svc.store.db.write)
                .await;
            if let Err(release) = released {
                tracing::error!(%renewal_id, error = %release, "a desk receipt claim could not be given back");
            }
            Err(e.into())
        }
    }
}
