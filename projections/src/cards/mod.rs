//! Owners' cards and orders (and the lots they belong to): what the owner's page and the
//! reviewer's detail show.

pub mod query;

use crate::rows::{Key, Staged};
use crate::{decode_lot, decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::lot::LotEvent;
use aggregates::permit::{renewal_status, PermitEvent};
use aggregates::values::Period;
use sqlx::AnyConnection;

/// The `cards` projection: tables `lots`, `cards`, `renewals`.
pub struct Cards;

const TABLES: &[&str] = &["lots", "cards", "renewals"];

const SCHEMA: &[&str] = &[
    "CREATE TABLE {lots} (
        lot_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        product_name TEXT NOT NULL,
        price_fen BIGINT NOT NULL,
        period_months INTEGER NOT NULL,
        season_starts TEXT NOT NULL,
        consent_version TEXT NOT NULL,
        consent_text TEXT NOT NULL,
        service_phone TEXT
    )",
    "CREATE TABLE {cards} (
        permit_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        phone TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        coverage TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        second_plate TEXT,
        hidden INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX {cards}_owner ON {cards} (lot_id, phone)",
    "CREATE INDEX {cards}_plate ON {cards} (lot_id, plate)",
    "CREATE TABLE {renewals} (
        renewal_id TEXT PRIMARY KEY,
        permit_id TEXT NOT NULL,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        reject_reason TEXT,
        consent_version TEXT NOT NULL,
        photo_sha256 TEXT NOT NULL,
        photo_type TEXT NOT NULL,
        photo_size BIGINT NOT NULL,
        order_id TEXT NOT NULL,
        transaction_id TEXT,
        out_refund_no TEXT,
        refund_failure TEXT,
        submitted_at TEXT NOT NULL,
        pay_by TEXT NOT NULL,
        paid_at TEXT,
        decided_at TEXT,
        refunded_at TEXT
    )",
    "CREATE INDEX {renewals}_permit ON {renewals} (permit_id, submitted_at)",
    "CREATE INDEX {renewals}_order ON {renewals} (order_id)",
    "CREATE INDEX {renewals}_status ON {renewals} (status, pay_by)",
];

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

crate::view_row! {
    /// A lot, as owners and reviewers see it.
    struct LotRow in "lots" key (lot_id) {
        lot_id: String,
        name: String,
        product_name: String,
        price_fen: i64,
        period_months: i32,
        season_starts: String,
        consent_version: String,
        consent_text: String,
        service_phone: Option<String>,
    }
}

crate::view_row! {
    /// A card: its vehicle, holder and what it covers.
    struct CardRow in "cards" key (permit_id) {
        permit_id: String,
        lot_id: String,
        plate: String,
        holder_name: String,
        phone: String,
        valid_from: String,
        valid_to: String,
        coverage: String,
        issued_at: String,
        second_plate: Option<String>,
        hidden: i32,
    }
}

crate::view_row! {
    /// A renewal (an order) and where it stands.
    struct RenewalRow in "renewals" key (renewal_id) {
        renewal_id: String,
        permit_id: String,
        period_from: String,
        period_to: String,
        amount_fen: i64,
        channel: String,
        status: String,
        reject_reason: Option<String>,
        consent_version: String,
        photo_sha256: String,
        photo_type: String,
        photo_size: i64,
        order_id: String,
        transaction_id: Option<String>,
        out_refund_no: Option<String>,
        refund_failure: Option<String>,
        submitted_at: String,
        pay_by: String,
        paid_at: Option<String>,
        decided_at: Option<String>,
        refunded_at: Option<String>,
    }
}

/// The rows one batch works on.
struct Batch {
    lots: Staged<LotRow>,
    cards: Staged<CardRow>,
    renewals: Staged<RenewalRow>,
}

enum Decoded {
    Lot(LotEvent),
    Permit(PermitEvent),
}

fn decode(event: &FeedEvent) -> Result<Option<Decoded>, ProjectionError> {
    if let Some(e) = decode_lot(event)? {
        return Ok(Some(Decoded::Lot(e)));
    }
    Ok(decode_permit(event)?.map(Decoded::Permit))
}

fn key(id: impl ToString) -> Key {
    vec![id.to_string()]
}

/// Adds `period` to the card's coverage; its validity becomes the latest period.
fn extend_coverage(card: &mut CardRow, period: Period) {
    let mut periods: Vec<Period> = serde_json::from_str(&card.coverage).unwrap_or_default();
    periods.push(period);
    let latest = periods
        .iter()
        .max_by_key(|p| p.to)
        .copied()
        .unwrap_or(period);
    card.coverage = serde_json::to_string(&periods).unwrap_or_else(|_| "[]".into());
    card.valid_from = latest.from.to_string();
    card.valid_to = latest.to.to_string();
}

