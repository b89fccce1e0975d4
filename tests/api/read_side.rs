//! The read side: projections follow the feed exactly once, resume, rebuild, and serve
//! read-your-writes; on both stores.

use crate::fixtures::{manual_card, pay, submitted};
use crate::helpers::{owner_meta, provider_meta, reviewer_meta, TestStore};
use aggregates::permit::{Permit, PermitCommand};
use permit_ledger::ledger::Ledger;
use permit_ledger::read_side::ReadSide;
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Starts a read side (an "instance") on the test store; dropping the sender stops it.
fn start(t: &TestStore) -> (Arc<ReadSide>, watch::Sender<bool>) {
    let rs = ReadSide::new(t.store.clone(), projections::all());
    let (stop, rx) = watch::channel(false);
    rs.spawn(rx);
    (rs, stop)
}

/// A ledger that wakes the read side after each append.
fn waking(t: &TestStore, rs: &Arc<ReadSide>) -> Ledger {
    let rs = rs.clone();
    t.ledger
        .clone()
        .on_append(Arc::new(move || rs.notify_appended()))
}

async fn last_position(ledger: &Ledger, permit_id: Uuid) -> i64 {
    ledger
        .load::<Permit>(&permit_id.to_string())
        .await
        .unwrap()
        .position
        .unwrap()
}

async fn count(t: &TestStore, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&t.store.db.read)
        .await
        .unwrap()
}

fn reject(renewal_id: Uuid) -> PermitCommand {
    PermitCommand::Reject {
        renewal_id,
        reviewer_id: Uuid::from_u128(2),
        reason: "照片不清晰".into(),
        now: crate::fixtures::at("2022-05-21T01:00:00Z"),
    }
}

async fn views_follow_the_manuals_flow_and_serve_read_your_writes(t: TestStore) {
    let (rs, _stop) = start(&t);
    rs.prepare().await.unwrap();
    let ledger = waking(&t, &rs);
    let (lot_id, permit_id) = manual_card(&ledger, &t.store.db).await;
    let renewal_id = submitted(&ledger, permit_id).await;
    let paid = ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            pay(renewal_id, "wx-1"),
            &provider_meta(),
        )
        .await
        .unwrap();
    let at = paid.position.unwrap();
    for name in ["cards", "review_queue", "plate_index", "daily_takings"] {
        rs.wait_for(name, at, Duration::from_secs(5)).await.unwrap();
    }
    let row = sqlx::query("SELECT status, paid_at FROM renewals WHERE renewal_id = $1")
        .bind(renewal_id.to_string())
        .fetch_one(&t.store.db.read)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "under_review");
    let queued: Vec<(String, String)> =
        sqlx::query_as("SELECT renewal_id, plate FROM review_queue ORDER BY paid_at")
            .fetch_all(&t.store.db.read)
            .await
            .unwrap();
    assert_eq!(queued, [(renewal_id.to_string(), "京A66666".to_string())]);
    let found: String = sqlx::query_scalar(
        "SELECT permit_id FROM plate_index WHERE lot_id = $1 AND plate = '京A66666'",
    )
    .bind(lot_id.to_string())
    .fetch_one(&t.store.db.read)
    .await
    .unwrap();
    assert_eq!(found, permit_id.to_string());
    let takings: (String, i64, i64) =
        sqlx::query_as("SELECT day, paid_fen, paid_count FROM daily_takings WHERE lot_id = $1")
            .bind(lot_id.to_string())
            .fetch_one(&t.store.db.read)
            .await
            .unwrap();
    assert_eq!(takings, ("2022-05-20".to_string(), 36000, 1));

    // Reject: the queue empties, the card keeps its validity, one SMS is queued.
    let rejected = ledger
        .execute::<Permit>(&permit_id.to_string(), reject(renewal_id), &reviewer_meta())
        .await
        .unwrap();
    for name in ["cards", "review_queue", "sms_notices"] {
        rs.wait_for(name, rejected.position.unwrap(), Duration::from_secs(5))
            .await
            .unwrap();
    }
    assert_eq!(count(&t, "SELECT count(*) FROM review_queue").await, 0);
    let card: (String, String) =
        sqlx::query_as("SELECT valid_from, valid_to FROM cards WHERE permit_id = $1")
            .bind(permit_id.to_string())
            .fetch_one(&t.store.db.read)
            .await
            .unwrap();
    assert_eq!(card, ("2021-06-01".into(), "2022-05-31".into()));
    let sms: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, payload FROM outbox WHERE kind = 'sms'")
            .fetch_all(&t.store.db.read)
            .await
            .unwrap();
    assert_eq!(sms.len(), 1);
    assert!(sms[0].1.contains("未通过审核") && sms[0].1.contains("13912345678"));
}

