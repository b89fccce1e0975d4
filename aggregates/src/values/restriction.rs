//! A lot's tail-number restriction calendar (尾号限行): on which days which last digits may not
//! drive. Staff may register a second vehicle for the days their own car is restricted.

use super::{Period, Plate};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One rotation: from `period.from` to `period.to` (inclusive), per ISO weekday (1 = Monday …
/// 7 = Sunday) the restricted last digits. A weekday not listed is unrestricted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionPeriod {
    /// The days this rotation is in force.
    pub period: Period,
    /// ISO weekday → restricted last digits (0–9), sorted and distinct.
    pub digits: BTreeMap<u8, Vec<u8>>,
}

/// The calendar: rotations that do not overlap, sorted by start, and holidays (never restricted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionCalendar {
    periods: Vec<RestrictionPeriod>,
    holidays: Vec<NaiveDate>,
}

/// Why a restriction calendar is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestrictionError {
    /// A weekday outside 1–7.
    #[error("weekdays are 1 (Monday) to 7 (Sunday)")]
    Weekday,
    /// A digit outside 0–9.
    #[error("restricted digits are 0 to 9")]
    Digit,
    /// Two rotations cover the same day.
    #[error("restriction periods must not overlap")]
    Overlap,
    /// More rotations or holidays than a calendar holds.
    #[error("a calendar holds at most 100 periods and 1000 holidays")]
    TooLarge,
}

impl RestrictionCalendar {
    /// A calendar from its rotations and holidays; digits and holidays are sorted and deduplicated.
    pub fn new(
        mut periods: Vec<RestrictionPeriod>,
        mut holidays: Vec<NaiveDate>,
    ) -> Result<Self, RestrictionError> {
        if periods.len() > 100 || holidays.len() > 1000 {
            return Err(RestrictionError::TooLarge);
        }
        for p in &mut periods {
            for (weekday, digits) in p.digits.iter_mut() {
                if !(1..=7).contains(weekday) {
                    return Err(RestrictionError::Weekday);
                }
                if digits.iter().any(|d| *d > 9) {
                    return Err(RestrictionError::Digit);
                }
                digits.sort_unstable();
                digits.dedup();
            }
        }
        periods.sort_by_key(|p| p.period.from);
        if periods
            .windows(2)
            .any(|w| w[1].period.from <= w[0].period.to)
        {
            return Err(RestrictionError::Overlap);
        }
        holidays.sort_unstable();
        holidays.dedup();
        Ok(Self { periods, holidays })
    }

    /// The rotations, by start.
    pub fn periods(&self) -> &[RestrictionPeriod] {
        &self.periods
    }

    /// The holidays, sorted.
    pub fn holidays(&self) -> &[NaiveDate] {
        &self.holidays
    }

    /// Whether `plate` may not drive on `date` (a business date).
    pub fn is_restricted(&self, plate: &Plate, date: NaiveDate) -> bool {
        if self.holidays.binary_search(&date).is_ok() {
            return false;
        }
        let weekday = date.weekday().number_from_monday() as u8;
        let digit = tail_digit(plate);
        self.periods
            .iter()
            .find(|p| p.period.contains(date))
            .and_then(|p| p.digits.get(&weekday))
            .is_some_and(|digits| digits.contains(&digit))
    }
}