fn apply_lot(b: &mut Batch, lot_id: &str, event: LotEvent) -> Result<(), ProjectionError> {
    match event {
        LotEvent::LotRegistered {
            name,
            product,
            consent,
        } => b.lots.put(LotRow {
            lot_id: lot_id.to_string(),
            name,
            product_name: product.name,
            price_fen: product.price.get(),
            period_months: product.calendar.period_months as i32,
            season_starts: product.calendar.season_starts.to_string(),
            consent_version: consent.version,
            consent_text: consent.text,
            service_phone: None,
        }),
        LotEvent::ConsentPublished { consent } => {
            if let Some(lot) = b.lots.get_mut(&key(lot_id))? {
                lot.consent_version = consent.version;
                lot.consent_text = consent.text;
            }
        }
        LotEvent::ServicePhoneSet { service_phone } => {
            if let Some(lot) = b.lots.get_mut(&key(lot_id))? {
                lot.service_phone = Some(service_phone);
            }
        }
        LotEvent::RestrictionsSet { .. } => {}
    }
    Ok(())
}

/// Changes the card `permit_id`, if the view has it.
fn card(
    b: &mut Batch,
    permit_id: &str,
    change: impl FnOnce(&mut CardRow),
) -> Result<(), ProjectionError> {
    if let Some(card) = b.cards.get_mut(&key(permit_id))? {
        change(card);
    }
    Ok(())
}

/// Changes the renewal `renewal_id`, if the view has it.
fn renewal(
    b: &mut Batch,
    renewal_id: uuid::Uuid,
    change: impl FnOnce(&mut RenewalRow),
) -> Result<(), ProjectionError> {
    if let Some(r) = b.renewals.get_mut(&key(renewal_id))? {
        change(r);
    }
    Ok(())
}

fn apply_permit(
    b: &mut Batch,
    event: &FeedEvent,
    permit_event: PermitEvent,
) -> Result<(), ProjectionError> {
    let moved = renewal_status(&permit_event);
    apply_permit_fields(b, event, permit_event)?;
    // The status is the domain's: one status machine for the aggregate, this view and the replay.
    if let Some((renewal_id, status)) = moved {
        renewal(b, renewal_id, |r| r.status = status.as_str().to_string())?;
    }
    Ok(())
}

/// Everything an event changes in the view but its renewal's status.
fn apply_permit_fields(
    b: &mut Batch,
    event: &FeedEvent,
    permit_event: PermitEvent,
) -> Result<(), ProjectionError> {
    let permit_id = event.aggregate_id.as_str();
    match permit_event {
        PermitEvent::PermitIssued {
            lot_id,
            plate,
            holder_name,
            phone,
            validity,
        } => b.cards.put(CardRow {
            permit_id: permit_id.to_string(),
            lot_id: lot_id.to_string(),
            plate: plate.as_str().to_string(),
            holder_name,
            phone: phone.as_str().to_string(),
            valid_from: validity.from.to_string(),
            valid_to: validity.to.to_string(),
            coverage: serde_json::to_string(&[validity]).unwrap_or_else(|_| "[]".into()),
            issued_at: rfc3339(event.recorded_at),
            second_plate: None,
            hidden: 0,
        }),
        PermitEvent::HolderChanged { holder_name, phone } => card(b, permit_id, |c| {
            c.holder_name = holder_name;
            c.phone = phone.as_str().to_string();
        })?,
        PermitEvent::VehicleBound { plate } => card(b, permit_id, |c| {
            c.plate = plate.as_str().to_string();
        })?,
        PermitEvent::SecondVehicleAdded { plate } => card(b, permit_id, |c| {
            c.second_plate = Some(plate.as_str().to_string());
        })?,
        PermitEvent::SecondVehicleRemoved { .. } => card(b, permit_id, |c| {
            c.second_plate = None;
        })?,
        PermitEvent::CardHidden {} => card(b, permit_id, |c| c.hidden = 1)?,
        PermitEvent::CardShown {} => card(b, permit_id, |c| c.hidden = 0)?,
        PermitEvent::VehicleUnbound { .. } | PermitEvent::VehicleChosen { .. } => {}
        PermitEvent::RenewalSubmitted {
            renewal_id,
            period,
            amount,
            consent_version,
            photo,
            order_id,
            submitted_at,
            pay_by,
        } => b.renewals.put(RenewalRow {
            renewal_id: renewal_id.to_string(),
            permit_id: permit_id.to_string(),
            period_from: period.from.to_string(),
            period_to: period.to.to_string(),
            amount_fen: amount.get(),
            channel: "wechat_pay".into(),
            status: String::new(),
            reject_reason: None,
            consent_version,
            photo_sha256: photo.sha256,
            photo_type: photo.content_type,
            photo_size: photo.size as i64,
            order_id,
            transaction_id: None,
            out_refund_no: None,
            refund_failure: None,
            submitted_at: rfc3339(submitted_at),
            pay_by: rfc3339(pay_by),
            paid_at: None,
            decided_at: None,
            refunded_at: None,
        }),
        // A renewal paid at the desk has no order, photo or consent; its channel is the
        // desk's method. `Approved` follows.
        PermitEvent::DeskRenewalPaid {
            renewal_id,
            period,
            amount,
            method,
            paid_at,
            ..
        } => {
            let paid_at = rfc3339(paid_at);
            b.renewals.put(RenewalRow {
                renewal_id: renewal_id.to_string(),
                permit_id: permit_id.to_string(),
                period_from: period.from.to_string(),
                period_to: period.to.to_string(),
                amount_fen: amount.get(),
                channel: method.as_str().to_string(),
                status: String::new(),
                reject_reason: None,
                consent_version: String::new(),
                photo_sha256: String::new(),
                photo_type: String::new(),
                photo_size: 0,
                order_id: String::new(),
                transaction_id: None,
                out_refund_no: None,
                refund_failure: None,
                submitted_at: paid_at.clone(),
                pay_by: paid_at.clone(),
                paid_at: Some(paid_at),
                decided_at: None,
                refunded_at: None,
            });
        }
        PermitEvent::Paid {
            renewal_id,
            transaction_id,
            paid_at,
            ..
        } => renewal(b, renewal_id, |r| {
            r.paid_at = Some(rfc3339(paid_at));
            r.transaction_id = Some(transaction_id);
        })?,
        PermitEvent::Approved {
            renewal_id,
            period,
            decided_at,
            ..
        } => {
            renewal(b, renewal_id, |r| r.decided_at = Some(rfc3339(decided_at)))?;
            card(b, permit_id, |c| extend_coverage(c, period))?;
        }
        PermitEvent::Rejected {
            renewal_id,
            reason,
            decided_at,
            ..
        } => renewal(b, renewal_id, |r| {
            r.reject_reason = Some(reason);
            r.decided_at = Some(rfc3339(decided_at));
        })?,
        PermitEvent::RefundRequested {
            renewal_id,
            out_refund_no,
            ..
        } => renewal(b, renewal_id, |r| r.out_refund_no = Some(out_refund_no))?,
        PermitEvent::Refunded {
            renewal_id,
            refunded_at,
            ..
        } => renewal(b, renewal_id, |r| {
            r.refunded_at = Some(rfc3339(refunded_at))
        })?,
        PermitEvent::RefundFailed {
            renewal_id,
            failure,
            ..
        } => {
            let failure = serde_json::to_value(failure)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            renewal(b, renewal_id, |r| r.refund_failure = Some(failure))?;
        }
        PermitEvent::RenewalExpiredUnpaid { .. } | PermitEvent::RenewalCancelled { .. } => {}
        // A stray payment does not change the renewal the owner sees; its refund is the
        // payment process's work (`payment_dispatch`), its record the audit trail's.
        PermitEvent::StrayPaymentReceived { .. }
        | PermitEvent::StrayPaymentRefunded { .. }
        | PermitEvent::StrayRefundFailed { .. } => {}
        // Staff closed the renewal's refund problem: the owner has the money back.
        PermitEvent::PaymentProblemResolved {
            renewal_id,
            stray: false,
            at,
            ..
        } => renewal(b, renewal_id, |r| r.refunded_at = Some(rfc3339(at)))?,
        // A problem and its retry leave the renewal `refund_failed` until the outcome.
        PermitEvent::PaymentProblemRaised { .. }
        | PermitEvent::PaymentProblemRetried { .. }
        | PermitEvent::PaymentProblemResolved { .. } => {}
    }
    Ok(())
}

