//! The office's daily takings report over HTTP, on both stores: the manual's flows produce
//! exact figures per business day, only admins may read it, bad dates are refused, and a
//! rebuild of just this projection gives the same figures.

use crate::app::{spawn_app, TestApp, HOLDER_PHONE};
use aggregates::permit::Permit;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Two cards at one lot, one owner session; returns (lot, [permits], owner token).
async fn two_cards(app: &TestApp, admin: &str) -> (String, [String; 2], String) {
    let lot = app.lot(admin).await;
    let (first, _) = app.card(admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (second, at) = app.card(admin, &lot, "京B12345", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let (status, body) = app
        .get(
            &format!("/api/v1/permits?after_position={at}"),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (lot, [first, second], owner)
}

/// Submits and pays a renewal of `permit`; returns its id.
async fn paid_renewal(app: &TestApp, owner: &str, permit: &str) -> String {
    let (status, body) = app.submit(owner, permit).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewal = body["renewal_id"].as_str().unwrap().to_string();
    let order = body["payment"]["order_id"].as_str().unwrap();
    app.pay_and_wait(owner, order, &renewal).await;
    renewal
}

/// The last position of a permit's stream.
async fn last_position(app: &TestApp, permit: &str) -> i64 {
    app.services
        .ledger
        .load::<Permit>(permit)
        .await
        .unwrap()
        .position
        .unwrap()
}

pub(crate) async fn report(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    app.get(
        &format!("/api/v1/admin/reports/daily-takings?{query}"),
        Some(token),
    )
    .await
}

pub(crate) fn figures(paid: i64, paid_n: i64, refunded: i64, refunded_n: i64) -> Value {
    json!({
        "paid_fen": paid,
        "paid_count": paid_n,
        "refunded_fen": refunded,
        "refunded_count": refunded_n,
        "net_fen": paid - refunded,
    })
}

/// Figures that are all WeChat Pay's (the online channel).
fn online(paid: i64, paid_n: i64, refunded: i64, refunded_n: i64) -> Value {
    let mut v = figures(paid, paid_n, refunded, refunded_n);
    v["by_channel"] = json!({"wechat_pay": figures(paid, paid_n, refunded, refunded_n)});
    v
}

fn day(day: &str, paid: i64, paid_n: i64, refunded: i64, refunded_n: i64) -> Value {
    let mut v = online(paid, paid_n, refunded, refunded_n);
    v["day"] = json!(day);
    v
}

/// The manual's flows: two renewals paid on 2022-05-20 (Asia/Shanghai); one approved, the other
/// rejected that day and refunded the next. Returns (lot, admin token, last position).
async fn two_paid_one_refunded(app: &TestApp) -> (String, String, i64) {
    let admin = app.admin().await;
    let (lot, [first, second], owner) = two_cards(app, &admin).await;
    let kept = paid_renewal(app, &owner, &first).await;
    let refused = paid_renewal(app, &owner, &second).await;

    let reviewer = app.reviewer().await;
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{kept}/approve"),
            Some(&reviewer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{refused}/reject"),
            Some(&reviewer),
            json!({"reason": "校园卡照片不清晰"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The refund is asked for and paid back the next business day (10:00 in Shanghai).
    let (status, _) = app
        .post(
            "/sandbox/clock",
            None,
            json!({"now": "2022-05-21T02:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/api/v1/renewals/{refused}/refund"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.wait_renewal(&owner, &refused, "refunded").await;

    let last = last_position(app, &first)
        .await
        .max(last_position(app, &second).await);
    (lot, admin, last)
}

async fn the_report_shows_each_days_takings_and_refunds_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let (lot, admin, last) = two_paid_one_refunded(&app).await;

    let (status, body) = report(
        &app,
        &admin,
        &format!("lot_id={lot}&from=2022-05-01&to=2022-05-31&after_position={last}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lot_id"], lot.as_str());
    assert_eq!(
        body["days"],
        json!([
            day("2022-05-20", 72000, 2, 0, 0),
            day("2022-05-21", 0, 0, 36000, 1),
        ])
    );
    assert_eq!(body["totals"], online(72000, 2, 36000, 1));
    assert_eq!(body["totals"]["net_fen"], 36000, "¥720.00 in, ¥360.00 back");

    // The range includes both ends and nothing else.
    let (status, body) = report(
        &app,
        &admin,
        &format!("lot_id={lot}&from=2022-05-21&to=2022-05-21"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["days"], json!([day("2022-05-21", 0, 0, 36000, 1)]));
    assert_eq!(body["totals"], online(0, 0, 36000, 1));

    // Another lot's report does not see this lot's money.
    let other = app.lot(&admin).await;
    let (status, body) = report(
        &app,
        &admin,
        &format!("lot_id={other}&from=2022-05-01&to=2022-05-31&after_position={last}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["days"], json!([]));
    let mut nothing = figures(0, 0, 0, 0);
    nothing["by_channel"] = json!({});
    assert_eq!(body["totals"], nothing);
}

async fn only_admins_read_it_and_bad_queries_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let ok = format!("lot_id={lot}&from=2022-05-01&to=2022-05-31");

    let reviewer = app.reviewer().await;
    let (status, body) = report(&app, &reviewer, &ok).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let auditor = app.auditor().await;
    assert_eq!(report(&app, &auditor, &ok).await.0, StatusCode::FORBIDDEN);
    app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    assert_eq!(report(&app, &owner, &ok).await.0, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get(&format!("/api/v1/admin/reports/daily-takings?{ok}"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = report(&app, &admin, &ok).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["days"], json!([]));

    for (query, code) in [
        (
            format!("lot_id={lot}&from=2022-13-01&to=2022-05-31"),
            "invalid_date",
        ),
        (
            format!("lot_id={lot}&from=2022-05-01&to=2022-02-30"),
            "invalid_date",
        ),
        (
            format!("lot_id={lot}&from=20220501&to=2022-05-31"),
            "invalid_date",
        ),
        (
            format!("lot_id={lot}&from=2022-05-31&to=2022-05-01"),
            "invalid_date",
        ),
        (format!("lot_id={lot}&to=2022-05-31"), "invalid_query"),
        (format!("lot_id={lot}&from=2022-05-01"), "invalid_query"),
        ("from=2022-05-01&to=2022-05-31".to_string(), "invalid_query"),
        (
            "lot_id=abc&from=2022-05-01&to=2022-05-31".to_string(),
            "invalid_input",
        ),
        (format!("{ok}&after_position=-1"), "invalid_query"),
        (format!("{ok}&after_position=x"), "invalid_query"),
    ] {
        let (status, body) = report(&app, &admin, &query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
    }

    let unknown = uuid::Uuid::new_v4();
    let (status, body) = report(
        &app,
        &admin,
        &format!("lot_id={unknown}&from=2022-05-01&to=2022-05-31"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "no_lot");
}

async fn a_rebuild_of_just_this_projection_gives_the_same_figures(backend: Backend) {
    let app = spawn_app(backend).await;
    let (lot, admin, last) = two_paid_one_refunded(&app).await;
    let query = format!("lot_id={lot}&from=2022-05-01&to=2022-05-31&after_position={last}");
    let (status, before) = report(&app, &admin, &query).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["totals"], online(72000, 2, 36000, 1));

    let read = &app.services.read;
    let others = [
        "cards",
        "review_queue",
        "plate_index",
        "sms_notices",
        "payment_dispatch",
    ];
    let mut generations = Vec::new();
    for name in others {
        generations.push(read.generation(name).await.unwrap());
    }
    let outbox_rows = |app: &TestApp| {
        let db = app.t.store.db.read.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox")
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    // Every projection has seen the whole flow, so nothing else is still enqueueing work.
    for p in read.list().await.unwrap() {
        read.wait_for(&p.name, last, Duration::from_secs(10))
            .await
            .unwrap();
    }
    let outbox_before = outbox_rows(&app).await;

    let generation = read.generation("daily_takings").await.unwrap();
    let next = read.request_rebuild("daily_takings").await.unwrap();
    assert_eq!(next, generation + 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while read.generation("daily_takings").await.unwrap() == generation {
        // The live view keeps answering while the new generation is built.
        let (status, during) = report(&app, &admin, &query).await;
        assert_eq!(status, StatusCode::OK, "{during}");
        assert_eq!(during, before);
        assert!(Instant::now() < deadline, "the rebuild never swapped in");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(read.generation("daily_takings").await.unwrap(), next);

    let (status, after) = report(&app, &admin, &query).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after, before, "the rebuilt view gives the same figures");

    // Only this projection was rebuilt, and nothing new was sent out.
    for (name, generation) in others.into_iter().zip(generations) {
        assert_eq!(read.generation(name).await.unwrap(), generation, "{name}");
    }
    assert_eq!(outbox_rows(&app).await, outbox_before);
    let info = read.list().await.unwrap();
    let takings = info.iter().find(|p| p.name == "daily_takings").unwrap();
    assert!(!takings.rebuilding);
    assert_eq!(takings.generation, next);
    assert!(takings.position >= last);
}

crate::on_both_backends!(
    the_report_shows_each_days_takings_and_refunds_exactly,
    only_admins_read_it_and_bad_queries_are_refused,
    a_rebuild_of_just_this_projection_gives_the_same_figures,
);
