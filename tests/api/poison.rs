//! Poison events: a projection that cannot apply an event retries it with backoff, then parks
//! it or stays stalled before it (per its declared policy); an operator retries or skips it;
//! `/readyz` and `/metrics` show it. On both stores.

use crate::app::spawn_app_with;
use crate::fixtures::{manual_card, pay, submitted};
use crate::helpers::{provider_meta, reviewer_meta, TestStore};
use aggregates::permit::{Permit, PermitCommand};
use permit_ledger::ledger::Ledger;
use permit_ledger::read_side::{ReadError, ReadSide};
use permit_ledger::services::Settings;
use permit_ledger::store::Backend;
use projections::{FeedEvent, PoisonPolicy, Projection, ProjectionError, Tables};
use reqwest::StatusCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// Every generation cannot apply `Paid` events.
const EVERY_GENERATION: i32 = -1;

/// A read model that records every event's position, and cannot apply `Paid` events while
/// `broken` says so (its statement names a table that does not exist: a real database error):
/// 0 never, `EVERY_GENERATION`, or only in that generation.
struct Brittle {
    policy: PoisonPolicy,
    broken: Arc<AtomicI32>,
}

#[async_trait::async_trait]
impl Projection for Brittle {
    fn name(&self) -> &'static str {
        "brittle"
    }
    fn version(&self) -> i32 {
        1
    }
    fn on_poison(&self) -> PoisonPolicy {
        self.policy
    }
    fn tables(&self) -> &'static [&'static str] {
        &["brittle_seen"]
    }
    fn schema(&self) -> &'static [&'static str] {
        &["CREATE TABLE {brittle_seen} (position BIGINT PRIMARY KEY, event_type TEXT NOT NULL)"]
    }
    async fn apply(
        &self,
        tx: &mut sqlx::AnyConnection,
        tables: &Tables,
        event: &FeedEvent,
    ) -> Result<(), ProjectionError> {
        let broken = self.broken.load(Ordering::SeqCst);
        if event.event_type == "Paid" && (broken == EVERY_GENERATION || broken == tables.number()) {
            sqlx::query("SELECT paid_fen FROM no_such_table")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(&tables.expand(
            "INSERT INTO {brittle_seen} (position, event_type) VALUES ($1, $2)",
            self.tables(),
        ))
        .bind(event.position)
        .bind(&event.event_type)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

struct Run {
    rs: Arc<ReadSide>,
    ledger: Ledger,
    broken: Arc<AtomicI32>,
    _stop: watch::Sender<bool>,
}

/// The brittle projection alone on the test store, retrying after `base`, 2×, 4×…
async fn run(t: &TestStore, policy: PoisonPolicy, base: Duration) -> Run {
    let broken = Arc::new(AtomicI32::new(EVERY_GENERATION));
    let brittle = Brittle {
        policy,
        broken: broken.clone(),
    };
    let rs = ReadSide::retrying_after(t.store.clone(), vec![Arc::new(brittle)], base);
    rs.prepare().await.unwrap();
    let (stop, rx) = watch::channel(false);
    rs.spawn(rx);
    let waker = rs.clone();
    let ledger = t
        .ledger
        .clone()
        .on_append(Arc::new(move || waker.notify_appended()));
    Run {
        rs,
        ledger,
        broken,
        _stop: stop,
    }
}

/// The manual's card, a renewal paid (the poison) and then rejected: the positions of the
/// payment and of the rejection.
async fn paid_then_rejected(ledger: &Ledger, t: &TestStore) -> (i64, i64) {
    let (_, permit_id) = manual_card(ledger, &t.store.db).await;
    let renewal_id = submitted(ledger, permit_id).await;
    let paid = ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            pay(renewal_id, "wx-1"),
            &provider_meta(),
        )
        .await
        .unwrap()
        .position
        .unwrap();
    let rejected = ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            PermitCommand::Reject {
                renewal_id,
                reviewer_id: Uuid::from_u128(2),
                reason: "照片不清晰".into(),
                now: crate::fixtures::at("2022-05-21T01:00:00Z"),
            },
            &reviewer_meta(),
        )
        .await
        .unwrap()
        .position
        .unwrap();
    (paid, rejected)
}

async fn seen(t: &TestStore, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&t.store.db.read)
        .await
        .unwrap()
}

async fn info(rs: &ReadSide) -> permit_ledger::read_side::ProjectionInfo {
    rs.list().await.unwrap().remove(0)
}

