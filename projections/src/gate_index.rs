//! The gate's read model, held in memory: each lot's restriction calendar and, per (lot, plate),
//! the card that holds the vehicle, so a check needs no database round trip. The service keeps
//! one current from the feed (`src/gate/`); the rule itself is `aggregates::gate::decide`.

use crate::{decode_lot, decode_permit, FeedEvent};
use aggregates::gate::{self, GateReason, Vehicle};
use aggregates::lot::LotEvent;
use aggregates::permit::PermitEvent;
use aggregates::upcasting::DecodeError;
use aggregates::values::{Period, Plate, RestrictionCalendar};
use chrono::NaiveDate;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone)]
struct Card {
    lot_id: Uuid,
    plate: Plate,
    second_plate: Option<Plate>,
    coverage: Vec<Period>,
}

/// A gate check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateAnswer {
    /// Why the barrier opens or not.
    pub reason: GateReason,
    /// The card that holds the vehicle, if any.
    pub permit_id: Option<Uuid>,
    /// The end of the card's latest approved period, if any.
    pub valid_to: Option<NaiveDate>,
}

/// Cards and calendars by lot and plate, folded from the feed.
#[derive(Debug, Clone, Default)]
pub struct GateIndex {
    calendars: HashMap<Uuid, RestrictionCalendar>,
    cards: HashMap<Uuid, Card>,
    plates: HashMap<(Uuid, String), (Uuid, Vehicle)>,
    position: i64,
}

fn parse_id(event: &FeedEvent) -> Option<Uuid> {
    event.aggregate_id.parse().ok()
}

impl GateIndex {
    /// The feed position applied last.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// Applies one event of the feed (other aggregates' events only move the position).
    pub fn apply(&mut self, event: &FeedEvent) -> Result<(), DecodeError> {
        self.position = self.position.max(event.position);
        if let Some(lot_event) = decode_lot(event)? {
            if let (Some(lot_id), LotEvent::RestrictionsSet { calendar }) =
                (parse_id(event), lot_event)
            {
                self.calendars.insert(lot_id, calendar);
            }
            return Ok(());
        }
        let (Some(permit_event), Some(permit_id)) = (decode_permit(event)?, parse_id(event)) else {
            return Ok(());
        };
        self.apply_permit(permit_id, permit_event);
        Ok(())
    }

    fn bind(&mut self, lot_id: Uuid, plate: &Plate, permit_id: Uuid, seen: Vehicle) {
        self.plates
            .insert((lot_id, plate.as_str().to_string()), (permit_id, seen));
    }

    fn unbind(&mut self, lot_id: Uuid, plate: &Plate, permit_id: Uuid) {
        let key = (lot_id, plate.as_str().to_string());
        if self.plates.get(&key).is_some_and(|(p, _)| *p == permit_id) {
            self.plates.remove(&key);
        }
    }

    fn apply_permit(&mut self, permit_id: Uuid, event: PermitEvent) {
        if let PermitEvent::PermitIssued {
            lot_id,
            plate,
            validity,
            ..
        } = event
        {
            self.bind(lot_id, &plate, permit_id, Vehicle::Primary);
            self.cards.insert(
                permit_id,
                Card {
                    lot_id,
                    plate,
                    second_plate: None,
                    coverage: vec![validity],
                },
            );
            return;
        }
        let Some(card) = self.cards.get_mut(&permit_id) else {
            return;
        };
        let lot_id = card.lot_id;
        match event {
            PermitEvent::VehicleBound { plate } => {
                let old = std::mem::replace(&mut card.plate, plate.clone());
                self.unbind(lot_id, &old, permit_id);
                self.bind(lot_id, &plate, permit_id, Vehicle::Primary);
            }
            PermitEvent::SecondVehicleAdded { plate } => {
                card.second_plate = Some(plate.clone());
                self.bind(lot_id, &plate, permit_id, Vehicle::Second);
            }
            PermitEvent::SecondVehicleRemoved { plate } => {
                card.second_plate = None;
                self.unbind(lot_id, &plate, permit_id);
            }
            PermitEvent::Approved { period, .. } => card.coverage.push(period),
            _ => {}
        }
    }

    /// Whether `plate` may enter `lot_id` on business day `date`, and why.
    pub fn check(&self, lot_id: Uuid, plate: &Plate, date: NaiveDate) -> GateAnswer {
        let Some((permit_id, seen)) = self.plates.get(&(lot_id, plate.as_str().to_string())) else {
            return GateAnswer {
                reason: GateReason::NoPermit,
                permit_id: None,
                valid_to: None,
            };
        };
        let Some(card) = self.cards.get(permit_id) else {
            return GateAnswer {
                reason: GateReason::NoPermit,
                permit_id: None,
                valid_to: None,
            };
        };
        let empty = RestrictionCalendar::default();
        let calendar = self.calendars.get(&lot_id).unwrap_or(&empty);
        GateAnswer {
            reason: gate::decide(&card.coverage, &card.plate, *seen, calendar, date),
            permit_id: Some(*permit_id),
            valid_to: card.coverage.iter().map(|p| p.to).max(),
        }
    }
}
