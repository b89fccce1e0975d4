//! The business clock: real time in production; settable in sandbox mode, after which it runs on
//! in real time from the instant set.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::sync::RwLock;

/// The business clock (Asia/Shanghai dates come from `aggregates::business_time`).
#[derive(Debug)]
pub struct Clock {
    offset: RwLock<Duration>,
    settable: bool,
}

impl Clock {
    /// Real time, not settable.
    pub fn real() -> Self {
        Self {
            offset: RwLock::new(Duration::zero()),
            settable: false,
        }
    }

    /// A settable clock starting at `start` (or real time).
    pub fn sandbox(start: Option<DateTime<Utc>>) -> Self {
        let clock = Self {
            offset: RwLock::new(Duration::zero()),
            settable: true,
        };
        if let Some(start) = start {
            clock.set(start);
        }
        clock
    }

    /// Whether it can be set.
    pub fn is_settable(&self) -> bool {
        self.settable
    }

    /// Now on the business clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Today in Asia/Shanghai.
    pub fn today(&self) -> NaiveDate {
        aggregates::business_time::business_date(self.now())
    }

    /// Sets the clock to `now`; it runs on from there. Ignored unless settable.
    pub fn set(&self, now: DateTime<Utc>) -> bool {
        if !self.settable {
            return false;
        }
        *self.offset.write().unwrap_or_else(|e| e.into_inner()) = now - Utc::now();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_sandbox_clock_runs_on_from_the_instant_set() {
        let clock = Clock::sandbox(None);
        let then: DateTime<Utc> = "2022-05-20T02:00:00Z".parse().unwrap();
        assert!(clock.set(then));
        let now = clock.now();
        assert!(now >= then && now - then < Duration::seconds(5));
        assert_eq!(clock.today().to_string(), "2022-05-20");
    }

    #[test]
    fn the_real_clock_cannot_be_set() {
        let clock = Clock::real();
        assert!(!clock.set("2022-05-20T02:00:00Z".parse().unwrap()));
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
    }
}
