//! Production mode's daily run: at 10:30 Asia/Shanghai (WeChat Pay makes the day before's bill
//! from 09:00 and recommends fetching it after 10:00) the service reconciles the day before.
//!
//! Once per date: a stored result for the date (from this run or from the CLI) means it is
//! done, so a restart neither skips nor repeats it. A run that could not compare (bill not
//! ready, WeChat unreachable) keeps nothing and is tried again 30 minutes later, until the
//! next day's run takes over. An earlier day missed altogether (the service down for a whole
//! day) is reconciled with the CLI.

use super::{reconcile, results, RanBy};
use crate::services::Services;
use aggregates::business_time::{business_date, business_local_time};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use std::sync::Arc;
use tokio::sync::watch;

/// The local time the day before's bill is fetched.
pub const RUN_AT: NaiveTime = match NaiveTime::from_hms_opt(10, 30, 0) {
    Some(t) => t,
    None => panic!("10:30 is a time"),
};
/// The wait after a run that could not compare.
const RETRY_AFTER: Duration = Duration::minutes(30);
const TICK: std::time::Duration = std::time::Duration::from_secs(60);

/// The latest business day whose bill is due at `now`: the day before once it is 10:30 in
/// Shanghai, the day before that until then.
pub fn bill_day_due(now: DateTime<Utc>) -> NaiveDate {
    let back = if business_local_time(now).time() >= RUN_AT {
        1
    } else {
        2
    };
    business_date(now) - Duration::days(back)
}

/// Runs until `shutdown` turns true.
pub async fn run(svc: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    let mut failed: Option<(NaiveDate, DateTime<Utc>)> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = svc.clock.now();
        let date = bill_day_due(now);
        let waiting = failed.is_some_and(|(day, at)| day == date && now - at < RETRY_AFTER);
        if !waiting {
            match results::latest(&svc.store.db, date).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    match reconcile(&svc.store, svc.payments.as_ref(), date, RanBy::Daily, now)
                        .await
                    {
                        Ok(_) => failed = None,
                        Err(e) => {
                            tracing::warn!(%date, error = %e, "daily reconciliation could not run; trying again later");
                            failed = Some((date, now));
                        }
                    }
                }
                Err(e) => tracing::warn!(%date, error = %e, "reconciliation results unreadable"),
            }
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_day_before_is_due_from_half_past_ten_in_shanghai() {
        // 10:29:59 and 10:30:00 on 2025-03-15, Shanghai.
        assert_eq!(
            bill_day_due(utc("2025-03-15T02:29:59Z")),
            date("2025-03-13")
        );
        assert_eq!(
            bill_day_due(utc("2025-03-15T02:30:00Z")),
            date("2025-03-14")
        );
        // 00:30 on the 16th in Shanghai is still the 15th in UTC.
        assert_eq!(
            bill_day_due(utc("2025-03-15T16:30:00Z")),
            date("2025-03-14")
        );
    }
}
