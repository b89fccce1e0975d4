//! The reviewers' queue: paid renewals awaiting a decision, oldest paid first.

pub mod query;

use crate::rows::Staged;
use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::permit::PermitEvent;
use sqlx::AnyConnection;

/// The `review_queue` projection: tables `review_queue` (the queue), `review_queue_cards` and
/// `review_queue_submitted` (what it needs to know about cards and submitted renewals).
pub struct ReviewQueue;

const TABLES: &[&str] = &[
    "review_queue",
    "review_queue_cards",
    "review_queue_submitted",
];

const SCHEMA: &[&str] = &[
    "CREATE TABLE {review_queue} (
        renewal_id TEXT PRIMARY KEY,
        permit_id TEXT NOT NULL,
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        phone TEXT NOT NULL,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        paid_at TEXT NOT NULL
    )",
    "CREATE INDEX {review_queue}_paid ON {review_queue} (paid_at, renewal_id)",
    "CREATE TABLE {review_queue_cards} (
        permit_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        plate TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        phone TEXT NOT NULL
    )",
    "CREATE TABLE {review_queue_submitted} (
        renewal_id TEXT PRIMARY KEY,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        amount_fen BIGINT NOT NULL
    )",
];

crate::view_row! {
    /// A paid renewal awaiting a decision.
    struct QueueRow in "review_queue" key (renewal_id) {
        renewal_id: String,
        permit_id: String,
        lot_id: String,
        plate: String,
        holder_name: String,
        phone: String,
        period_from: String,
        period_to: String,
        amount_fen: i64,
        paid_at: String,
    }
}

crate::view_row! {
    /// What the queue shows of a card.
    struct CardRow in "review_queue_cards" key (permit_id) {
        permit_id: String,
        lot_id: String,
        plate: String,
        holder_name: String,
        phone: String,
    }
}

crate::view_row! {
    /// A submitted renewal not yet decided.
    struct SubmittedRow in "review_queue_submitted" key (renewal_id) {
        renewal_id: String,
        period_from: String,
        period_to: String,
        amount_fen: i64,
    }
}

/// The rows one batch works on.
struct Batch {
    queue: Staged<QueueRow>,
    cards: Staged<CardRow>,
    submitted: Staged<SubmittedRow>,
}

impl Batch {
    /// Changes the card `permit_id` and its queued renewals (the card's part of them).
    fn card(
        &mut self,
        permit_id: &str,
        change_card: impl FnOnce(&mut CardRow),
        change_queued: impl Fn(&mut QueueRow),
    ) -> Result<(), ProjectionError> {
        if let Some(card) = self.cards.get_mut(&vec![permit_id.to_string()])? {
            change_card(card);
        }
        for key in self.queue.matching(|q| q.permit_id == permit_id) {
            if let Some(queued) = self.queue.get_mut(&key)? {
                change_queued(queued);
            }
        }
        Ok(())
    }
}

fn fold(
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
            ..
        } => b.cards.put(CardRow {
            permit_id: permit_id.to_string(),
            lot_id: lot_id.to_string(),
            plate: plate.as_str().to_string(),
            holder_name,
            phone: phone.as_str().to_string(),
        }),
        PermitEvent::HolderChanged { holder_name, phone } => b.card(
            permit_id,
            |c| {
                c.holder_name = holder_name.clone();
                c.phone = phone.as_str().to_string();
            },
            |q| {
                q.holder_name = holder_name.clone();
                q.phone = phone.as_str().to_string();
            },
        )?,
        PermitEvent::VehicleBound { plate } => b.card(
            permit_id,
            |c| c.plate = plate.as_str().to_string(),
            |q| q.plate = plate.as_str().to_string(),
        )?,
        PermitEvent::RenewalSubmitted {
            renewal_id,
            period,
            amount,
            ..
        } => b.submitted.put(SubmittedRow {
            renewal_id: renewal_id.to_string(),
            period_from: period.from.to_string(),
            period_to: period.to.to_string(),
            amount_fen: amount.get(),
        }),
        PermitEvent::Paid {
            renewal_id,
            paid_at,
            ..
        } => {
            let card = b.cards.get(&vec![permit_id.to_string()])?;
            let submitted = b.submitted.get(&vec![renewal_id.to_string()])?;
            if let (Some(c), Some(s)) = (card, submitted) {
                let queued = QueueRow {
                    renewal_id: s.renewal_id.clone(),
                    permit_id: c.permit_id.clone(),
                    lot_id: c.lot_id.clone(),
                    plate: c.plate.clone(),
                    holder_name: c.holder_name.clone(),
                    phone: c.phone.clone(),
                    period_from: s.period_from.clone(),
                    period_to: s.period_to.clone(),
                    amount_fen: s.amount_fen,
                    paid_at: paid_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                };
                b.queue.put(queued);
            }
        }
        PermitEvent::Approved { renewal_id, .. } | PermitEvent::Rejected { renewal_id, .. } => {
            let key = vec![renewal_id.to_string()];
            b.queue.remove(&key)?;
            b.submitted.remove(&key)?;
        }
        PermitEvent::RenewalExpiredUnpaid { renewal_id, .. }
        | PermitEvent::RenewalCancelled { renewal_id, .. } => {
            b.submitted.remove(&vec![renewal_id.to_string()])?;
        }
        _ => {}
    }
    Ok(())
}

#[async_trait::async_trait]
impl Projection for ReviewQueue {
    fn name(&self) -> &'static str {
        "review_queue"
    }
    fn version(&self) -> i32 {
        1
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
        t: &Tables,
        event: &FeedEvent,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, t, std::slice::from_ref(event)).await
    }
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        t: &Tables,
        events: &[FeedEvent],
    ) -> Result<(), ProjectionError> {
        let mut b = Batch {
            queue: Staged::new(t),
            cards: Staged::new(t),
            submitted: Staged::new(t),
        };
        let mut decoded = Vec::with_capacity(events.len());
        // Cards whose queued renewals may change with them.
        let mut changed_cards = Vec::new();
        for event in events {
            let Some(e) = decode_permit(event)? else {
                continue;
            };
            b.cards.want(vec![event.aggregate_id.clone()]);
            if let Some(renewal_id) = e.renewal_id() {
                b.queue.want(vec![renewal_id.to_string()]);
                b.submitted.want(vec![renewal_id.to_string()]);
            }
            if matches!(
                e,
                PermitEvent::HolderChanged { .. } | PermitEvent::VehicleBound { .. }
            ) {
                changed_cards.push(event.aggregate_id.clone());
            }
            decoded.push((event, e));
        }
        b.cards.load(tx).await?;
        b.submitted.load(tx).await?;
        b.queue.load(tx).await?;
        b.queue.load_by(tx, "permit_id", &changed_cards).await?;
        for (event, e) in decoded {
            fold(&mut b, event, e)?;
        }
        b.queue.flush(tx).await?;
        b.cards.flush(tx).await?;
        b.submitted.flush(tx).await?;
        Ok(())
    }
}
