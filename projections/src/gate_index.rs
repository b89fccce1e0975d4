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

#[cfg(test)]
mod tests {
    use super::*;
    use aggregates::values::RestrictionPeriod;
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn plate(s: &str) -> Plate {
        Plate::parse(s).unwrap()
    }

    struct Feed {
        index: GateIndex,
        position: i64,
    }

    impl Feed {
        fn push(&mut self, aggregate_type: &str, id: Uuid, payload: serde_json::Value) {
            self.position += 1;
            let event_type = payload.as_object().unwrap().keys().next().unwrap().clone();
            let event = FeedEvent {
                position: self.position,
                aggregate_type: aggregate_type.into(),
                aggregate_id: id.to_string(),
                sequence: 1,
                event_type,
                event_version: "1".into(),
                payload,
                metadata: json!({}),
                recorded_at: "2022-05-20T02:00:00Z".parse().unwrap(),
                hash: None,
                prev_hash: None,
            };
            self.index.apply(&event).unwrap();
        }

        fn permit(&mut self, id: Uuid, event: PermitEvent) {
            self.push("permit", id, serde_json::to_value(event).unwrap());
        }
    }

    #[test]
    fn the_index_follows_vehicle_moves_and_second_vehicles() {
        let lot = Uuid::from_u128(1);
        let card = Uuid::from_u128(2);
        let mut feed = Feed {
            index: GateIndex::default(),
            position: 0,
        };
        let calendar = RestrictionCalendar::new(
            vec![RestrictionPeriod {
                period: Period::new(day("2022-01-01"), day("2022-12-31")).unwrap(),
                digits: [(1, vec![1, 6])].into_iter().collect(),
            }],
            vec![],
        )
        .unwrap();
        feed.push(
            "lot",
            lot,
            serde_json::to_value(LotEvent::RestrictionsSet { calendar }).unwrap(),
        );
        feed.permit(
            card,
            PermitEvent::PermitIssued {
                lot_id: lot,
                plate: plate("京A66666"),
                holder_name: "王老师".into(),
                phone: aggregates::values::Phone::parse("13912345678").unwrap(),
                validity: Period::new(day("2021-06-01"), day("2022-05-31")).unwrap(),
            },
        );
        feed.permit(
            card,
            PermitEvent::SecondVehicleAdded {
                plate: plate("京B12345"),
            },
        );
        let monday = day("2022-05-23");
        let reason = |feed: &Feed, p: &str| feed.index.check(lot, &plate(p), monday).reason;
        assert_eq!(reason(&feed, "京A66666"), GateReason::Active);
        assert_eq!(reason(&feed, "京B12345"), GateReason::SecondVehicle);
        // The card moves to a vehicle ending in 7: no longer restricted on Mondays.
        feed.permit(
            card,
            PermitEvent::VehicleUnbound {
                plate: plate("京A66666"),
            },
        );
        feed.permit(
            card,
            PermitEvent::VehicleBound {
                plate: plate("京A66667"),
            },
        );
        assert_eq!(reason(&feed, "京A66666"), GateReason::NoPermit);
        assert_eq!(reason(&feed, "京A66667"), GateReason::Active);
        assert_eq!(reason(&feed, "京B12345"), GateReason::SecondVehicleNotToday);
        feed.permit(
            card,
            PermitEvent::SecondVehicleRemoved {
                plate: plate("京B12345"),
            },
        );
        assert_eq!(reason(&feed, "京B12345"), GateReason::NoPermit);
        assert_eq!(feed.index.position(), 6);
    }
}
