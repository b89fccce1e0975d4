//! The command side on PostgreSQL: load, decide, append, with real concurrent clients.

use crate::fixtures::{manual_card, pay, submit, submitted};
use crate::helpers::{owner_meta, provider_meta, reviewer_meta, TestStore};
use aggregates::metadata::{Actor, EventMetadata, Role};
use aggregates::permit::{Permit, PermitCommand, PermitError, RenewalStatus};
use aggregates::values::Period;
use cqrs_es::persist::PersistedEventRepository;
use permit_ledger::error::AppError;
use permit_ledger::ledger::CommandError;
use permit_ledger::store::{Backend, EventLog};
use uuid::Uuid;

fn approve(renewal_id: Uuid) -> PermitCommand {
    PermitCommand::Approve {
        renewal_id,
        reviewer_id: Uuid::from_u128(2),
        now: crate::fixtures::at("2022-05-21T01:00:00Z"),
    }
}

async fn the_manuals_renewal_runs_from_submission_to_approval(t: TestStore) {
    let ledger = t.ledger.clone();
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
    let id = permit_id.to_string();
    let renewal_id = submitted(&ledger, permit_id).await;
    let paid = ledger
        .execute::<Permit>(&id, pay(renewal_id, "wx-1"), &provider_meta())
        .await
        .unwrap();
    assert_eq!(paid.events.len(), 1);
    let approved = ledger
        .execute::<Permit>(&id, approve(renewal_id), &reviewer_meta())
        .await
        .unwrap();
    assert!(approved.position > paid.position);
    let card = approved.aggregate.card.unwrap();
    assert_eq!(
        card.validity(),
        Period::new(
            crate::fixtures::d("2022-06-01"),
            crate::fixtures::d("2023-05-31")
        )
        .unwrap()
    );
    // Reloading from the store gives the same card.
    let reloaded = ledger.load::<Permit>(&id).await.unwrap();
    assert_eq!(reloaded.aggregate.card.unwrap(), card);
    // And re-application is refused.
    let again = ledger
        .execute::<Permit>(&id, submit(Uuid::new_v4()), &owner_meta())
        .await;
    assert!(matches!(
        again,
        Err(CommandError::Rejected(PermitError::AlreadyApproved))
    ));
}

async fn every_event_carries_its_typed_metadata(t: TestStore) {
    let ledger = t.ledger.clone();
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
    let meta = EventMetadata {
        actor: Actor::Owner("f00d".into()),
        role: Role::Owner,
        correlation_id: "corr-1".into(),
        causation_id: "req-1".into(),
        request_id: "req-1".into(),
    };
    ledger
        .execute::<Permit>(&permit_id.to_string(), submit(Uuid::new_v4()), &meta)
        .await
        .unwrap();
    let loaded = ledger.load::<Permit>(&permit_id.to_string()).await.unwrap();
    let last = loaded.events.last().unwrap();
    assert_eq!(last.event_type, "RenewalSubmitted");
    let map = serde_json::from_value(last.metadata.clone()).unwrap();
    assert_eq!(EventMetadata::from_map(&map).unwrap(), meta);
}

async fn a_duplicate_payment_notification_appends_nothing_and_answers_the_last_position(
    t: TestStore,
) {
    let ledger = t.ledger.clone();
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
    let id = permit_id.to_string();
    let renewal_id = submitted(&ledger, permit_id).await;
    let first = ledger
        .execute::<Permit>(&id, pay(renewal_id, "wx-1"), &provider_meta())
        .await
        .unwrap();
    let second = ledger
        .execute::<Permit>(&id, pay(renewal_id, "wx-1"), &provider_meta())
        .await
        .unwrap();
    assert!(second.events.is_empty());
    assert_eq!(second.position, first.position);
    let paid_events = ledger
        .load::<Permit>(&id)
        .await
        .unwrap()
        .events
        .iter()
        .filter(|e| e.event_type == "Paid")
        .count();
    assert_eq!(paid_events, 1);
}

