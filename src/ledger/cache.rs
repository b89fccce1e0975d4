//! A bounded cache of the aggregates this process last wrote, so a command on a hot stream
//! skips the load round trip.
//!
//! The cache is only a guess: the append still names the sequence it expects, so a stream
//! changed by another instance makes the append conflict, and the command starts over from a
//! fresh load. A refusal or a no-op decided on cached state is confirmed on a fresh load before
//! it is answered, so a stale cache never changes an answer.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

/// What is cached for one stream.
#[derive(Clone)]
pub(super) struct Entry<A> {
    pub aggregate: A,
    pub sequence: i64,
    pub position: Option<i64>,
    pub hash: String,
}

/// A stream's key: its aggregate type and id.
type Key = (&'static str, String);

/// Streams by key; at most `capacity`, evicting arbitrary entries when full.
pub(super) struct AggregateCache {
    capacity: usize,
    entries: Mutex<HashMap<Key, Box<dyn Any + Send>>>,
}

impl AggregateCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get<A: Clone + Send + 'static>(&self, kind: &'static str, id: &str) -> Option<Entry<A>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&(kind, id.to_string()))
            .and_then(|e| e.downcast_ref::<Entry<A>>())
            .cloned()
    }

    pub fn put<A: Clone + Send + 'static>(&self, kind: &'static str, id: &str, entry: Entry<A>) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&(kind, id.to_string())) {
            if let Some(victim) = entries.keys().next().cloned() {
                entries.remove(&victim);
            }
        }
        entries.insert((kind, id.to_string()), Box::new(entry));
    }

    pub fn forget(&self, kind: &'static str, id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&(kind, id.to_string()));
    }
}
