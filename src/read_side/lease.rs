//! The lease that lets one runner per projection work at a time, across instances.
//!
//! Taking or renewing it is one conditional UPDATE; every batch the runner commits is fenced on
//! it too, so a runner that lost its lease (paused, partitioned) cannot commit afterwards.

use crate::store::{Db, StoreError};
use chrono::{Duration, Utc};

/// How long a lease lasts without renewal.
pub(super) const TTL_S: i64 = 6;

/// Takes or renews the lease of projection `name` for `owner`; true when held.
pub(super) async fn acquire(db: &Db, name: &str, owner: &str) -> Result<bool, StoreError> {
    let now = Utc::now();
    let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let taken = sqlx::query(
        "UPDATE projection_state SET owner = $1, lease_until = $2
          WHERE name = $3 AND (owner IS NULL OR owner = $1 OR lease_until < $4)",
    )
    .bind(owner)
    .bind(fmt(now + Duration::seconds(TTL_S)))
    .bind(name)
    .bind(fmt(now))
    .execute(&db.write)
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// Gives the lease up (at shutdown), so another instance takes over at once.
pub(super) async fn release(db: &Db, name: &str, owner: &str) {
    let r = sqlx::query(
        "UPDATE projection_state SET owner = NULL, lease_until = NULL WHERE name = $1 AND owner = $2",
    )
    .bind(name)
    .bind(owner)
    .execute(&db.write)
    .await;
    if let Err(e) = r {
        tracing::warn!(projection = name, error = %e, "cannot release lease");
    }
}
