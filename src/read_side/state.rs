//! `projection_state`: one row per projection.

use super::schema;
use crate::store::{Db, Store, StoreError};
use projections::{Projection, Tables};
use serde::Serialize;
use sqlx::Row;

/// What `projections list` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionInfo {
    /// Lowercase identifier.
    pub name: String,
    /// The version its live tables were built with.
    pub version: i32,
    /// Its checkpoint: the last position applied.
    pub position: i64,
    /// Events in the feed after its checkpoint.
    pub lag: i64,
    /// The live generation of its tables.
    pub generation: i32,
    /// Whether a rebuild is under way (or asked for).
    pub rebuilding: bool,
    /// `running`, `rebuilding`, `stalled` (it keeps failing on an event) or `parked` (it went
    /// past events it could not apply: `parked` counts them).
    pub status: &'static str,
    /// Events of the live generation it went past without applying (`projection_parked`).
    pub parked: i64,
    /// The event it keeps failing on, since when, and how many times it failed.
    pub failing_position: Option<i64>,
    /// When it first failed on that event (RFC 3339).
    pub failing_since: Option<String>,
    /// Failed attempts at that event.
    pub failures: i32,
    /// The last error it hit, if it is stuck.
    pub last_error: Option<String>,
}

/// An event a projection went past without applying.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ParkedEvent {
    /// The projection.
    pub name: String,
    /// The generation it was parked in.
    pub generation: i32,
    /// Its position in the feed.
    pub position: i64,
    /// Its type.
    pub event_type: String,
    /// Why it could not be applied.
    pub error: String,
    /// When (RFC 3339).
    pub parked_at: String,
    /// `policy` (its retries were spent) or `operator: REASON` (`projections skip`).
    pub parked_by: String,
}

/// The live and building generations as the runner sees them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct State {
    pub version: i32,
    pub generation: i32,
    pub position: i64,
    pub building: Option<(i32, i32, i64)>,
    pub rebuild_requested: bool,
    /// The event it keeps failing on, and how often it did.
    pub failing: Option<(i64, i32)>,
    /// An operator asked to try again at once (`projections retry`).
    pub retry_requested: bool,
    /// An operator asked to go past this position (`projections skip`), and why.
    pub skip: Option<(i64, String)>,
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Creates the row and the first generation's tables and views when missing.
pub(super) async fn ensure(db: &Db, p: &dyn Projection) -> Result<(), StoreError> {
    let mut tx = db.write.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO projection_state (name, version, generation, position, updated_at)
         VALUES ($1, $2, 1, 0, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(p.name())
    .bind(p.version())
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        schema::create_generation(&mut tx, p, Tables::generation(1)).await?;
        schema::point_views(&mut tx, p, Tables::generation(1)).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn load(db: &Db, name: &str) -> Result<State, StoreError> {
    let row = sqlx::query(
        "SELECT version, generation, position, building_generation, building_version,
                building_position, rebuild_requested, failing_position, failures,
                retry_requested, skip_position, skip_reason
           FROM projection_state WHERE name = $1",
    )
    .bind(name)
    .fetch_one(&db.write)
    .await?;
    let building_generation: Option<i32> = row.try_get(3)?;
    let building = match building_generation {
        Some(g) => Some((g, row.try_get(4)?, row.try_get(5)?)),
        None => None,
    };
    Ok(State {
        version: row.try_get(0)?,
        generation: row.try_get(1)?,
        position: row.try_get(2)?,
        building,
        rebuild_requested: row.try_get::<i32, _>(6)? != 0,
        failing: row
            .try_get::<Option<i64>, _>(7)?
            .map(|p| Ok::<_, sqlx::Error>((p, row.try_get(8)?)))
            .transpose()?,
        retry_requested: row.try_get::<i32, _>(9)? != 0,
        skip: match row.try_get::<Option<i64>, _>(10)? {
            Some(p) => Some((p, row.try_get::<Option<String>, _>(11)?.unwrap_or_default())),
            None => None,
        },
    })
}

pub(super) async fn position(db: &Db, name: &str) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT position FROM projection_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&db.read)
            .await?
            .unwrap_or(0),
    )
}

pub(super) async fn generation(db: &Db, name: &str) -> Result<i32, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT generation FROM projection_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&db.read)
            .await?
            .unwrap_or(0),
    )
}

pub(super) async fn request_rebuild(db: &Db, name: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE projection_state SET rebuild_requested = 1, updated_at = $1 WHERE name = $2",
    )
    .bind(now())
    .bind(name)
    .execute(&db.write)
    .await?;
    Ok(())
}