/// The digit the rule reads: the plate's last character, a letter (or any non-digit) counting
/// as 0, as in Beijing's rule.
pub fn tail_digit(plate: &Plate) -> u8 {
    plate
        .as_str()
        .chars()
        .last()
        .and_then(|c| c.to_digit(10))
        .map_or(0, |d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn plate(s: &str) -> Plate {
        Plate::parse(s).unwrap()
    }

    fn rotation(from: &str, to: &str, pairs: [(u8, [u8; 2]); 5]) -> RestrictionPeriod {
        RestrictionPeriod {
            period: Period::new(day(from), day(to)).unwrap(),
            digits: pairs.into_iter().map(|(w, d)| (w, d.to_vec())).collect(),
        }
    }

    fn beijing() -> RestrictionCalendar {
        RestrictionCalendar::new(
            vec![
                rotation(
                    "2026-03-30",
                    "2026-06-28",
                    [
                        (1, [1, 6]),
                        (2, [2, 7]),
                        (3, [3, 8]),
                        (4, [4, 9]),
                        (5, [5, 0]),
                    ],
                ),
                rotation(
                    "2026-06-29",
                    "2026-09-27",
                    [
                        (1, [5, 0]),
                        (2, [1, 6]),
                        (3, [2, 7]),
                        (4, [3, 8]),
                        (5, [4, 9]),
                    ],
                ),
            ],
            vec![day("2026-05-01")],
        )
        .unwrap()
    }

    #[test]
    fn the_last_digit_decides_on_a_weekday() {
        let cal = beijing();
        // 2026-04-06 is a Monday: 1 and 6 are restricted.
        assert!(cal.is_restricted(&plate("京A12346"), day("2026-04-06")));
        assert!(cal.is_restricted(&plate("京A12341"), day("2026-04-06")));
        assert!(!cal.is_restricted(&plate("京A12347"), day("2026-04-06")));
        assert!(cal.is_restricted(&plate("京A12347"), day("2026-04-07")));
    }

    #[test]
    fn a_letter_as_last_character_counts_as_zero() {
        let cal = beijing();
        // Friday 2026-04-10: 5 and 0.
        assert_eq!(tail_digit(&plate("京A1234B")), 0);
        assert!(cal.is_restricted(&plate("京A1234B"), day("2026-04-10")));
        assert!(!cal.is_restricted(&plate("京A1234B"), day("2026-04-09")));
    }

    #[test]
    fn a_new_rotation_changes_the_restricted_day() {
        let cal = beijing();
        let p = plate("京A12346");
        // Monday in the first rotation, Tuesday in the second.
        assert!(cal.is_restricted(&p, day("2026-06-22")));
        assert!(!cal.is_restricted(&p, day("2026-06-23")));
        assert!(!cal.is_restricted(&p, day("2026-06-29")));
        assert!(cal.is_restricted(&p, day("2026-06-30")));
    }

    #[test]
    fn holidays_weekends_and_days_outside_every_rotation_are_unrestricted() {
        let cal = beijing();
        // 2026-05-01 is a Friday and a holiday; the 4th of May a Monday.
        assert!(!cal.is_restricted(&plate("京A12345"), day("2026-05-01")));
        assert!(cal.is_restricted(&plate("京A12345"), day("2026-05-08")));
        assert!(!cal.is_restricted(&plate("京A12346"), day("2026-04-11")));
        assert!(!cal.is_restricted(&plate("京A12346"), day("2026-04-12")));
        assert!(!cal.is_restricted(&plate("京A12346"), day("2026-10-05")));
        assert!(
            !RestrictionCalendar::default().is_restricted(&plate("京A12346"), day("2026-04-06"))
        );
    }

    #[test]
    fn a_listed_weekend_day_is_restricted() {
        let mut period = rotation(
            "2026-04-01",
            "2026-04-30",
            [
                (1, [1, 6]),
                (2, [2, 7]),
                (3, [3, 8]),
                (4, [4, 9]),
                (5, [5, 0]),
            ],
        );
        period.digits.insert(6, vec![6]);
        let cal = RestrictionCalendar::new(vec![period], vec![]).unwrap();
        assert!(cal.is_restricted(&plate("京A12346"), day("2026-04-11")));
    }

    #[test]
    fn bad_weekdays_digits_and_overlaps_are_refused() {
        let mut p = rotation("2026-04-01", "2026-04-30", [(1, [1, 6]); 5]);
        p.digits.insert(8, vec![1]);
        assert_eq!(
            RestrictionCalendar::new(vec![p], vec![]),
            Err(RestrictionError::Weekday)
        );
        let mut p = rotation("2026-04-01", "2026-04-30", [(1, [1, 6]); 5]);
        p.digits.insert(2, vec![10]);
        assert_eq!(
            RestrictionCalendar::new(vec![p], vec![]),
            Err(RestrictionError::Digit)
        );
        let a = rotation("2026-04-01", "2026-04-30", [(1, [1, 6]); 5]);
        let b = rotation("2026-04-30", "2026-05-30", [(1, [1, 6]); 5]);
        assert_eq!(
            RestrictionCalendar::new(vec![b, a], vec![]),
            Err(RestrictionError::Overlap)
        );
    }
}
