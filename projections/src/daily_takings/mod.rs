//! The office's daily takings and refunds by lot (the worked example in docs/read-models.md).
//!
//! One row per lot and business day (Asia/Shanghai): money paid for renewals that day and money
//! paid back that day, in fen, with counts; and the same per channel (`wechat_pay`, or the
//! desk's `cash`, `card`, `transfer`).

pub mod query;

use crate::rows::Staged;
use crate::{decode_permit, FeedEvent, Projection, ProjectionError, Tables};
use aggregates::business_time::business_date;
use aggregates::permit::PermitEvent;
use sqlx::AnyConnection;

/// The `daily_takings` projection: table `daily_takings` (plus its lookups).
pub struct DailyTakings;

const TABLES: &[&str] = &[
    "daily_takings",
    "daily_takings_channels",
    "daily_takings_cards",
    "daily_takings_renewals",
];

/// The channel of renewals paid online.
const WECHAT_PAY: &str = "wechat_pay";

const SCHEMA: &[&str] = &[
    "CREATE TABLE {daily_takings} (
        lot_id TEXT NOT NULL,
        day TEXT NOT NULL,
        paid_fen BIGINT NOT NULL,
        paid_count BIGINT NOT NULL,
        refunded_fen BIGINT NOT NULL,
        refunded_count BIGINT NOT NULL,
        PRIMARY KEY (lot_id, day)
    )",
    "CREATE TABLE {daily_takings_channels} (
        lot_id TEXT NOT NULL,
        day TEXT NOT NULL,
        channel TEXT NOT NULL,
        paid_fen BIGINT NOT NULL,
        paid_count BIGINT NOT NULL,
        refunded_fen BIGINT NOT NULL,
        refunded_count BIGINT NOT NULL,
        PRIMARY KEY (lot_id, day, channel)
    )",
    "CREATE TABLE {daily_takings_cards} (permit_id TEXT PRIMARY KEY, lot_id TEXT NOT NULL)",
    "CREATE TABLE {daily_takings_renewals} (
        renewal_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        channel TEXT NOT NULL
    )",
];

crate::view_row! {
    /// A lot's takings on one business day.
    struct DayRow in "daily_takings" key (lot_id, day) {
        lot_id: String,
        day: String,
        paid_fen: i64,
        paid_count: i64,
        refunded_fen: i64,
        refunded_count: i64,
    }
}

crate::view_row! {
    /// A lot's takings on one business day through one channel.
    struct ChannelRow in "daily_takings_channels" key (lot_id, day, channel) {
        lot_id: String,
        day: String,
        channel: String,
        paid_fen: i64,
        paid_count: i64,
        refunded_fen: i64,
        refunded_count: i64,
    }
}

crate::view_row! {
    /// A card's lot.
    struct CardRow in "daily_takings_cards" key (permit_id) {
        permit_id: String,
        lot_id: String,
    }
}

crate::view_row! {
    /// A renewal's lot, amount and channel.
    struct RenewalRow in "daily_takings_renewals" key (renewal_id) {
        renewal_id: String,
        lot_id: String,
        amount_fen: i64,
        channel: String,
    }
}

/// Money in or out on a lot's business day, found while folding the batch.
struct Movement {
    lot_id: String,
    day: String,
    channel: String,
    fen: i64,
    paid: bool,
}

impl Movement {
    /// Adds it to a day's figures.
    fn add_to(
        &self,
        paid_fen: &mut i64,
        paid: &mut i64,
        refunded_fen: &mut i64,
        refunded: &mut i64,
    ) {
        if self.paid {
            *paid_fen += self.fen;
            *paid += 1;
        } else {
            *refunded_fen += self.fen;
            *refunded += 1;
        }
    }
}

/// The lookups one batch works on.
struct Lookups {
    cards: Staged<CardRow>,
    renewals: Staged<RenewalRow>,
}

impl Lookups {
    /// Remembers a renewal's lot (its card's), amount and channel.
    fn remember(
        &mut self,
        permit_id: &str,
        renewal_id: uuid::Uuid,
        amount: i64,
        channel: &str,
    ) -> Result<(), ProjectionError> {
        if let Some(card) = self.cards.get(&vec![permit_id.to_string()])? {
            let row = RenewalRow {
                renewal_id: renewal_id.to_string(),
                lot_id: card.lot_id.clone(),
                amount_fen: amount,
                channel: channel.to_string(),
            };
            self.renewals.put(row);
        }
        Ok(())
    }

