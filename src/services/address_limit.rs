//! Per-client-address limit on code requests (against SMS bombing from one address), counted
//! over the last hour of the business clock.

use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Sliding one-hour windows per address, in memory.
#[derive(Debug)]
pub struct AddressLimiter {
    per_hour: u32,
    seen: Mutex<HashMap<IpAddr, VecDeque<DateTime<Utc>>>>,
}

impl AddressLimiter {
    /// At most `per_hour` requests per address per hour.
    pub fn new(per_hour: u32) -> Self {
        Self {
            per_hour,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records a request at `now`; `Err(seconds to wait)` when over the limit.
    pub fn check(&self, address: IpAddr, now: DateTime<Utc>) -> Result<(), i64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, q| q.back().is_some_and(|t| now - *t < Duration::hours(1)));
        }
        let window = seen.entry(address).or_default();
        while window
            .front()
            .is_some_and(|t| now - *t >= Duration::hours(1) || *t > now)
        {
            window.pop_front();
        }
        if window.len() as u32 >= self.per_hour {
            // With a limit of 0 (refused at start by the CLI) nothing is in the window: wait
            // the hour rather than panic.
            let oldest = window.front().copied().unwrap_or(now);
            return Err(aggregates::business_time::seconds_until(
                now,
                oldest + Duration::hours(1),
            ));
        }
        window.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_hourly_limit_waits_for_the_oldest_to_age_out() {
        let limiter = AddressLimiter::new(2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0: DateTime<Utc> = "2022-05-20T02:00:00Z".parse().unwrap();
        assert!(limiter.check(ip, t0).is_ok());
        assert!(limiter.check(ip, t0 + Duration::minutes(10)).is_ok());
        assert_eq!(limiter.check(ip, t0 + Duration::minutes(20)), Err(40 * 60));
        assert!(limiter.check("10.0.0.2".parse().unwrap(), t0).is_ok());
        assert!(limiter.check(ip, t0 + Duration::minutes(61)).is_ok());
    }
}
