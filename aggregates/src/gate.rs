//! The gate's rule: whether a vehicle seen at a lot's barrier may enter on a business day.

use crate::permit::CardStatus;
use crate::values::{Period, Plate, RestrictionCalendar};
use chrono::NaiveDate;

/// Which of a card's vehicles was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vehicle {
    /// The card's own vehicle.
    Primary,
    /// Its second vehicle (for the days the primary's tail number is restricted).
    Second,
}

/// The answer and its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateReason {
    /// The card's vehicle, the card in force.
    Active,
    /// The second vehicle on a day the card's vehicle is restricted, the card in force.
    SecondVehicle,
    /// The second vehicle on a day the card's vehicle may drive.
    SecondVehicleNotToday,
    /// Every approved period has ended.
    Expired,
    /// The first approved period starts later.
    NotYetValid,
    /// No card at this lot holds the vehicle.
    NoPermit,
}

impl GateReason {
    /// Whether the barrier opens.
    pub fn allowed(self) -> bool {
        matches!(self, GateReason::Active | GateReason::SecondVehicle)
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            GateReason::Active => "active",
            GateReason::SecondVehicle => "second_vehicle",
            GateReason::SecondVehicleNotToday => "second_vehicle_not_today",
            GateReason::Expired => "expired",
            GateReason::NotYetValid => "not_yet_valid",
            GateReason::NoPermit => "no_permit",
        }
    }
}

/// The gate's decision for `seen` of a card with approved periods `coverage` and vehicle
/// `primary`, under the lot's `calendar`, on business day `date`.
pub fn decide(
    coverage: &[Period],
    primary: &Plate,
    seen: Vehicle,
    calendar: &RestrictionCalendar,
    date: NaiveDate,
) -> GateReason {
    match CardStatus::of(coverage, date) {
        CardStatus::Expired => GateReason::Expired,
        CardStatus::NotYetValid => GateReason::NotYetValid,
        CardStatus::Active => match seen {
            Vehicle::Primary => GateReason::Active,
            Vehicle::Second if calendar.is_restricted(primary, date) => GateReason::SecondVehicle,
            Vehicle::Second => GateReason::SecondVehicleNotToday,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::RestrictionPeriod;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn calendar() -> RestrictionCalendar {
        RestrictionCalendar::new(
            vec![RestrictionPeriod {
                period: Period::new(day("2026-01-01"), day("2026-12-31")).unwrap(),
                digits: [(1, vec![1, 6]), (2, vec![2, 7])].into_iter().collect(),
            }],
            vec![],
        )
        .unwrap()
    }

    #[test]
    fn the_second_vehicle_enters_only_on_the_primarys_restricted_days_while_the_card_is_valid() {
        let coverage = [Period::new(day("2026-06-01"), day("2027-05-31")).unwrap()];
        let primary = Plate::parse("京A12346").unwrap();
        let cal = calendar();
        // 2026-06-08 is a Monday (1 and 6 restricted), the 9th a Tuesday.
        let on = |seen, date| decide(&coverage, &primary, seen, &cal, day(date));
        assert_eq!(on(Vehicle::Second, "2026-06-08"), GateReason::SecondVehicle);
        assert_eq!(
            on(Vehicle::Second, "2026-06-09"),
            GateReason::SecondVehicleNotToday
        );
        assert_eq!(on(Vehicle::Primary, "2026-06-08"), GateReason::Active);
        assert_eq!(on(Vehicle::Second, "2026-05-25"), GateReason::NotYetValid);
        assert_eq!(on(Vehicle::Second, "2027-06-07"), GateReason::Expired);
        assert!(GateReason::SecondVehicle.allowed());
        assert!(!GateReason::SecondVehicleNotToday.allowed());
    }
}