/// Polls until the projection has failed `n` times on one event.
async fn until_failed(rs: &ReadSide, n: i32) -> permit_ledger::read_side::ProjectionInfo {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let i = info(rs).await;
        if i.failures >= n {
            return i;
        }
        assert!(Instant::now() < deadline, "never failed {n} times: {i:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A view whose policy is to park goes past the event after its retries, records it with the
/// error, applies what follows; a retry after the fix rebuilds it with the event applied.
async fn a_view_parks_an_event_it_cannot_apply_and_goes_on(t: TestStore) {
    let run = run(&t, PoisonPolicy::Park, Duration::from_millis(20)).await;
    let (paid, rejected) = paid_then_rejected(&run.ledger, &t).await;
    run.rs
        .wait_for("brittle", rejected, Duration::from_secs(10))
        .await
        .expect("the view goes on past the parked event");
    let i = info(&run.rs).await;
    assert_eq!(
        (i.status, i.parked, i.failing_position),
        ("parked", 1, None)
    );
    let parked = run.rs.parked("brittle").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(
        (parked[0].position, parked[0].event_type.as_str()),
        (paid, "Paid")
    );
    assert_eq!(parked[0].parked_by, "policy");
    assert!(
        parked[0].error.contains("no_such_table"),
        "{}",
        parked[0].error
    );
    assert_eq!(
        seen(
            &t,
            "SELECT count(*) FROM brittle_seen WHERE event_type = 'Paid'"
        )
        .await,
        0
    );
    assert_eq!(
        seen(
            &t,
            &format!("SELECT count(*) FROM brittle_seen WHERE position = {rejected}")
        )
        .await,
        1,
        "the rejection after it is applied"
    );

    // The code is fixed: a retry rebuilds, and the rebuilt view has the payment.
    run.broken.store(0, Ordering::SeqCst);
    let generation = run.rs.generation("brittle").await.unwrap();
    run.rs.request_retry("brittle").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while run.rs.generation("brittle").await.unwrap() == generation {
        assert!(
            Instant::now() < deadline,
            "the retry never rebuilt the view"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let i = info(&run.rs).await;
    assert_eq!((i.status, i.parked), ("running", 0));
    assert_eq!(
        seen(
            &t,
            &format!("SELECT count(*) FROM brittle_seen WHERE position = {paid}")
        )
        .await,
        1
    );
}

/// A projection whose policy is to stop stays before the event however often it fails, and
/// says so; a skip that names another position is refused; the operator's skip parks it with
/// the reason and the projection goes on.
async fn a_stopping_projection_stays_stalled_until_an_operator_skips(t: TestStore) {
    let run = run(&t, PoisonPolicy::Stop, Duration::from_millis(20)).await;
    let (paid, rejected) = paid_then_rejected(&run.ledger, &t).await;
    let i = until_failed(&run.rs, 7).await;
    assert_eq!(
        (i.status, i.failing_position, i.parked),
        ("stalled", Some(paid), 0)
    );
    assert!(i.last_error.as_deref().unwrap().contains("no_such_table"));
    assert!(matches!(
        run.rs
            .wait_for("brittle", rejected, Duration::from_millis(100))
            .await,
        Err(ReadError::Lagging { .. })
    ));
    assert_eq!(
        seen(
            &t,
            &format!("SELECT count(*) FROM brittle_seen WHERE position >= {paid}")
        )
        .await,
        0,
        "nothing at or after the event is applied"
    );
    let stalled = run.rs.stalled(Duration::ZERO).await.unwrap();
    assert_eq!(stalled.len(), 1);
    assert_eq!(
        (stalled[0].name.as_str(), stalled[0].failing_position),
        ("brittle", paid)
    );

    assert!(matches!(
        run.rs.request_skip("brittle", rejected, "wrong one").await,
        Err(ReadError::NotStuckThere { failing: Some(at), .. }) if at == paid
    ));
    run.rs
        .request_skip("brittle", paid, "付款记录已由财务核对")
        .await
        .unwrap();
    run.rs
        .wait_for("brittle", rejected, Duration::from_secs(10))
        .await
        .expect("the projection goes on after the skip");
    let parked = run.rs.parked("brittle").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].position, paid);
    assert_eq!(parked[0].parked_by, "operator: 付款记录已由财务核对");
    let i = info(&run.rs).await;
    assert_eq!((i.status, i.parked, i.failures), ("parked", 1, 0));
    assert!(run.rs.stalled(Duration::ZERO).await.unwrap().is_empty());
}

/// After the cause is fixed, a retry applies the stuck event at once instead of after the
/// backoff (here 4 s after the third failure).
async fn a_retry_applies_the_stuck_event_without_waiting_out_the_backoff(t: TestStore) {
    let run = run(&t, PoisonPolicy::Stop, Duration::from_secs(1)).await;
    let (paid, rejected) = paid_then_rejected(&run.ledger, &t).await;
    let i = until_failed(&run.rs, 3).await;
    assert_eq!(i.failing_position, Some(paid));
    run.broken.store(0, Ordering::SeqCst);
    let asked = Instant::now();
    run.rs.request_retry("brittle").await.unwrap();
    run.rs
        .wait_for("brittle", rejected, Duration::from_secs(10))
        .await
        .unwrap();
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the retry waited {took:?}, as if for the 4 s backoff"
    );
    let i = info(&run.rs).await;
    assert_eq!(
        (i.status, i.failures, i.failing_position),
        ("running", 0, None)
    );
    assert_eq!(
        seen(
            &t,
            &format!("SELECT count(*) FROM brittle_seen WHERE position = {paid}")
        )
        .await,
        1
    );
}

/// A rebuild is not held up by the live generation being stuck: it builds past the event the
/// live one fails on, and once swapped in the projection runs again.
async fn a_rebuild_goes_on_while_the_live_generation_is_stuck(t: TestStore) {
    let run = run(&t, PoisonPolicy::Stop, Duration::from_millis(20)).await;
    run.broken.store(1, Ordering::SeqCst);
    let (paid, rejected) = paid_then_rejected(&run.ledger, &t).await;
    let i = until_failed(&run.rs, 2).await;
    assert_eq!((i.status, i.failing_position), ("stalled", Some(paid)));
    run.rs.request_rebuild("brittle").await.unwrap();
    run.rs
        .wait_for("brittle", rejected, Duration::from_secs(20))
        .await
        .expect("the rebuilt generation is swapped in past the event");
    let i = info(&run.rs).await;
    assert_eq!(
        (i.generation, i.status, i.failing_position),
        (2, "running", None)
    );
    assert_eq!(
        seen(
            &t,
            &format!("SELECT count(*) FROM brittle_seen WHERE position = {paid}")
        )
        .await,
        1
    );
}

crate::on_both_stores!(
    a_rebuild_goes_on_while_the_live_generation_is_stuck,
    a_view_parks_an_event_it_cannot_apply_and_goes_on,
    a_stopping_projection_stays_stalled_until_an_operator_skips,
    a_retry_applies_the_stuck_event_without_waiting_out_the_backoff,
);

/// The service with a real projection stuck (its table renamed by hand): `/readyz` answers 503
/// `projection_stalled` once the threshold passes, `/metrics` counts the failures, and after
/// the operator's skip it is ready again.
async fn readyz_reports_a_stalled_projection(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            stalled_after: Duration::from_secs(1),
            ..Settings::default()
        },
    )
    .await;
    assert_eq!(app.get("/readyz", None).await.0, StatusCode::OK);
    sqlx::query("ALTER TABLE daily_takings__g1 RENAME TO daily_takings_moved")
        .execute(&app.t.store.db.write)
        .await
        .unwrap();
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit, _) = app
        .card(&admin, &lot, "京A66666", crate::app::HOLDER_PHONE)
        .await;
    let owner = app.login(&lot, crate::app::HOLDER_PHONE).await;
    let (status, renewal) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED, "{renewal}");
    app.pay_and_wait(
        &owner,
        renewal["payment"]["order_id"].as_str().unwrap(),
        renewal["renewal_id"].as_str().unwrap(),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        let (status, body) = app.get("/readyz", None).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break body;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(Instant::now() < deadline, "readyz never reported the stall");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["error"]["code"], "projection_stalled", "{body}");
    let stuck = &body["error"]["projections"][0];
    assert_eq!(stuck["name"], "daily_takings", "{body}");
    assert!(stuck["failures"].as_i64().unwrap() >= 1);
    assert!(
        body.to_string().find("daily_takings__g1").is_none(),
        "no database error text on the unauthenticated probe: {body}"
    );
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: i64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("permit_ledger_projection_failures{projection=\"daily_takings\"} ")
        })
        .expect("the failures gauge")
        .parse()
        .unwrap();
    assert!(failures >= 1, "{metrics}");

    let at = stuck["failing_position"].as_i64().unwrap();
    app.services
        .read
        .request_skip("daily_takings", at, "表被误删，日报另行核对")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/readyz", None).await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "still not ready after the skip");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

crate::on_both_backends!(readyz_reports_a_stalled_projection);
