//! The Permit and Renewal shapes of api.md, made from the `cards` view's typed rows
//! (`projections::cards::query`).

use crate::error::AppError;
use crate::services::Services;
use aggregates::permit::CardStatus;
use aggregates::values::Phone;
use projections::cards::query::{self, CardView, RenewalView};
use serde_json::{json, Value};

/// Who is looking: owners see masked phones; reviewers and auditors see them whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The card holder.
    Owner,
    /// Reviewers and auditors.
    Staff,
}

fn renewal_json(r: RenewalView) -> Value {
    // A renewal paid at the desk has no payment order and no photo.
    let order_id = Some(r.order_id).filter(|o| !o.is_empty());
    let photo = if r.photo_sha256.is_empty() {
        Value::Null
    } else {
        json!({"sha256": r.photo_sha256, "content_type": r.photo_type, "size": r.photo_size})
    };
    json!({
        "renewal_id": r.renewal_id,
        "permit_id": r.permit_id,
        "period": {"from": r.period_from, "to": r.period_to},
        "amount_fen": r.amount_fen,
        "channel": r.channel,
        "status": r.status,
        "reject_reason": r.reject_reason,
        "submitted_at": r.submitted_at,
        "paid_at": r.paid_at,
        "decided_at": r.decided_at,
        "refunded_at": r.refunded_at,
        "refund_failure": r.refund_failure,
        "order_id": order_id,
        "pay_by": r.pay_by,
        "consent_version": r.consent_version,
        "photo": photo,
    })
}

fn card_json(c: CardView, svc: &Services, audience: Audience) -> Value {
    let today = svc.clock.today();
    let status = CardStatus::of(&c.coverage, today);
    let masked = Phone::parse(&c.phone)
        .map(|p| p.masked())
        .unwrap_or_else(|_| "***".into());
    // The season a renewal submitted today would buy (the rule of `SubmitRenewal`), or null.
    let on_sale = match c.calendar.and_then(|cal| cal.on_sale(&c.coverage, today)) {
        Some(p) => json!({"from": p.from.to_string(), "to": p.to.to_string()}),
        None => Value::Null,
    };
    let mut card = json!({
        "permit_id": c.permit_id,
        "lot_id": c.lot_id,
        "lot_name": c.lot_name,
        "product_name": c.product_name,
        "plate": c.plate,
        "holder_name": c.holder_name,
        "phone_masked": masked,
        "valid_from": c.valid_from,
        "valid_to": c.valid_to,
        "status": status.as_str(),
        "second_plate": c.second_plate,
        "hidden": c.hidden,
        "service_phone": c.service_phone,
        "period_on_sale": on_sale,
    });
    if audience == Audience::Staff {
        card["phone"] = json!(c.phone);
    }
    card
}

/// A renewal by id (with its permit id), if any.
pub async fn renewal(svc: &Services, renewal_id: &str) -> Result<Option<Value>, AppError> {
    Ok(query::renewal(&svc.store.db.read, renewal_id)
        .await?
        .map(renewal_json))
}

/// One card with its renewals.
pub async fn permit(
    svc: &Services,
    permit_id: &str,
    audience: Audience,
) -> Result<Option<Value>, AppError> {
    let db = &svc.store.db.read;
    let Some(row) = query::card(db, permit_id).await? else {
        return Ok(None);
    };
    let mut card = card_json(row, svc, audience);
    let renewals = query::renewals_of(db, permit_id).await?;
    card["renewals"] = Value::Array(renewals.into_iter().map(renewal_json).collect());
    Ok(Some(card))
}

/// The owner of a card, for access checks: (lot_id, phone).
pub async fn card_owner(
    svc: &Services,
    permit_id: &str,
) -> Result<Option<(String, String)>, AppError> {
    Ok(query::holder(&svc.store.db.read, permit_id).await?)
}

/// Every card held under `phone` at `lot_id`, with renewals; those the owner hid only when
/// `include_hidden`.
pub async fn permits_of_owner(
    svc: &Services,
    lot_id: &str,
    phone: &str,
    include_hidden: bool,
) -> Result<Vec<Value>, AppError> {
    let ids = query::cards_of_holder(&svc.store.db.read, lot_id, phone, include_hidden).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(p) = permit(svc, &id, Audience::Owner).await? {
            out.push(p);
        }
    }
    Ok(out)
}