/// Sixteen owners' devices submit a renewal of one card at the same moment: one wins.
async fn concurrent_submissions_on_one_permit_open_exactly_one_renewal(t: TestStore) {
    let ledger = t.ledger.clone();
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            ledger
                .execute::<Permit>(
                    &permit_id.to_string(),
                    submit(Uuid::new_v4()),
                    &owner_meta(),
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(CommandError::Rejected(PermitError::RenewalOpen)) => {}
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one submission wins");
    let card = ledger
        .load::<Permit>(&permit_id.to_string())
        .await
        .unwrap()
        .aggregate
        .card
        .unwrap();
    assert_eq!(card.renewals.len(), 1);
}

/// Reviewers race to approve and reject the same paid renewal: exactly one decision stands.
async fn concurrent_reviewers_decide_a_renewal_exactly_once(t: TestStore) {
    let ledger = t.ledger.clone();
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
    let id = permit_id.to_string();
    let renewal_id = submitted(&ledger, permit_id).await;
    ledger
        .execute::<Permit>(&id, pay(renewal_id, "wx-1"), &provider_meta())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let ledger = ledger.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let command = if i % 2 == 0 {
                approve(renewal_id)
            } else {
                PermitCommand::Reject {
                    renewal_id,
                    reviewer_id: Uuid::from_u128(3),
                    reason: "照片不清晰".into(),
                    now: crate::fixtures::at("2022-05-21T01:00:00Z"),
                }
            };
            ledger
                .execute::<Permit>(&id, command, &reviewer_meta())
                .await
        }));
    }
    let mut decided = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(c) => {
                assert_eq!(c.events.len(), 1);
                decided += 1;
            }
            Err(CommandError::Rejected(PermitError::InvalidTransition { .. })) => {}
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!(decided, 1);
    let loaded = ledger.load::<Permit>(&id).await.unwrap();
    let decisions = loaded
        .events
        .iter()
        .filter(|e| e.event_type == "Approved" || e.event_type == "Rejected")
        .count();
    assert_eq!(decisions, 1);
    let status = loaded.aggregate.card.unwrap().renewals[0].status;
    assert!(matches!(
        status,
        RenewalStatus::Approved | RenewalStatus::Rejected
    ));
}

