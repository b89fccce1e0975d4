//! Per-client-address limit on code requests (against SMS bombing from one address), counted
//! over the last hour of the business clock, in the store: every instance counts the same
//! requests, and a restart forgets nothing.

use crate::store::{Backend, Db, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::net::IpAddr;

/// At most `per_hour` code requests per client address per sliding hour.
#[derive(Debug, Clone, Copy)]
pub struct AddressLimiter {
    per_hour: u32,
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl AddressLimiter {
    /// At most `per_hour` requests per address per hour.
    pub fn new(per_hour: u32) -> Self {
        Self { per_hour }
    }

    /// Records a request from `address` at `now`; `Ok(Err(seconds to wait))` when over the
    /// limit (nothing is recorded then). Requests stamped after `now` (another instance's
    /// clock a little ahead) count too.
    ///
    /// The count and the insert are one statement; on PostgreSQL it runs under a
    /// transaction-scoped advisory lock on the address, so concurrent requests on several
    /// instances cannot all see the last free slot (SQLite runs one writer at a time).
    pub async fn check(
        &self,
        db: &Db,
        address: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Result<(), i64>, StoreError> {
        let address = address.to_string();
        let window_start = fmt(now - Duration::hours(1));
        let mut tx = db.write.begin().await?;
        if db.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS locked")
                .bind(format!("code_requests_by_address:{address}"))
                .execute(&mut *tx)
                .await?;
        }
        // Requests that have left the window (of any address) are no longer needed.
        sqlx::query("DELETE FROM code_requests_by_address WHERE requested_at <= $1")
            .bind(&window_start)
            .execute(&mut *tx)
            .await?;
        let recorded = sqlx::query(
            "INSERT INTO code_requests_by_address (address, requested_at)
             SELECT $1, $2
              WHERE (SELECT count(*) FROM code_requests_by_address
                      WHERE address = $1 AND requested_at > $3) < $4",
        )
        .bind(&address)
        .bind(fmt(now))
        .bind(&window_start)
        .bind(i64::from(self.per_hour))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let answer = if recorded == 1 {
            Ok(())
        } else {
            let oldest: Option<String> = sqlx::query_scalar(
                "SELECT min(requested_at) FROM code_requests_by_address
                  WHERE address = $1 AND requested_at > $2",
            )
            .bind(&address)
            .bind(&window_start)
            .fetch_one(&mut *tx)
            .await?;
            // With a limit of 0 (refused at start by the CLI) nothing is in the window: wait
            // the hour.
            let oldest = oldest
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map_or(now, |t| t.with_timezone(&Utc));
            Err(aggregates::business_time::seconds_until(
                now,
                oldest + Duration::hours(1),
            ))
        };
        tx.commit().await?;
        Ok(answer)
    }
}
