//! The business clock's calendar: Asia/Shanghai (UTC+8 all year, no daylight saving since 1991).
//!
//! Instants are UTC; business dates and "midnight" are Shanghai's. The instant itself always
//! comes from outside (inside a command).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

const SHANGHAI_OFFSET_SECS: i32 = 8 * 3600;

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(SHANGHAI_OFFSET_SECS).expect("+08:00 is a valid offset")
}

/// The calendar date in Asia/Shanghai at `now`.
pub fn business_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&shanghai()).date_naive()
}

/// The wall-clock time in Asia/Shanghai at `now`.
pub fn business_local_time(now: DateTime<Utc>) -> NaiveDateTime {
    now.with_timezone(&shanghai()).naive_local()
}

/// The instant business day `date` begins (its midnight in Asia/Shanghai).
pub fn start_of_business_day(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    shanghai()
        .from_local_datetime(&midnight)
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// The next midnight in Asia/Shanghai after `now`, as a UTC instant.
pub fn next_business_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    start_of_business_day(business_date(now) + Duration::days(1))
}

/// Whole seconds from `now` until `later`, rounded up, never negative.
pub fn seconds_until(now: DateTime<Utc>, later: DateTime<Utc>) -> i64 {
    let ms = (later - now).num_milliseconds().max(0);
    (ms + 999) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn late_evening_utc_is_already_the_next_day_in_shanghai() {
        assert_eq!(
            business_date(utc("2022-05-19T16:30:00Z")),
            NaiveDate::from_ymd_opt(2022, 5, 20).unwrap()
        );
        assert_eq!(
            business_date(utc("2022-05-19T15:59:59Z")),
            NaiveDate::from_ymd_opt(2022, 5, 19).unwrap()
        );
    }

    #[test]
    fn next_midnight_is_sixteen_hundred_utc() {
        assert_eq!(
            next_business_midnight(utc("2022-05-20T03:00:00Z")),
            utc("2022-05-20T16:00:00Z")
        );
        assert_eq!(
            next_business_midnight(utc("2022-05-20T16:00:00Z")),
            utc("2022-05-21T16:00:00Z")
        );
    }

    #[test]
    fn a_business_day_starts_at_sixteen_hundred_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2022, 5, 20).unwrap();
        assert_eq!(start_of_business_day(day), utc("2022-05-19T16:00:00Z"));
        assert_eq!(
            business_local_time(utc("2022-05-19T16:30:05Z")).to_string(),
            "2022-05-20 00:30:05"
        );
    }

    #[test]
    fn seconds_until_rounds_up_and_never_goes_negative() {
        let now = utc("2022-05-20T00:00:00Z");
        assert_eq!(seconds_until(now, utc("2022-05-20T00:00:00.001Z")), 1);
        assert_eq!(seconds_until(now, utc("2022-05-19T00:00:00Z")), 0);
        assert_eq!(seconds_until(now, utc("2022-05-20T00:01:00Z")), 60);
    }
}