/// A writer holds the next sequence of the stream in an open transaction; the command's append
/// waits on it, then loses when it commits. With retries the command re-decides on the new
/// state and succeeds; without, it reports a conflict and appends nothing.
async fn a_lost_race_is_retried_then_reported_as_a_conflict(t: TestStore) {
    let (_, permit_id) = manual_card(&t.ledger, &t.store.db).await;
    for (attempts, expect_success) in [(3, true), (1, false)] {
        let ledger = t.ledger.clone().with_max_attempts(attempts);
        let id = permit_id.to_string();
        let before = ledger.load::<Permit>(&id).await.unwrap().sequence;
        let blocker = hold_next_sequence(&t, &id, before + 1).await;
        let command = {
            let ledger = ledger.clone();
            let id = id.clone();
            tokio::spawn(async move {
                ledger
                    .execute::<Permit>(&id, submit(Uuid::new_v4()), &owner_meta())
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !command.is_finished(),
            "the append waits on the open writer"
        );
        blocker.commit().await;
        let outcome = command.await.unwrap();
        let events = ledger.load::<Permit>(&id).await.unwrap().events;
        if expect_success {
            let committed = outcome.expect("retried and succeeded");
            assert_eq!(committed.stored[0].sequence, before + 2);
            assert_eq!(events.len() as i64, before + 2);
            // Cancel it so the next round can submit again.
            let renewal_id = committed.aggregate.card.unwrap().renewals[0].renewal_id;
            ledger
                .execute::<Permit>(
                    &id,
                    PermitCommand::CancelRenewal {
                        renewal_id,
                        owner: crate::fixtures::holder_phone(),
                        now: crate::fixtures::at("2022-05-20T02:10:00Z"),
                    },
                    &owner_meta(),
                )
                .await
                .unwrap();
        } else {
            assert!(
                matches!(outcome, Err(CommandError::Conflict { attempts: 1 })),
                "{outcome:?}"
            );
            assert_eq!(
                events.len() as i64,
                before + 1,
                "nothing appended by the loser"
            );
            let app: AppError = outcome.unwrap_err().into();
            assert_eq!(app.code(), "busy");
        }
    }
}

/// Another writer that has appended the stream's next event and not yet committed.
enum Blocker {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl Blocker {
    async fn commit(self) {
        match self {
            Blocker::Postgres(tx) => tx.commit().await.unwrap(),
            Blocker::Sqlite(mut conn) => {
                sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
            }
        }
    }
}

async fn hold_next_sequence(t: &TestStore, id: &str, sequence: i64) -> Blocker {
    let payload = r#"{"VehicleChosen":{"plate":"京A66666"}}"#;
    let metadata = serde_json::to_string(&owner_meta().to_map()).unwrap();
    match t.store.log.clone() {
        EventLog::Postgres(pg) => {
            let mut tx = pg.pool().begin().await.unwrap();
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                     event_version, payload, metadata, position, prev_hash, hash)
                 VALUES ('permit', $1, $2, 'VehicleChosen', '1', $3::json, $4::json,
                         (pg_current_xact_id()::text::bigint << 16) + 1, 'x', 'y')",
            )
            .bind(id)
            .bind(sequence)
            .bind(payload)
            .bind(&metadata)
            .execute(&mut *tx)
            .await
            .unwrap();
            Blocker::Postgres(tx)
        }
        EventLog::Sqlite(_) => {
            // A second connection to the file, like another process writing.
            let mut conn = t.store.db.read.acquire().await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                     event_version, payload, metadata, recorded_at, prev_hash,
                                     hash)
                 VALUES ('permit', $1, $2, 'VehicleChosen', '1', $3, $4,
                         '2022-05-20T02:00:00.000000Z', 'x', 'y')",
            )
            .bind(id)
            .bind(sequence)
            .bind(payload)
            .bind(&metadata)
            .execute(&mut *conn)
            .await
            .unwrap();
            Blocker::Sqlite(conn)
        }
    }
}

/// The table keeps postgres-es 0.5's layout, so its repository (and tools built on it) can read
/// what the ledger wrote.
#[tokio::test]
async fn postgres_es_reads_the_ledgers_events() {
    let t = TestStore::new(Backend::Postgres).await;
    let ledger = t.ledger.clone();
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
    let EventLog::Postgres(pg) = ledger.log() else {
        unreachable!()
    };
    let repo = postgres_es::PostgresEventRepository::new(pg.pool().clone());
    let events = repo
        .get_events::<Permit>(&permit_id.to_string())
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "PermitIssued");
    assert_eq!(events[0].sequence, 1);
    let ours = ledger.load::<Permit>(&permit_id.to_string()).await.unwrap();
    assert_eq!(events[0].payload, ours.events[0].payload);
}

crate::on_both_stores!(
    a_lost_race_is_retried_then_reported_as_a_conflict,
    the_manuals_renewal_runs_from_submission_to_approval,
    every_event_carries_its_typed_metadata,
    a_duplicate_payment_notification_appends_nothing_and_answers_the_last_position,
    concurrent_submissions_on_one_permit_open_exactly_one_renewal,
    concurrent_reviewers_decide_a_renewal_exactly_once,
);

/// The embedded table keeps sqlite-es 0.5's columns, so its repository can read it too.
#[tokio::test]
async fn sqlite_es_reads_the_ledgers_events() {
    let t = TestStore::new(Backend::Sqlite).await;
    let (_, permit_id) = manual_card(&t.ledger, &t.store.db).await;
    let path = permit_ledger::store::sqlite_path(&t.dir.as_ref().unwrap().0);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let repo = sqlite_es::SqliteEventRepository::new(pool);
    let events = repo
        .get_events::<Permit>(&permit_id.to_string())
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "PermitIssued");
    let ours = t
        .ledger
        .load::<Permit>(&permit_id.to_string())
        .await
        .unwrap();
    assert_eq!(events[0].payload, ours.events[0].payload);
}