pub(super) async fn record_error(db: &Db, name: &str, error: Option<&str>) {
    let r = sqlx::query("UPDATE projection_state SET last_error = $1 WHERE name = $2")
        .bind(error)
        .bind(name)
        .execute(&db.write)
        .await;
    if let Err(e) = r {
        tracing::warn!(projection = name, error = %e, "cannot record projection error");
    }
}

pub(super) async fn info(
    store: &Store,
    name: &str,
    head: i64,
) -> Result<ProjectionInfo, StoreError> {
    let row = sqlx::query(
        "SELECT version, position, generation, building_generation, rebuild_requested, last_error,
                failing_position, failing_since, failures
           FROM projection_state WHERE name = $1",
    )
    .bind(name)
    .fetch_one(&store.db.read)
    .await?;
    let position: i64 = row.try_get(1)?;
    let generation: i32 = row.try_get(2)?;
    let parked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM projection_parked WHERE name = $1 AND generation = $2",
    )
    .bind(name)
    .bind(generation)
    .fetch_one(&store.db.read)
    .await?;
    let rebuilding = row.try_get::<Option<i32>, _>(3)?.is_some() || row.try_get::<i32, _>(4)? != 0;
    let failing_position: Option<i64> = row.try_get(6)?;
    let status = if failing_position.is_some() {
        "stalled"
    } else if rebuilding {
        "rebuilding"
    } else if parked > 0 {
        "parked"
    } else {
        "running"
    };
    let lag: i64 = if position >= head {
        0
    } else {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE position > $1")
            .bind(position)
            .fetch_one(&store.db.read)
            .await?
    };
    Ok(ProjectionInfo {
        name: name.to_string(),
        version: row.try_get(0)?,
        position,
        lag,
        generation,
        rebuilding,
        status,
        parked,
        failing_position,
        failing_since: row.try_get(7)?,
        failures: row.try_get(8)?,
        last_error: row.try_get(5)?,
    })
}

/// The events projection `name` parked, live generation first.
pub(super) async fn parked(db: &Db, name: &str) -> Result<Vec<ParkedEvent>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT p.name, p.generation, p.position, p.event_type, p.error, p.parked_at, p.parked_by
           FROM projection_parked p JOIN projection_state s ON s.name = p.name
          WHERE p.name = $1 ORDER BY (p.generation = s.generation) DESC, p.generation, p.position",
    )
    .bind(name)
    .fetch_all(&db.read)
    .await?)
}

/// Asks the runner to try its stuck event again at once (and, if it parked events, to rebuild
/// so that they are applied in order with today's code).
pub(super) async fn request_retry(db: &Db, name: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE projection_state SET retry_requested = 1, updated_at = $1 WHERE name = $2")
        .bind(now())
        .bind(name)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Asks the runner to go past the event at `position`, which it is stuck on; false when it is
/// not stuck there.
pub(super) async fn request_skip(
    db: &Db,
    name: &str,
    position: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(
        "UPDATE projection_state SET skip_position = $1, skip_reason = $2, updated_at = $3
          WHERE name = $4 AND failing_position = $1",
    )
    .bind(position)
    .bind(reason)
    .bind(now())
    .bind(name)
    .execute(&db.write)
    .await?
    .rows_affected()
        == 1)
}

/// Records a failed attempt at the event at `position` (fenced on the claim holder).
pub(super) async fn record_failure(
    db: &Db,
    name: &str,
    owner: &str,
    position: i64,
    failures: i32,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE projection_state SET failing_position = $1, failures = $2,
                failing_since = CASE WHEN failing_position = $1 AND failing_since IS NOT NULL
                                     THEN failing_since ELSE $3 END,
                last_error = $4
          WHERE name = $5 AND owner = $6",
    )
    .bind(position)
    .bind(failures)
    .bind(now())
    .bind(error)
    .bind(name)
    .bind(owner)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// A projection failing on an event.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Stalled {
    /// The projection.
    pub name: String,
    /// The event it fails on.
    pub failing_position: i64,
    /// Since when (RFC 3339).
    pub failing_since: String,
    /// Failed attempts so far.
    pub failures: i32,
}

/// Every projection failing on an event now.
pub(super) async fn failing(db: &Db) -> Result<Vec<Stalled>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, failing_position, failing_since, failures FROM projection_state
          WHERE failing_position IS NOT NULL AND failing_since IS NOT NULL ORDER BY name",
    )
    .fetch_all(&db.read)
    .await?)
}
