//! The command side: the one place that loads an aggregate, lets it decide, and appends.
//!
//! `execute` loads the stream (one query), folds it into the aggregate, runs the aggregate's
//! cqrs-es `handle` (which only writes what its pure `decide` returned), and appends the new
//! events in one statement that succeeds only if nobody appended to that stream meanwhile. On
//! such a conflict it starts over from a fresh load, a bounded number of times, and then reports
//! [`CommandError::Conflict`]. Two concurrent commands on one permit therefore never both
//! succeed when the rules allow only one: the loser re-decides on the winner's events.

mod cache;
mod committed;
mod error;

pub use aggregates::upcasting::Upcasters;
pub use committed::Committed;
pub use error::CommandError;

use crate::store::{EventLog, NewEvent, StoreError, StoredEvent, GENESIS};
use aggregates::metadata::EventMetadata;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use std::time::Duration;

/// Attempts before a command that keeps losing races is reported as a conflict.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// The command side over an event store.
#[derive(Clone)]
pub struct Ledger {
    log: EventLog,
    upcasters: std::sync::Arc<Upcasters>,
    max_attempts: u32,
    on_append: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    cache: std::sync::Arc<cache::AggregateCache>,
}

/// Streams whose last written state this process keeps, to skip their load.
pub const DEFAULT_CACHE_CAPACITY: usize = 20_000;

/// An aggregate as loaded from its stream.
pub struct Loaded<A> {
    /// The state.
    pub aggregate: A,
    /// The stream's last sequence (0 when empty).
    pub sequence: i64,
    /// The stream's last position, if any event exists.
    pub position: Option<i64>,
    /// The stream's last hash ([`GENESIS`] when empty).
    pub hash: String,
    /// The stored events, oldest first.
    pub events: Vec<StoredEvent>,
}

impl Ledger {
    /// A ledger over `log` with the project's upcasters.
    pub fn new(log: EventLog) -> Self {
        Self {
            log,
            upcasters: std::sync::Arc::new(Upcasters::standard()),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            on_append: None,
            cache: std::sync::Arc::new(cache::AggregateCache::new(DEFAULT_CACHE_CAPACITY)),
        }
    }

    /// The same ledger with a cache of `capacity` streams (0 turns it off).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = std::sync::Arc::new(cache::AggregateCache::new(capacity));
        self
    }

    /// The same ledger, calling `hook` after every successful append (to wake readers).
    pub fn on_append(mut self, hook: std::sync::Arc<dyn Fn() + Send + Sync>) -> Self {
        self.on_append = Some(hook);
        self
    }

    /// The same ledger, giving up after `attempts` conflicting attempts.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The event store.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Loads an aggregate by replaying its stream.
    pub async fn load<A: Aggregate>(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError> {
        let events = self.log.load(A::TYPE, aggregate_id).await?;
        let mut aggregate = A::default();
        for stored in &events {
            aggregate.apply(
                self.upcasters
                    .decode::<A>(&stored.as_decodable())
                    .map_err(|e| StoreError::Malformed(e.to_string()))?,
            );
        }
        Ok(Loaded {
            aggregate,
            sequence: events.last().map_or(0, |e| e.sequence),
            position: events.last().map(|e| e.position),
            hash: events
                .last()
                .and_then(|e| e.hash.clone())
                .unwrap_or_else(|| GENESIS.to_string()),
            events,
        })
    }

    /// Loads, decides and appends, retrying on conflicting writers (see the module docs).
    pub async fn execute<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Committed<A>, CommandError<A::Error>>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
        A::Command: Clone,
    {
        let metadata = serde_json::to_value(metadata.to_map())
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        let mut attempt = 0;
        let mut trust_cache = true;
        while attempt < self.max_attempts {
            let (from_cache, current) = self.current::<A>(aggregate_id, trust_cache).await?;
            let cache::Entry {
                mut aggregate,
                sequence,
                position,
                hash,
            } = current;
            let sink = EventSink::<A>::default();
            let decided = aggregate.handle(command.clone(), &(), &sink).await;
            let events = sink.collect().await;
            if from_cache && (decided.is_err() || events.is_empty()) {
                // Confirm a refusal or a no-op on the stream as stored.
                trust_cache = false;
                continue;
            }
            decided.map_err(CommandError::Rejected)?;
            if events.is_empty() {
                return Ok(Committed {
                    aggregate,
                    events,
                    stored: vec![],
                    position,
                });
            }
            attempt += 1;
            let new_events = serialised::<A>(&events, &metadata)?;
            match self
                .log
                .append(A::TYPE, aggregate_id, sequence, &hash, &new_events)
                .await
            {
                Ok(stored) => {
                    if let Some(hook) = &self.on_append {
                        hook();
                    }
                    if let Some(last) = stored.last() {
                        self.remember(aggregate_id, &aggregate, last);
                    }
                    return Ok(Committed {
                        aggregate,
                        events,
                        position: stored.last().map(|e| e.position),
                        stored,
                    });
                }
                Err(StoreError::Conflict) => {
                    tracing::debug!(aggregate_id, attempt, "append conflict; retrying");
                    self.cache.forget(A::TYPE, aggregate_id);
                    trust_cache = false;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => {
                    self.cache.forget(A::TYPE, aggregate_id);
                    return Err(e.into());
                }
            }
        }
        Err(CommandError::Conflict {
            attempts: self.max_attempts,
        })
    }

    /// The aggregate as the cache holds it (when `trust_cache` and it is there: `true`), or as
    /// loaded from its stream.
    async fn current<A>(
        &self,
        aggregate_id: &str,
        trust_cache: bool,
    ) -> Result<(bool, cache::Entry<A>), StoreError>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
    {
        if trust_cache {
            if let Some(entry) = self.cache.get::<A>(A::TYPE, aggregate_id) {
                return Ok((true, entry));
            }
        }
        let loaded = self.load::<A>(aggregate_id).await?;
        Ok((
            false,
            cache::Entry {
                aggregate: loaded.aggregate,
                sequence: loaded.sequence,
                position: loaded.position,
                hash: loaded.hash,
            },
        ))
    }

    /// Keeps the aggregate as it stands after `last`, its stream's newest event.
    fn remember<A>(&self, aggregate_id: &str, aggregate: &A, last: &crate::store::StoredEvent)
    where
        A: Aggregate<Services = ()> + Clone + 'static,
    {
        self.cache.put(
            A::TYPE,
            aggregate_id,
            cache::Entry {
                aggregate: aggregate.clone(),
                sequence: last.sequence,
                position: Some(last.position),
                hash: last.hash.clone().unwrap_or_default(),
            },
        );
    }
}

/// A command's events as the store takes them, each with the command's metadata.
fn serialised<A: Aggregate>(
    events: &[A::Event],
    metadata: &serde_json::Value,
) -> Result<Vec<NewEvent>, StoreError> {
    events
        .iter()
        .map(|event| {
            Ok(NewEvent {
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_value(event)
                    .map_err(|e| StoreError::Malformed(e.to_string()))?,
                metadata: metadata.clone(),
            })
        })
        .collect()
}

/// A short, growing, jittered pause so racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    use rand::Rng;
    let base_ms = 2u64 << attempt.min(6);
    Duration::from_millis(rand::thread_rng().gen_range(0..=base_ms))
}