    /// The renewal's amount as money in (`paid`) or out on the business day of `at`.
    fn movement(
        &self,
        renewal_id: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
        paid: bool,
    ) -> Result<Option<Movement>, ProjectionError> {
        Ok(self
            .renewals
            .get(&vec![renewal_id.to_string()])?
            .map(|r| Movement {
                lot_id: r.lot_id.clone(),
                day: business_date(at).to_string(),
                channel: r.channel.clone(),
                fen: r.amount_fen,
                paid,
            }))
    }

    /// Folds one event into the lookups; the money it moves, if any.
    fn fold(
        &mut self,
        event: &FeedEvent,
        permit_event: PermitEvent,
    ) -> Result<Option<Movement>, ProjectionError> {
        let permit_id = event.aggregate_id.as_str();
        match permit_event {
            PermitEvent::PermitIssued { lot_id, .. } => {
                self.cards.put(CardRow {
                    permit_id: permit_id.to_string(),
                    lot_id: lot_id.to_string(),
                });
                Ok(None)
            }
            PermitEvent::RenewalSubmitted {
                renewal_id, amount, ..
            } => {
                self.remember(permit_id, renewal_id, amount.get(), WECHAT_PAY)?;
                Ok(None)
            }
            PermitEvent::DeskRenewalPaid {
                renewal_id,
                amount,
                method,
                paid_at,
                ..
            } => {
                self.remember(permit_id, renewal_id, amount.get(), method.as_str())?;
                self.movement(renewal_id, paid_at, true)
            }
            PermitEvent::Paid {
                renewal_id,
                paid_at,
                ..
            } => self.movement(renewal_id, paid_at, true),
            PermitEvent::Refunded {
                renewal_id,
                refunded_at,
                ..
            } => self.movement(renewal_id, refunded_at, false),
            _ => Ok(None),
        }
    }
}

/// Adds the batch's movements to the days (and channels) they fall on.
async fn add_up(
    tx: &mut AnyConnection,
    t: &Tables,
    movements: &[Movement],
) -> Result<(), ProjectionError> {
    let mut days: Staged<DayRow> = Staged::new(t);
    let mut channels: Staged<ChannelRow> = Staged::new(t);
    for m in movements {
        days.want(vec![m.lot_id.clone(), m.day.clone()]);
        channels.want(vec![m.lot_id.clone(), m.day.clone(), m.channel.clone()]);
    }
    days.load(tx).await?;
    channels.load(tx).await?;
    for m in movements {
        let key = vec![m.lot_id.clone(), m.day.clone()];
        if days.get(&key)?.is_none() {
            days.put(DayRow {
                lot_id: m.lot_id.clone(),
                day: m.day.clone(),
                paid_fen: 0,
                paid_count: 0,
                refunded_fen: 0,
                refunded_count: 0,
            });
        }
        if let Some(d) = days.get_mut(&key)? {
            m.add_to(
                &mut d.paid_fen,
                &mut d.paid_count,
                &mut d.refunded_fen,
                &mut d.refunded_count,
            );
        }
        let key = vec![m.lot_id.clone(), m.day.clone(), m.channel.clone()];
        if channels.get(&key)?.is_none() {
            channels.put(ChannelRow {
                lot_id: m.lot_id.clone(),
                day: m.day.clone(),
                channel: m.channel.clone(),
                paid_fen: 0,
                paid_count: 0,
                refunded_fen: 0,
                refunded_count: 0,
            });
        }
        if let Some(c) = channels.get_mut(&key)? {
            m.add_to(
                &mut c.paid_fen,
                &mut c.paid_count,
                &mut c.refunded_fen,
                &mut c.refunded_count,
            );
        }
    }
    days.flush(tx).await?;
    channels.flush(tx).await?;
    Ok(())
}

#[async_trait::async_trait]
impl Projection for DailyTakings {
    fn name(&self) -> &'static str {
        "daily_takings"
    }
    fn version(&self) -> i32 {
        2
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
    /// Folds the batch into the card and renewal lookups first (the money each event moves
    /// depends only on them), then adds the money up per day.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        t: &Tables,
        events: &[FeedEvent],
    ) -> Result<(), ProjectionError> {
        let mut lookups = Lookups {
            cards: Staged::new(t),
            renewals: Staged::new(t),
        };
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            let Some(e) = decode_permit(event)? else {
                continue;
            };
            lookups.cards.want(vec![event.aggregate_id.clone()]);
            if let Some(renewal_id) = e.renewal_id() {
                lookups.renewals.want(vec![renewal_id.to_string()]);
            }
            decoded.push((event, e));
        }
        lookups.cards.load(tx).await?;
        lookups.renewals.load(tx).await?;
        let mut movements = Vec::new();
        for (event, e) in decoded {
            movements.extend(lookups.fold(event, e)?);
        }
        lookups.cards.flush(tx).await?;
        lookups.renewals.flush(tx).await?;
        add_up(tx, t, &movements).await
    }
}
