//! Validity periods and the seasons a product sells.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A range of calendar dates, both ends included (a card valid 2022-06-01 to 2023-05-31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Period {
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub to: NaiveDate,
}

/// Why a period or a season calendar is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The end comes before the start.
    #[error("a period must not end before it starts")]
    EndsBeforeStart,
    /// The season length does not tile a year.
    #[error("period_months must divide 12 (1, 2, 3, 4, 6 or 12)")]
    PeriodMonths,
    /// The season start is not a valid MM-DD with a day of at most 28.
    #[error("season_starts must be MM-DD with a day from 01 to 28")]
    SeasonStart,
}

impl Period {
    /// A period from `from` to `to`, both included.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, PeriodError> {
        if to < from {
            return Err(PeriodError::EndsBeforeStart);
        }
        Ok(Self { from, to })
    }

    /// Whether `date` falls within the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.from, self.to)
    }
}

/// Whether `target` lies wholly inside the union of `periods` (which may touch or overlap).
pub fn is_covered(periods: &[Period], target: Period) -> bool {
    let mut sorted: Vec<Period> = periods.to_vec();
    sorted.sort();
    let mut merged: Vec<Period> = Vec::with_capacity(sorted.len());
    for p in sorted {
        match merged.last_mut() {
            Some(last) if p.from <= last.to + Duration::days(1) => last.to = last.to.max(p.to),
            _ => merged.push(p),
        }
    }
    merged
        .iter()
        .any(|m| m.from <= target.from && target.to <= m.to)
}

/// A month and day of the year, written `MM-DD` (the day at most 28, so it exists every month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MonthDay {
    month: u32,
    day: u32,
}

impl MonthDay {
    /// A month (1–12) and day (1–28).
    pub fn new(month: u32, day: u32) -> Result<Self, PeriodError> {
        if !(1..=12).contains(&month) || !(1..=28).contains(&day) {
            return Err(PeriodError::SeasonStart);
        }
        Ok(Self { month, day })
    }
}

impl FromStr for MonthDay {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (m, d) = s.split_once('-').ok_or(PeriodError::SeasonStart)?;
        if m.len() != 2 || d.len() != 2 {
            return Err(PeriodError::SeasonStart);
        }
        let month = m.parse().map_err(|_| PeriodError::SeasonStart)?;
        let day = d.parse().map_err(|_| PeriodError::SeasonStart)?;
        Self::new(month, day)
    }
}

