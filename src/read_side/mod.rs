//! The read side: runs every projection over the global feed, durably and exactly once.
//!
//! Each projection has a row in `projection_state` (version, generation, checkpoint position,
//! owner). One runner per projection, across all instances, holds its claim (a lock that goes
//! with its holder: see `claim`); it reads the feed in batches after its checkpoint and applies
//! each batch and the new checkpoint in one transaction, fenced on its ownership and on the old
//! checkpoint, so a batch takes effect exactly once even if two runners ever overlapped. Appends wake the runners (in-process at once;
//! other PostgreSQL instances through LISTEN/NOTIFY), with a slow poll as a safety net.

mod claim;
mod runner;
mod schema;
mod state;

pub use state::{ParkedEvent, ProjectionInfo, Stalled};

use crate::store::{Backend, Store, StoreError};
use projections::Projection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Why a read could not wait for its projection.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The projection did not reach the position in time.
    #[error("the view has not caught up with position {position} yet")]
    Lagging {
        /// The position waited for.
        position: i64,
    },
    /// No such projection.
    #[error("no projection named {0}")]
    Unknown(String),
    /// A skip named a position the projection is not stuck on.
    #[error("the projection is not stuck at position {position} (stuck at: {failing:?})")]
    NotStuckThere {
        /// The position given.
        position: i64,
        /// Where it is stuck, if anywhere.
        failing: Option<i64>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ReadError {
    fn from(e: sqlx::Error) -> Self {
        ReadError::Store(StoreError::Database(e))
    }
}

/// The projections of this service and their runners.
pub struct ReadSide {
    store: Store,
    projections: Vec<Arc<dyn Projection>>,
    owner: String,
    appended: watch::Sender<u64>,
    checkpoints: HashMap<&'static str, watch::Sender<i64>>,
    outbox_work: Arc<tokio::sync::Notify>,
    notify_peers: Arc<tokio::sync::Notify>,
    claims: claim::Claims,
    batch_size: i64,
    retry_base: Duration,
}

impl ReadSide {
    /// The read side over `store` with the given projections.
    pub fn new(store: Store, projections: Vec<Arc<dyn Projection>>) -> Arc<Self> {
        Self::retrying_after(store, projections, Duration::from_secs(1))
    }

    /// The same, with the first wait before retrying a failing event set to `base` (it doubles
    /// with each failure, up to 60 times `base`).
    pub fn retrying_after(
        store: Store,
        projections: Vec<Arc<dyn Projection>>,
        base: Duration,
    ) -> Arc<Self> {
        let checkpoints = projections
            .iter()
            .map(|p| (p.name(), watch::channel(0).0))
            .collect();
        Arc::new(Self {
            store,
            projections,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            appended: watch::channel(0).0,
            checkpoints,
            outbox_work: Arc::new(tokio::sync::Notify::new()),
            notify_peers: Arc::new(tokio::sync::Notify::new()),
            claims: claim::Claims::new(),
            batch_size: 500,
            retry_base: base,
        })
    }

    /// Call after events were appended in this process: wakes the runners at once, and (on
    /// PostgreSQL) the other instances' runners through one coalesced NOTIFY.
    pub fn notify_appended(&self) {
        self.wake_local();
        self.notify_peers.notify_one();
    }

    async fn release(&self, name: &str) {
        self.claims
            .release(&self.store.log, &self.store.db, name, &self.owner)
            .await;
    }

    fn wake_local(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes after every append this instance learns of (its own, and on PostgreSQL other
    /// instances' through LISTEN): for in-memory models that follow the feed.
    pub fn appended(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Woken whenever a projection committed a batch (the outbox dispatcher waits on it).
    pub fn outbox_work(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_work.clone()
    }

    /// The projections, by name.
    pub fn projection(&self, name: &str) -> Option<&Arc<dyn Projection>> {
        self.projections.iter().find(|p| p.name() == name)
    }

    /// Creates missing state rows, tables and views, so reads work before the runners start.
    pub async fn prepare(&self) -> Result<(), ReadError> {
        for p in &self.projections {
            state::ensure(&self.store.db, p.as_ref()).await?;
        }
        Ok(())
    }

    /// Starts one runner per projection (and, on PostgreSQL, the LISTEN task that wakes them
    /// on other instances' appends). They stop, releasing their claims, when `shutdown` changes
    /// to true; await the handles to know they have.
    pub fn spawn(
        self: &Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for p in &self.projections {
            let this = self.clone();
            let p = p.clone();
            let shutdown = shutdown.clone();
            handles.push(tokio::spawn(
                async move { runner::run(this, p, shutdown).await },
            ));
        }
        if self.store.backend() == Backend::Postgres {
            let this = self.clone();
            let stop = shutdown.clone();
            handles.push(tokio::spawn(async move { this.listen(stop).await }));
            let this = self.clone();
            handles.push(tokio::spawn(async move { this.tell_peers(shutdown).await }));
        }
        handles
    }

    /// Sends `NOTIFY permit_ledger_events` after this instance's appends, at most one every few
    /// milliseconds and outside the appends' transactions (a NOTIFY inside them would serialise
    /// their commits).
    async fn tell_peers(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let crate::store::EventLog::Postgres(pg) = &self.store.log else {
            return;
        };
        loop {
            tokio::select! {
                _ = self.notify_peers.notified() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = sqlx::query("SELECT pg_notify('permit_ledger_events', '')")
                .execute(pg.pool())
                .await
            {
                tracing::debug!(error = %e, "could not notify other instances");
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }

    async fn listen(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let crate::store::EventLog::Postgres(pg) = &self.store.log else {
            return;
        };
        loop {
            let listener = async {
                let mut l = sqlx::postgres::PgListener::connect_with(pg.pool()).await?;
                l.listen("permit_ledger_events").await?;
                loop {
                    l.recv().await?;
                    self.wake_local();
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                r = listener => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "event listener lost; reconnecting");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Waits, at most `timeout`, until projection `name` has applied position `position`.
    pub async fn wait_for(
        &self,
        name: &str,
        position: i64,
        timeout: Duration,
    ) -> Result<(), ReadError> {
        let local = self
            .checkpoints
            .get(name)
            .ok_or_else(|| ReadError::Unknown(name.to_string()))?;
        let mut rx = local.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if *rx.borrow_and_update() >= position
                || state::position(&self.store.db, name).await? >= position
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ReadError::Lagging { position });
            }
            let _ = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(20)),
                rx.changed(),
            )
            .await;
        }
    }

    /// Name, version, position and lag of every projection.
    pub async fn list(&self) -> Result<Vec<ProjectionInfo>, ReadError> {
        let head = self.store.log.head().await?;
        let mut out = Vec::new();
        for p in &self.projections {
            out.push(state::info(&self.store, p.name(), head).await?);
        }
        Ok(out)
    }

    /// Asks for projection `name` to be rebuilt from the start of the feed; the runner holding
    /// its claim builds a new generation beside the live one and swaps it in when caught up.
    /// Returns the generation that will replace the current one.
    pub async fn request_rebuild(&self, name: &str) -> Result<i32, ReadError> {
        self.projection(name)
            .ok_or_else(|| ReadError::Unknown(name.to_string()))?;
        state::request_rebuild(&self.store.db, name).await?;
        self.notify_appended();
        Ok(state::generation(&self.store.db, name).await? + 1)
    }

    /// Asks the runner of projection `name` to try the event it is stuck on again at once; if
    /// it parked events, it also rebuilds, which applies them in order with today's code.
    pub async fn request_retry(&self, name: &str) -> Result<(), ReadError> {
        self.projection(name)
            .ok_or_else(|| ReadError::Unknown(name.to_string()))?;
        state::request_retry(&self.store.db, name).await?;
        self.notify_appended();
        Ok(())
    }

    /// Asks the runner of projection `name` to go past the event at `position`, which it is
    /// stuck on, recording `reason`; `NotStuckThere` when it is not stuck there.
    pub async fn request_skip(
        &self,
        name: &str,
        position: i64,
        reason: &str,
    ) -> Result<(), ReadError> {
        self.projection(name)
            .ok_or_else(|| ReadError::Unknown(name.to_string()))?;
        if !state::request_skip(&self.store.db, name, position, reason).await? {
            let info = state::info(&self.store, name, self.store.log.head().await?).await?;
            return Err(ReadError::NotStuckThere {
                position,
                failing: info.failing_position,
            });
        }
        self.notify_appended();
        Ok(())
    }

    /// The events projection `name` went past without applying.
    pub async fn parked(&self, name: &str) -> Result<Vec<ParkedEvent>, ReadError> {
        self.projection(name)
            .ok_or_else(|| ReadError::Unknown(name.to_string()))?;
        Ok(state::parked(&self.store.db, name).await?)
    }

    /// The projections that have failed on one event for longer than `threshold`.
    pub async fn stalled(&self, threshold: Duration) -> Result<Vec<Stalled>, ReadError> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(threshold).unwrap_or(chrono::Duration::zero());
        Ok(state::failing(&self.store.db)
            .await?
            .into_iter()
            .filter(|p| {
                chrono::DateTime::parse_from_rfc3339(&p.failing_since)
                    .is_ok_and(|since| since <= cutoff)
            })
            .collect())
    }

    /// The current generation of projection `name`.
    pub async fn generation(&self, name: &str) -> Result<i32, ReadError> {
        Ok(state::generation(&self.store.db, name).await?)
    }
}
