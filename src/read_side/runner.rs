//! One projection's runner: claim, read a batch, apply it with the checkpoint, repeat.

use super::{schema, state, ReadSide};
use crate::store::StoreError;
use projections::{FeedEvent, Projection, ProjectionError, Tables};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Apply(#[from] ProjectionError),
    #[error("claim lost to another runner")]
    LostLease,
}

impl From<sqlx::Error> for RunError {
    fn from(e: sqlx::Error) -> Self {
        RunError::Store(StoreError::Database(e))
    }
}

enum Progress {
    /// Something was applied or changed: look again at once.
    Applied,
    /// Events exist past the checkpoint but a writer before them has not committed yet.
    InFlight,
    /// Caught up.
    Idle,
}

/// Runs projection `p` until shutdown.
pub(super) async fn run(
    rs: Arc<ReadSide>,
    p: Arc<dyn Projection>,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = p.name();
    let mut appended = rs.appended.subscribe();
    let mut renewed: Option<Instant> = None;
    let confirm_every = Duration::from_secs(2);
    loop {
        if *shutdown.borrow() {
            rs.release(name).await;
            return;
        }
        if renewed.is_none_or(|at| at.elapsed() >= confirm_every) {
            renewed = match rs.claims.acquire(&rs.store.log, &rs.store.db, name, &rs.owner).await {
                Ok(true) => Some(Instant::now()),
                Ok(false) => None,
                Err(e) => {
                    tracing::warn!(projection = name, error = %e, "claim check failed");
                    None
                }
            };
        }
        let wait = if renewed.is_none() {
            // Someone else runs it; their lock goes with them, so look again soon.
            Duration::from_secs(1)
        } else {
            match step(&rs, p.as_ref()).await {
                Ok(Progress::Applied) => continue,
                Ok(Progress::InFlight) => Duration::from_millis(2),
                Ok(Progress::Idle) => Duration::from_millis(500),
                Err(RunError::LostLease) => {
                    rs.claims.forget(name).await;
                    renewed = None;
                    continue;
                }
                Err(e) => {
                    tracing::error!(projection = name, error = %e, "projection stalled; retrying");
                    state::record_error(&rs.store.db, name, Some(&e.to_string())).await;
                    Duration::from_secs(1)
                }
            }
        };
        tokio::select! {
            _ = appended.changed() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    // The owner of the shutdown switch is gone: stop as if it had been thrown.
                    rs.release(name).await;
                    return;
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn step(rs: &ReadSide, p: &dyn Projection) -> Result<Progress, RunError> {
    let db = &rs.store.db;
    let st = state::load(db, p.name()).await?;
    if st.building.is_none() && (st.rebuild_requested || st.version != p.version()) {
        start_build(rs, p, st.generation + 1).await?;
        return Ok(Progress::Applied);
    }
    let mut progressed = false;
    if st.version == p.version() {
        let batch = rs.store.log.read_feed(st.position, rs.batch_size).await?;
        if let Some(last) = batch.last().map(|e| e.position) {
            apply_batch(
                rs,
                p,
                Tables::generation(st.generation),
                &batch,
                "position",
                st.position,
            )
            .await?;
            publish(rs, p.name(), last);
            progressed = true;
        }
    }
    if let Some((generation, _, position)) = st.building {
        let batch = rs.store.log.read_feed(position, rs.batch_size).await?;
        if batch.is_empty() {
            swap(rs, p, st.generation, generation).await?;
        } else {
            apply_batch(
                rs,
                p,
                Tables::generation(generation),
                &batch,
                "building_position",
                position,
            )
            .await?;
        }
        progressed = true;
    }
    if progressed {
        Ok(Progress::Applied)
    } else if rs.store.log.head().await? > st.position {
        Ok(Progress::InFlight)
    } else {
        Ok(Progress::Idle)
    }
}

async fn apply_batch(
    rs: &ReadSide,
    p: &dyn Projection,
    tables: Tables,
    batch: &[FeedEvent],
    column: &str,
    from: i64,
) -> Result<(), RunError> {
    let mut tx = rs.store.db.write.begin().await?;
    for event in batch {
        p.apply(&mut tx, &tables, event).await?;
    }
    let last = batch.last().map_or(from, |e| e.position);
    let fenced = sqlx::query(&format!(
        "UPDATE projection_state SET {column} = $1, updated_at = $2, last_error = NULL
          WHERE name = $3 AND owner = $4 AND {column} = $5"
    ))
    .bind(last)
    .bind(state::now())
    .bind(p.name())
    .bind(&rs.owner)
    .bind(from)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if fenced != 1 {
        tx.rollback().await?;
        return Err(RunError::LostLease);
    }
    tx.commit().await?;
    Ok(())
}

async fn start_build(rs: &ReadSide, p: &dyn Projection, generation: i32) -> Result<(), RunError> {
    let mut tx = rs.store.db.write.begin().await?;
    schema::create_generation(&mut tx, p, Tables::generation(generation)).await?;
    let fenced = sqlx::query(
        "UPDATE projection_state SET building_generation = $1, building_version = $2,
                building_position = 0, rebuild_requested = 0, updated_at = $3
          WHERE name = $4 AND owner = $5",
    )
    .bind(generation)
    .bind(p.version())
    .bind(state::now())
    .bind(p.name())
    .bind(&rs.owner)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if fenced != 1 {
        tx.rollback().await?;
        return Err(RunError::LostLease);
    }
    tx.commit().await?;
    tracing::info!(projection = p.name(), generation, "rebuild started");
    Ok(())
}

async fn swap(rs: &ReadSide, p: &dyn Projection, old: i32, new: i32) -> Result<(), RunError> {
    let mut tx = rs.store.db.write.begin().await?;
    schema::point_views(&mut tx, p, Tables::generation(new)).await?;
    let fenced = sqlx::query(
        "UPDATE projection_state SET generation = building_generation,
                version = building_version, position = building_position,
                building_generation = NULL, building_version = NULL, building_position = NULL,
                updated_at = $1
          WHERE name = $2 AND owner = $3 AND building_generation = $4",
    )
    .bind(state::now())
    .bind(p.name())
    .bind(&rs.owner)
    .bind(new)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if fenced != 1 {
        tx.rollback().await?;
        return Err(RunError::LostLease);
    }
    schema::drop_generation(&mut tx, p, Tables::generation(old)).await?;
    tx.commit().await?;
    let position = state::position(&rs.store.db, p.name()).await?;
    publish(rs, p.name(), position);
    tracing::info!(
        projection = p.name(),
        generation = new,
        position,
        "rebuild swapped in"
    );
    Ok(())
}

fn publish(rs: &ReadSide, name: &str, position: i64) {
    if let Some(tx) = rs.checkpoints.get(name) {
        tx.send_replace(position);
    }
    rs.outbox_work.notify_waiters();
}