impl TryFrom<String> for MonthDay {
    type Error = PeriodError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<MonthDay> for String {
    fn from(md: MonthDay) -> Self {
        md.to_string()
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// The fixed seasons a product sells: consecutive periods of `period_months` tiling the year
/// from `season_starts` (06-01 and 12 months: 06-01 to 05-31 of the next year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeasonCalendar {
    /// Length of one season in months; divides 12.
    pub period_months: u32,
    /// Where one of the seasons starts each year.
    pub season_starts: MonthDay,
}

impl SeasonCalendar {
    /// A calendar, checked: `period_months` must divide 12.
    pub fn new(period_months: u32, season_starts: MonthDay) -> Result<Self, PeriodError> {
        if !matches!(period_months, 1 | 2 | 3 | 4 | 6 | 12) {
            return Err(PeriodError::PeriodMonths);
        }
        Ok(Self {
            period_months,
            season_starts,
        })
    }

    /// The start of the season that starts in `year` at the `k`-th slot (k may exceed the
    /// number of slots per year; months roll into later years).
    fn start_at(&self, year: i32, k: u32) -> NaiveDate {
        let month0 = self.season_starts.month - 1 + k * self.period_months;
        let y = year + (month0 / 12) as i32;
        let m = month0 % 12 + 1;
        NaiveDate::from_ymd_opt(y, m, self.season_starts.day).expect("day <= 28 always exists")
    }

    /// The season that contains `date`.
    pub fn season_containing(&self, date: NaiveDate) -> Period {
        let slots = 12 / self.period_months;
        let mut start = self.start_at(date.year() - 1, 0);
        let mut k = 0;
        loop {
            let next = self.start_at(date.year() - 1, k + 1);
            if next > date {
                return Period {
                    from: start,
                    to: next - Duration::days(1),
                };
            }
            start = next;
            k += 1;
            debug_assert!(
                k <= 3 * slots,
                "a date is within three years of its seasons"
            );
        }
    }

    /// The season right after `season`.
    pub fn next_season(&self, season: Period) -> Period {
        self.season_containing(season.to + Duration::days(1))
    }

    /// The season on sale on `today` to a card whose approved periods are `coverage`: the
    /// earliest of today's season and the next that it does not cover yet; none when it covers
    /// both.
    #[must_use]
    pub fn on_sale(&self, coverage: &[Period], today: NaiveDate) -> Option<Period> {
        let current = self.season_containing(today);
        let next = self.next_season(current);
        [current, next]
            .into_iter()
            .find(|season| !is_covered(coverage, *season))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn p(from: &str, to: &str) -> Period {
        Period::new(d(from), d(to)).unwrap()
    }

    fn yearly_from_june() -> SeasonCalendar {
        SeasonCalendar::new(12, "06-01".parse().unwrap()).unwrap()
    }

    #[test]
    fn the_season_on_sale_is_the_earliest_of_this_and_the_next_not_yet_covered() {
        let cal = yearly_from_june();
        let today = d("2022-05-20");
        assert_eq!(
            cal.on_sale(&[], today),
            Some(p("2021-06-01", "2022-05-31")),
            "an uncovered card buys today's season"
        );
        let desk = [p("2021-06-01", "2022-05-31")];
        assert_eq!(
            cal.on_sale(&desk, today),
            Some(p("2022-06-01", "2023-05-31")),
            "the manual's card buys the next season"
        );
        let both = [p("2021-06-01", "2022-05-31"), p("2022-06-01", "2023-05-31")];
        assert_eq!(cal.on_sale(&both, today), None, "nothing on sale");
    }

    #[test]
    fn the_manuals_season_runs_from_june_to_may() {
        let cal = yearly_from_june();
        assert_eq!(
            cal.season_containing(d("2022-05-20")),
            p("2021-06-01", "2022-05-31")
        );
        assert_eq!(
            cal.season_containing(d("2022-06-01")),
            p("2022-06-01", "2023-05-31")
        );
        assert_eq!(
            cal.next_season(p("2021-06-01", "2022-05-31")),
            p("2022-06-01", "2023-05-31")
        );
    }

    #[test]
    fn half_year_seasons_tile_the_year_across_new_year() {
        let cal = SeasonCalendar::new(6, "03-01".parse().unwrap()).unwrap();
        assert_eq!(
            cal.season_containing(d("2022-01-15")),
            p("2021-09-01", "2022-02-28")
        );
        assert_eq!(
            cal.season_containing(d("2024-02-29")),
            p("2023-09-01", "2024-02-29")
        );
        assert_eq!(
            cal.season_containing(d("2022-03-01")),
            p("2022-03-01", "2022-08-31")
        );
    }

    #[test]
    fn season_length_must_divide_twelve() {
        let start: MonthDay = "06-01".parse().unwrap();
        assert_eq!(
            SeasonCalendar::new(5, start),
            Err(PeriodError::PeriodMonths)
        );
        assert_eq!(
            SeasonCalendar::new(0, start),
            Err(PeriodError::PeriodMonths)
        );
    }

    #[test]
    fn season_start_must_be_a_day_every_month_has() {
        for bad in ["6-01", "13-01", "06-29", "06-00", "0601", "aa-bb", ""] {
            assert!(bad.parse::<MonthDay>().is_err(), "{bad}");
        }
        assert_eq!("12-28".parse::<MonthDay>().unwrap().to_string(), "12-28");
    }

    #[test]
    fn a_period_cannot_end_before_it_starts() {
        assert_eq!(
            Period::new(d("2022-06-01"), d("2022-05-31")),
            Err(PeriodError::EndsBeforeStart)
        );
    }

    #[test]
    fn coverage_joins_touching_periods_but_not_gaps() {
        let periods = [p("2021-06-01", "2022-05-31"), p("2022-06-01", "2023-05-31")];
        assert!(is_covered(&periods, p("2021-06-01", "2023-05-31")));
        assert!(is_covered(&periods, p("2022-06-01", "2023-05-31")));
        assert!(!is_covered(&periods, p("2023-06-01", "2024-05-31")));
        let gap = [p("2019-06-01", "2020-05-31"), p("2022-06-01", "2023-05-31")];
        assert!(!is_covered(&gap, p("2019-06-01", "2023-05-31")));
        assert!(!is_covered(&gap, p("2021-06-01", "2022-05-31")));
        assert!(!is_covered(&[], p("2021-06-01", "2022-05-31")));
    }

    proptest! {
        #[test]
        fn every_date_lies_in_its_season_and_seasons_tile(
            days in 0i64..40_000,
            months in prop::sample::select(vec![1u32, 2, 3, 4, 6, 12]),
            month in 1u32..=12,
            day in 1u32..=28,
        ) {
            let cal = SeasonCalendar::new(months, MonthDay::new(month, day).unwrap()).unwrap();
            let date = d("1990-01-01") + Duration::days(days);
            let season = cal.season_containing(date);
            prop_assert!(season.contains(date));
            let next = cal.next_season(season);
            prop_assert_eq!(next.from, season.to + Duration::days(1));
            prop_assert_eq!(season.from.day(), day);
            let span = (season.to - season.from).num_days() + 1;
            prop_assert!(span >= 28 * i64::from(months) && span <= 31 * i64::from(months));
        }
    }
}
