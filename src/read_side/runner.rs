//! One projection's runner: claim, read a batch, apply it with the checkpoint, repeat.

use super::{schema, state, ReadSide};
use crate::store::StoreError;
use projections::{FeedEvent, PoisonPolicy, Projection, ProjectionError, Tables};
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
    /// It cannot apply an event and waits this long before looking again.
    Failing(Duration),
}

/// Attempts at an event before a projection whose policy is `Park` goes past it.
pub(super) const POISON_ATTEMPTS: i32 = 5;

/// The wait before attempt `failures + 1` at a failing event: `base`, twice it, four times…
/// at most 60 times it (1 s, 2 s, 4 s… 60 s by default).
fn backoff(failures: i32, base: Duration) -> Duration {
    let doubling = u32::try_from(failures.clamp(1, 7) - 1).unwrap_or(0);
    (base * (1 << doubling)).min(base * 60)
}

/// When the runner may try its failing event again (kept in memory by the claim holder).
struct Retry {
    position: i64,
    at: Instant,
}

/// One generation the runner fills: the live one, or the one a rebuild builds.
#[derive(Clone, Copy)]
struct Track {
    tables: Tables,
    /// The `projection_state` column holding its checkpoint.
    column: &'static str,
    from: i64,
    live: bool,
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
    let mut retry: Option<Retry> = None;
    loop {
        if *shutdown.borrow() {
            rs.release(name).await;
            return;
        }
        if renewed.is_none_or(|at| at.elapsed() >= confirm_every) {
            renewed = match rs
                .claims
                .acquire(&rs.store.log, &rs.store.db, name, &rs.owner)
                .await
            {
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
            match step(&rs, p.as_ref(), &mut retry).await {
                Ok(Progress::Applied) => continue,
                Ok(Progress::InFlight) => Duration::from_millis(2),
                Ok(Progress::Idle) => Duration::from_millis(500),
                Ok(Progress::Failing(wait)) => wait,
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

async fn step(
    rs: &ReadSide,
    p: &dyn Projection,
    retry: &mut Option<Retry>,
) -> Result<Progress, RunError> {
    let db = &rs.store.db;
    let st = state::load(db, p.name()).await?;
    if st.retry_requested {
        take_retry_request(rs, p).await?;
        *retry = None;
        return Ok(Progress::Applied);
    }
    if st.building.is_none() && (st.rebuild_requested || st.version != p.version()) {
        start_build(rs, p, st.generation + 1).await?;
        return Ok(Progress::Applied);
    }
    // A track that cannot apply its next event does not hold the other one up (a rebuild goes
    // on while the live generation is stuck, and the reverse).
    let mut progressed = false;
    let mut failing: Option<Duration> = None;
    let mut note = |wait: Duration| failing = Some(failing.map_or(wait, |w| w.min(wait)));
    if st.version == p.version() {
        let live = Track {
            tables: Tables::generation(st.generation),
            column: "position",
            from: st.position,
            live: true,
        };
        match advance(rs, p, &st, live, retry).await? {
            Some(Progress::Failing(wait)) => note(wait),
            Some(_) => progressed = true,
            None => {}
        }
    }
    if let Some((generation, _, position)) = st.building {
        let building = Track {
            tables: Tables::generation(generation),
            column: "building_position",
            from: position,
            live: false,
        };
        match advance(rs, p, &st, building, retry).await? {
            Some(Progress::Failing(wait)) => note(wait),
            Some(_) => progressed = true,
            None => {
                swap(rs, p, st.generation, generation).await?;
                progressed = true;
            }
        }
    }
    if progressed {
        Ok(Progress::Applied)
    } else if let Some(wait) = failing {
        Ok(Progress::Failing(wait))
    } else if rs.store.log.head().await? > st.position {
        Ok(Progress::InFlight)
    } else {
        Ok(Progress::Idle)
    }
}

/// Applies the next batch of `track`; `None` when the feed has nothing past its checkpoint.
/// An event the projection cannot apply is retried with backoff, then parked or kept stalled
/// on, per the projection's policy; an operator's skip parks it at once.
async fn advance(
    rs: &ReadSide,
    p: &dyn Projection,
    st: &state::State,
    mut track: Track,
    retry: &mut Option<Retry>,
) -> Result<Option<Progress>, RunError> {
    let batch = rs.store.log.read_feed(track.from, rs.batch_size).await?;
    let Some(first) = batch.first() else {
        return Ok(None);
    };
    if let Some((at, reason)) = &st.skip {
        if first.position == *at && st.failing.map(|(f, _)| f) == Some(*at) {
            park(rs, p, track, first, &format!("operator: {reason}")).await?;
            *retry = None;
            return Ok(Some(Progress::Applied));
        }
    }
    if let Some(r) = retry.as_ref().filter(|r| r.position == first.position) {
        let now = Instant::now();
        if st.failing.map(|(f, _)| f) == Some(first.position) && now < r.at {
            // Look again within a second: an operator may retry or skip meanwhile.
            return Ok(Some(Progress::Failing(
                (r.at - now).min(Duration::from_secs(1)),
            )));
        }
    }
    let error = match apply_batch(rs, p, track, &batch).await {
        Ok(()) => return Ok(Some(Progress::Applied)),
        Err(RunError::Apply(e)) if !e.is_transient() => e,
        Err(e) => return Err(e),
    };
    // Something in the batch cannot be applied: apply one event at a time up to it, so that the
    // events before it take effect, and deal with that one.
    let (event, error) = if batch.len() == 1 {
        (first, error)
    } else {
        let mut culprit = None;
        for event in &batch {
            match apply_batch(rs, p, track, std::slice::from_ref(event)).await {
                Ok(()) => track.from = event.position,
                Err(RunError::Apply(e)) if !e.is_transient() => {
                    culprit = Some((event, e));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        match culprit {
            Some(c) => c,
            // One by one they all went in (what failed was the batch as a whole).
            None => return Ok(Some(Progress::Applied)),
        }
    };
    let failures = match st.failing {
        Some((at, n)) if at == event.position => n + 1,
        _ => 1,
    };
    let message = error.to_string();
    if failures >= POISON_ATTEMPTS && p.on_poison() == PoisonPolicy::Park {
        park(rs, p, track, event, "policy").await?;
        *retry = None;
        return Ok(Some(Progress::Applied));
    }
    state::record_failure(
        &rs.store.db,
        p.name(),
        &rs.owner,
        event.position,
        failures,
        &message,
    )
    .await?;
    let wait = backoff(failures, rs.retry_base);
    tracing::error!(
        projection = p.name(),
        position = event.position,
        event_type = %event.event_type,
        failures,
        retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        error = %message,
        "projection cannot apply an event; retrying"
    );
    *retry = Some(Retry {
        position: event.position,
        at: Instant::now() + wait,
    });
    Ok(Some(Progress::Failing(wait.min(Duration::from_secs(1)))))
}

/// Goes past `event` without applying it, recording it in `projection_parked`.
async fn park(
    rs: &ReadSide,
    p: &dyn Projection,
    track: Track,
    event: &FeedEvent,
    by: &str,
) -> Result<(), RunError> {
    let mut tx = rs.store.db.write.begin().await?;
    let error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM projection_state WHERE name = $1")
            .bind(p.name())
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO projection_parked
                (name, generation, position, event_type, error, parked_at, parked_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name, generation, position) DO NOTHING",
    )
    .bind(p.name())
    .bind(track.tables.number())
    .bind(event.position)
    .bind(&event.event_type)
    .bind(error.unwrap_or_default())
    .bind(state::now())
    .bind(by)
    .execute(&mut *tx)
    .await?;
    let fenced = sqlx::query(&format!(
        "UPDATE projection_state SET {column} = $1, updated_at = $2, last_error = NULL,
                failing_position = NULL, failures = 0, failing_since = NULL,
                skip_position = NULL, skip_reason = NULL
          WHERE name = $3 AND owner = $4 AND {column} = $5",
        column = track.column
    ))
    .bind(event.position)
    .bind(state::now())
    .bind(p.name())
    .bind(&rs.owner)
    .bind(track.from)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    commit_fenced(tx, fenced).await?;
    tracing::warn!(
        projection = p.name(),
        position = event.position,
        event_type = %event.event_type,
        parked_by = by,
        "event parked: the projection went past it"
    );
    if track.live {
        publish(rs, p.name(), event.position);
    }
    Ok(())
}

/// Answers `projections retry`: the flag goes, and if events are parked in the live
/// generation a rebuild is asked for, which applies them in order with today's code.
async fn take_retry_request(rs: &ReadSide, p: &dyn Projection) -> Result<(), RunError> {
    let fenced = sqlx::query(
        "UPDATE projection_state SET retry_requested = 0,
                rebuild_requested = CASE WHEN EXISTS (
                    SELECT 1 FROM projection_parked k
                     WHERE k.name = $1 AND k.generation = projection_state.generation)
                  THEN 1 ELSE rebuild_requested END
          WHERE name = $1 AND owner = $2",
    )
    .bind(p.name())
    .bind(&rs.owner)
    .execute(&rs.store.db.write)
    .await?
    .rows_affected();
    if fenced != 1 {
        return Err(RunError::LostLease);
    }
    tracing::info!(projection = p.name(), "retry asked for: trying again now");
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
    commit_fenced(tx, fenced).await?;
    tracing::info!(projection = p.name(), generation, "rebuild started");
    Ok(())
}

/// Swaps the caught-up generation `new` in for `old`. A failure the old live generation had
/// recorded goes with it: the new one has applied everything up to the feed's head.
async fn swap(rs: &ReadSide, p: &dyn Projection, old: i32, new: i32) -> Result<(), RunError> {
    let mut tx = rs.store.db.write.begin().await?;
    schema::point_views(&mut tx, p, Tables::generation(new)).await?;
    let fenced = sqlx::query(
        "UPDATE projection_state SET generation = building_generation,
                version = building_version, position = building_position,
                building_generation = NULL, building_version = NULL, building_position = NULL,
                failing_position = NULL, failures = 0, failing_since = NULL, last_error = NULL,
                skip_position = NULL, skip_reason = NULL, updated_at = $1
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
        return rolled_back(tx).await;
    }
    schema::drop_generation(&mut tx, p, Tables::generation(old)).await?;
    sqlx::query("DELETE FROM projection_parked WHERE name = $1 AND generation = $2")
        .bind(p.name())
        .bind(old)
        .execute(&mut *tx)
        .await?;
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

/// Commits `tx` if its fenced update hit its one row (this runner still owns the projection and
/// the checkpoint is where the work began); otherwise rolls it back: `LostLease`.
async fn commit_fenced(tx: sqlx::Transaction<'_, sqlx::Any>, fenced: u64) -> Result<(), RunError> {
    if fenced != 1 {
        return rolled_back(tx).await;
    }
    tx.commit().await?;
    Ok(())
}

async fn rolled_back(tx: sqlx::Transaction<'_, sqlx::Any>) -> Result<(), RunError> {
    tx.rollback().await?;
    Err(RunError::LostLease)
}

fn publish(rs: &ReadSide, name: &str, position: i64) {
    if let Some(tx) = rs.checkpoints.get(name) {
        tx.send_replace(position);
    }
    rs.outbox_work.notify_waiters();
}

async fn apply_batch(
    rs: &ReadSide,
    p: &dyn Projection,
    track: Track,
    batch: &[FeedEvent],
) -> Result<(), RunError> {
    let mut tx = rs.store.db.write.begin().await?;
    p.apply_batch(&mut tx, &track.tables, batch).await?;
    let last = batch.last().map_or(track.from, |e| e.position);
    // The failure record goes when the event it names is applied.
    let fenced = sqlx::query(&format!(
        "UPDATE projection_state SET {column} = $1, updated_at = $2,
                last_error = CASE WHEN failing_position IS NULL
                                    OR (failing_position > $3 AND failing_position <= $1)
                                  THEN NULL ELSE last_error END,
                failures = CASE WHEN failing_position > $3 AND failing_position <= $1
                                THEN 0 ELSE failures END,
                failing_since = CASE WHEN failing_position > $3 AND failing_position <= $1
                                     THEN NULL ELSE failing_since END,
                failing_position = CASE WHEN failing_position > $3 AND failing_position <= $1
                                        THEN NULL ELSE failing_position END
          WHERE name = $4 AND owner = $5 AND {column} = $3",
        column = track.column
    ))
    .bind(last)
    .bind(state::now())
    .bind(track.from)
    .bind(p.name())
    .bind(&rs.owner)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    commit_fenced(tx, fenced).await?;
    if track.live {
        publish(rs, p.name(), last);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_the_base_up_to_sixty_times_it() {
        let s = Duration::from_secs;
        let waits: Vec<_> = (1..=8).map(|n| backoff(n, s(1))).collect();
        assert_eq!(waits, [s(1), s(2), s(4), s(8), s(16), s(32), s(60), s(60)]);
        assert_eq!(
            backoff(2, Duration::from_millis(50)),
            Duration::from_millis(100)
        );
    }
}
