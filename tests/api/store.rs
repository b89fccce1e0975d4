//! The PostgreSQL event store: append, load, conflicts, the commit-ordered feed.

use crate::helpers::TestStore;
use permit_ledger::store::{Backend, EventLog, NewEvent, StoreError, GENESIS};
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn event(n: i64) -> NewEvent {
    NewEvent {
        event_type: "Tested".into(),
        event_version: "1".into(),
        payload: json!({"Tested": {"n": n, "text": "京A66666 ¥360.00"}}),
        metadata: json!({"actor": "system", "role": "system", "correlation_id": "c",
                          "causation_id": "k", "request_id": "r"}),
    }
}

async fn appended_events_load_back_in_order_with_positions_and_times(t: TestStore) {
    let log = t.store.log.clone();
    assert!(log.load("test", "a").await.unwrap().is_empty());
    let first = log
        .append("test", "a", 0, GENESIS, &[event(1), event(2)])
        .await
        .unwrap();
    let second = log
        .append(
            "test",
            "a",
            2,
            first[1].hash.as_deref().unwrap(),
            &[event(3)],
        )
        .await
        .unwrap();
    let loaded = log.load("test", "a").await.unwrap();
    assert_eq!(loaded.len(), 3);
    assert_eq!(
        loaded.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(loaded[2].payload, event(3).payload);
    assert_eq!(loaded[0].metadata, event(1).metadata);
    let positions: Vec<i64> = loaded.iter().map(|e| e.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(first[1].position, positions[1]);
    assert_eq!(second[0].position, positions[2]);
    let age = chrono::Utc::now() - loaded[0].recorded_at;
    assert!(
        age < chrono::Duration::minutes(1),
        "recorded_at is now: {age}"
    );
}

async fn an_append_at_a_stale_sequence_is_a_conflict_and_writes_nothing(t: TestStore) {
    let log = t.store.log.clone();
    log.append("test", "a", 0, GENESIS, &[event(1)])
        .await
        .unwrap();
    let stale = log
        .append("test", "a", 0, GENESIS, &[event(10), event(11)])
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    let loaded = log.load("test", "a").await.unwrap();
    assert_eq!(loaded.len(), 1, "no part of a conflicting append is kept");
    assert_eq!(loaded[0].payload, event(1).payload);
}

async fn streams_are_separate_by_type_and_id(t: TestStore) {
    let log = t.store.log.clone();
    log.append("test", "a", 0, GENESIS, &[event(1)])
        .await
        .unwrap();
    log.append("test", "b", 0, GENESIS, &[event(2)])
        .await
        .unwrap();
    log.append("other", "a", 0, GENESIS, &[event(3)])
        .await
        .unwrap();
    assert_eq!(log.load("test", "a").await.unwrap().len(), 1);
    assert_eq!(
        log.load("other", "a").await.unwrap()[0].payload,
        event(3).payload
    );
}

async fn migrations_apply_once_and_again_harmlessly(t: TestStore) {
    // Opening the same store again re-runs the migrator: a no-op.
    let again = permit_ledger::store::open(&t.config())
        .await
        .expect("re-open");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&again.db.read)
        .await
        .unwrap();
    assert!(applied >= 1);
    again
        .log
        .append("test", "a", 0, GENESIS, &[event(1)])
        .await
        .unwrap();
    assert_eq!(t.store.log.load("test", "a").await.unwrap().len(), 1);
}

/// Writers on many streams at once and a reader following the feed: the reader must end with
/// every event exactly once, and must never see a position lower than one it saw before.
async fn the_feed_never_skips_or_repeats_an_event_under_concurrent_writers(t: TestStore) {
    let log = t.store.log.clone();
    const WRITERS: i64 = 12;
    const APPENDS: i64 = 60;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let log = log.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = log.read_feed(after, 100).await.unwrap();
                for e in &batch {
                    assert!(e.position > after, "position went backwards");
                    after = e.position;
                    seen.push((e.aggregate_id.clone(), e.sequence));
                }
                if finished && batch.is_empty() {
                    return seen;
                }
                if batch.is_empty() {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            let id = format!("w{w}");
            for i in 0..APPENDS {
                // Two events per append on odd turns, to exercise multi-event positions.
                let batch: Vec<NewEvent> = if i % 2 == 1 {
                    vec![event(i), event(i)]
                } else {
                    vec![event(i)]
                };
                let stream = log.load("test", &id).await.unwrap();
                let prev = stream
                    .last()
                    .and_then(|e| e.hash.clone())
                    .unwrap_or_else(|| GENESIS.to_string());
                log.append("test", &id, stream.len() as i64, &prev, &batch)
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let expected = WRITERS * (APPENDS + APPENDS / 2);
    assert_eq!(seen.len() as i64, expected, "every event seen");
    let distinct: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), seen.len(), "no event seen twice");
    // Within a stream the feed follows the stream's own order.
    for w in 0..WRITERS {
        let id = format!("w{w}");
        let seqs: Vec<i64> = seen
            .iter()
            .filter(|(a, _)| *a == id)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(seqs, (1..=APPENDS + APPENDS / 2).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn the_feed_does_not_pass_a_writer_that_has_not_committed() {
    let t = TestStore::new(Backend::Postgres).await;
    let log = t.store.log.clone();
    let EventLog::Postgres(pg) = &log else {
        unreachable!()
    };
    // A writer opens a transaction and takes an xid, then holds it open.
    let mut slow = pg.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *slow)
        .await
        .unwrap();
    // A later writer commits.
    log.append("test", "fast", 0, GENESIS, &[event(1)])
        .await
        .unwrap();
    assert!(
        log.read_feed(0, 100).await.unwrap().is_empty(),
        "the committed event waits behind the open writer"
    );
    slow.rollback().await.unwrap();
    // Once it ends the event is readable (other tests' writers on the same server may hold the
    // horizon for a moment too: the horizon is server-wide).
    let mut feed = Vec::new();
    for _ in 0..500 {
        feed = log.read_feed(0, 100).await.unwrap();
        if !feed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].aggregate_id, "fast");
}

crate::on_both_stores!(
    migrations_apply_once_and_again_harmlessly,
    appended_events_load_back_in_order_with_positions_and_times,
    an_append_at_a_stale_sequence_is_a_conflict_and_writes_nothing,
    streams_are_separate_by_type_and_id,
    the_feed_never_skips_or_repeats_an_event_under_concurrent_writers,
);