async fn a_read_past_the_head_answers_lagging_in_time(t: TestStore) {
    let (rs, _stop) = start(&t);
    rs.prepare().await.unwrap();
    let started = std::time::Instant::now();
    let r = rs
        .wait_for("cards", i64::MAX, Duration::from_millis(300))
        .await;
    assert!(matches!(
        r,
        Err(permit_ledger::read_side::ReadError::Lagging { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Two instances run the read side on one store while many renewals flow: every view ends
/// exactly as one runner alone would leave it (nothing applied twice or skipped).
async fn two_instances_apply_each_event_exactly_once(t: TestStore) {
    let (a, _stop_a) = start(&t);
    let (b, _stop_b) = start(&t);
    a.prepare().await.unwrap();
    b.prepare().await.unwrap();
    let ledger = waking(&t, &a);
    let mut last = 0;
    let mut cards = Vec::new();
    for _ in 0..8 {
        cards.push(manual_card(&ledger, &t.store.db).await.1);
    }
    let mut tasks = Vec::new();
    for permit_id in cards.clone() {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let renewal_id = submitted(&ledger, permit_id).await;
            ledger
                .execute::<Permit>(
                    &permit_id.to_string(),
                    pay(renewal_id, "wx"),
                    &provider_meta(),
                )
                .await
                .unwrap();
            ledger
                .execute::<Permit>(&permit_id.to_string(), reject(renewal_id), &reviewer_meta())
                .await
                .unwrap();
            ledger
                .execute::<Permit>(
                    &permit_id.to_string(),
                    PermitCommand::RequestRefund {
                        renewal_id,
                        owner: crate::fixtures::holder_phone(),
                        out_refund_no: format!("R{}", renewal_id.simple()),
                        now: crate::fixtures::at("2022-05-21T02:00:00Z"),
                    },
                    &owner_meta(),
                )
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for permit_id in &cards {
        last = last.max(last_position(&ledger, *permit_id).await);
    }
    for name in [
        "daily_takings",
        "sms_notices",
        "payment_dispatch",
        "review_queue",
    ] {
        a.wait_for(name, last, Duration::from_secs(10))
            .await
            .unwrap();
    }
    let paid: i64 = count(
        &t,
        "SELECT CAST(sum(paid_count) AS BIGINT) FROM daily_takings",
    )
    .await;
    assert_eq!(paid, 8, "each payment counted once");
    assert_eq!(
        count(&t, "SELECT count(*) FROM outbox WHERE kind = 'sms'").await,
        8,
        "one rejection SMS per renewal"
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM outbox WHERE kind = 'refund'").await,
        8,
        "one refund request per renewal"
    );
    assert_eq!(count(&t, "SELECT count(*) FROM review_queue").await, 0);
}

async fn a_rebuild_swaps_in_an_equal_view_while_the_live_one_answers(t: TestStore) {
    let (rs, _stop) = start(&t);
    rs.prepare().await.unwrap();
    let ledger = waking(&t, &rs);
    let mut last = 0;
    for _ in 0..5 {
        let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
        let renewal_id = submitted(&ledger, permit_id).await;
        let c = ledger
            .execute::<Permit>(
                &permit_id.to_string(),
                pay(renewal_id, "wx"),
                &provider_meta(),
            )
            .await
            .unwrap();
        last = c.position.unwrap();
    }
    rs.wait_for("cards", last, Duration::from_secs(5))
        .await
        .unwrap();
    let snapshot = |t: &TestStore| {
        let db = t.store.db.read.clone();
        async move {
            sqlx::query_as::<_, (String, String, String)>(
                "SELECT renewal_id, status, period_to FROM renewals ORDER BY renewal_id",
            )
            .fetch_all(&db)
            .await
            .unwrap()
        }
    };
    let before = snapshot(&t).await;
    let generation = rs.generation("cards").await.unwrap();
    let next = rs.request_rebuild("cards").await.unwrap();
    assert_eq!(next, generation + 1);
    // The live view keeps answering while the rebuild runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rs.generation("cards").await.unwrap() == generation {
        assert_eq!(snapshot(&t).await.len(), 5);
        assert!(std::time::Instant::now() < deadline, "rebuild finished");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        snapshot(&t).await,
        before,
        "the rebuilt view equals the live one"
    );
    let info = rs.list().await.unwrap();
    let cards = info.iter().find(|i| i.name == "cards").unwrap();
    assert_eq!(cards.generation, generation + 1);
    assert!(!cards.rebuilding);
    assert_eq!(cards.lag, 0);
}

crate::on_both_stores!(
    views_follow_the_manuals_flow_and_serve_read_your_writes,
    a_read_past_the_head_answers_lagging_in_time,
    two_instances_apply_each_event_exactly_once,
    a_rebuild_swaps_in_an_equal_view_while_the_live_one_answers,
);

/// A projection whose code is at a new version: the same name and tables, version 2.
struct BumpedDailyTakings;

#[async_trait::async_trait]
impl projections::Projection for BumpedDailyTakings {
    fn name(&self) -> &'static str {
        "daily_takings"
    }
    fn version(&self) -> i32 {
        projections::daily_takings::DailyTakings.version() + 1
    }
    fn tables(&self) -> &'static [&'static str] {
        projections::daily_takings::DailyTakings.tables()
    }
    fn schema(&self) -> &'static [&'static str] {
        projections::daily_takings::DailyTakings.schema()
    }
    async fn apply(
        &self,
        tx: &mut sqlx::AnyConnection,
        tables: &projections::Tables,
        event: &projections::FeedEvent,
    ) -> Result<(), projections::ProjectionError> {
        projections::daily_takings::DailyTakings
            .apply(tx, tables, event)
            .await
    }
}

/// Starting with a projection at a new version rebuilds it from the start of the feed and swaps
/// it in, with the same figures.
async fn a_version_bump_rebuilds_the_projection_at_start(t: TestStore) {
    let (rs, stop) = start(&t);
    rs.prepare().await.unwrap();
    let ledger = waking(&t, &rs);
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
    let renewal_id = submitted(&ledger, permit_id).await;
    let paid = ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            pay(renewal_id, "wx"),
            &provider_meta(),
        )
        .await
        .unwrap();
    rs.wait_for(
        "daily_takings",
        paid.position.unwrap(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let figures = || async {
        sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT day, paid_fen, paid_count FROM daily_takings",
        )
        .fetch_all(&t.store.db.read)
        .await
        .unwrap()
    };
    let before = figures().await;
    assert_eq!(before.len(), 1);
    let generation = rs.generation("daily_takings").await.unwrap();
    stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The new code starts.
    let mut all = projections::all();
    all.retain(|p| p.name() != "daily_takings");
    all.push(Arc::new(BumpedDailyTakings));
    let next = ReadSide::new(t.store.clone(), all);
    next.prepare().await.unwrap();
    let (_stop, stopped) = watch::channel(false);
    next.spawn(stopped);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let info = next.list().await.unwrap();
        let p = info.iter().find(|p| p.name == "daily_takings").unwrap();
        if p.version == projections::Projection::version(&BumpedDailyTakings) && !p.rebuilding {
            assert_eq!(p.generation, generation + 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rebuilt at the new version"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        figures().await,
        before,
        "the rebuilt view has the same figures"
    );
}

crate::on_both_stores!(a_version_bump_rebuilds_the_projection_at_start);