#[async_trait::async_trait]
impl Projection for Cards {
    fn name(&self) -> &'static str {
        "cards"
    }
    fn version(&self) -> i32 {
        // 2: the lot's service phone, the card's second vehicle, hidden cards.
        2
    }
    fn on_poison(&self) -> crate::PoisonPolicy {
        // A view that only shows: an event it cannot apply is parked, the rest goes on.
        crate::PoisonPolicy::Park
    }
    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }
    fn schema(&self) -> &'static [&'static str] {
        SCHEMA
    }
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        tables: &Tables,
        event: &FeedEvent,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, tables, std::slice::from_ref(event))
            .await
    }
    /// Reads the lots, cards and renewals the batch's events name, folds the events into them
    /// and writes back the rows that changed.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        tables: &Tables,
        events: &[FeedEvent],
    ) -> Result<(), ProjectionError> {
        let mut decoded = Vec::with_capacity(events.len());
        let mut b = Batch {
            lots: Staged::new(tables),
            cards: Staged::new(tables),
            renewals: Staged::new(tables),
        };
        for event in events {
            let Some(d) = decode(event)? else { continue };
            match &d {
                Decoded::Lot(_) => b.lots.want(key(&event.aggregate_id)),
                Decoded::Permit(e) => {
                    b.cards.want(key(&event.aggregate_id));
                    if let Some(renewal_id) = e.renewal_id() {
                        b.renewals.want(key(renewal_id));
                    }
                }
            }
            decoded.push((event, d));
        }
        b.lots.load(tx).await?;
        b.cards.load(tx).await?;
        b.renewals.load(tx).await?;
        for (event, d) in decoded {
            match d {
                Decoded::Lot(e) => apply_lot(&mut b, &event.aggregate_id, e)?,
                Decoded::Permit(e) => apply_permit(&mut b, event, e)?,
            }
        }
        b.lots.flush(tx).await?;
        b.cards.flush(tx).await?;
        b.renewals.flush(tx).await?;
        Ok(())
    }
}
