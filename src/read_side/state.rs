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
    /// The last error it hit, if it is stuck.
    pub last_error: Option<String>,
}

/// The live and building generations as the runner sees them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct State {
    pub version: i32,
    pub generation: i32,
    pub position: i64,
    pub building: Option<(i32, i32, i64)>,
    pub rebuild_requested: bool,
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
                building_position, rebuild_requested
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
        "SELECT version, position, generation, building_generation, rebuild_requested, last_error
           FROM projection_state WHERE name = $1",
    )
    .bind(name)
    .fetch_one(&store.db.read)
    .await?;
    let position: i64 = row.try_get(1)?;
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
        generation: row.try_get(2)?,
        rebuilding: row.try_get::<Option<i32>, _>(3)?.is_some() || row.try_get::<i32, _>(4)? != 0,
        last_error: row.try_get(5)?,
    })
}
