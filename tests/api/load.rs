//! Load and outages: many concurrent owners and reviewers (no lost update, no double approval,
//! bounded latency), and the database going away under load (not ready, then recovered, with
//! nothing acknowledged lost). Kept short for CI.

use crate::app::{json_of, spawn_app, TestApp, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

async fn paid_renewal(app: &TestApp) -> (String, String, String) {
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit, position) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let _ = app
        .get(
            &format!("/api/v1/permits?after_position={position}"),
            Some(&owner),
        )
        .await;
    let (status, submitted) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED);
    let renewal = submitted["renewal_id"].as_str().unwrap().to_string();
    let order = submitted["payment"]["order_id"].as_str().unwrap();
    app.wait_renewal(&owner, &renewal, "awaiting_payment").await;
    app.pay_and_wait(&owner, order, &renewal).await;
    (owner, permit, renewal)
}

async fn reviewers_racing_on_one_renewal_decide_it_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, permit, renewal) = paid_renewal(&app).await;
    let mut reviewers = Vec::new();
    for _ in 0..4 {
        reviewers.push(app.reviewer().await);
    }
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (http, base, token, renewal) = (
            app.http.clone(),
            app.base.clone(),
            reviewers[i % 4].clone(),
            renewal.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (path, body) = if i % 2 == 0 {
                ("approve", json!({}))
            } else {
                ("reject", json!({"reason": "照片不清晰"}))
            };
            let r = http
                .post(format!("{base}/api/v1/review/renewals/{renewal}/{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            json_of(r).await
        }));
    }
    let mut decided = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::OK => decided += 1,
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "invalid_transition"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(decided, 1, "exactly one decision");
    // Owners racing to renew one card: one renewal opens (after the decision and refund rules).
    let (_, card) = app
        .get(&format!("/api/v1/permits/{permit}"), Some(&owner))
        .await;
    let decisions = card["renewals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "approved" || r["status"] == "rejected")
        .count();
    assert!(decisions <= 1);
}

async fn many_owners_renew_at_once_with_bounded_latency(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    const OWNERS: usize = 16;
    let mut owners = Vec::new();
    let mut last = 0;
    for n in 0..OWNERS {
        let phone = format!("1360000{n:04}");
        let (permit, position) = app.card(&admin, &lot, &format!("京B{n:05}"), &phone).await;
        last = position;
        let token = app.login(&lot, &phone).await;
        owners.push((token, permit));
    }
    let _ = app
        .get(
            &format!("/api/v1/permits?after_position={last}"),
            Some(&owners[0].0),
        )
        .await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (token, permit) in owners.clone() {
        let (http, base) = (app.http.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in 0..2 {
                // Two devices of the same owner submit at once: one renewal opens.
                let form = || {
                    reqwest::multipart::Form::new()
                        .text("consent_version", "2022-05")
                        .part("photo", reqwest::multipart::Part::bytes(crate::app::jpeg()))
                };
                let t0 = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/permits/{permit}/renewals"))
                    .bearer_auth(&token)
                    .multipart(form())
                    .send()
                    .await
                    .unwrap();
                latencies.push(t0.elapsed());
                let (status, body) = json_of(r).await;
                assert!(
                    status == StatusCode::CREATED
                        || (status == StatusCode::CONFLICT
                            && body["error"]["code"] == "renewal_open"),
                    "{status} {body}"
                );
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    eprintln!(
        "{} submissions in {:?}, p99 {:?}",
        latencies.len(),
        started.elapsed(),
        p99
    );
    assert!(p99 < Duration::from_secs(5), "p99 {p99:?}");
    // Exactly one open renewal per card: no lost update, no double submission.
    for (token, permit) in &owners {
        let mut open = 0;
        for _ in 0..100 {
            let (_, card) = app
                .get(&format!("/api/v1/permits/{permit}"), Some(token))
                .await;
            open = card["renewals"].as_array().map_or(0, Vec::len);
            if open == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(open, 1, "one renewal per card");
    }
}

/// The database refuses connections for a while under load: the service reports not ready,
/// answers 503 (never 500), recovers by itself, and loses nothing it acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_going_away_under_load_is_survived() {
    let app = spawn_app(Backend::Postgres).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let db_url = app.t.pg.as_ref().unwrap().url.clone();
    let db_name = db_url.rsplit('/').next().unwrap().to_string();
    let admin_pool = sqlx::PgPool::connect(&crate::helpers::admin_url())
        .await
        .unwrap();

    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (http, base, admin, lot, acked, stop) = (
            app.http.clone(),
            app.base.clone(),
            admin.clone(),
            lot.clone(),
            acked.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            let mut server_errors = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let r = http
                    .post(format!("{base}/api/v1/admin/permits"))
                    .bearer_auth(&admin)
                    .json(
                        &json!({"lot_id": lot, "plate": format!("京C{:01}{:04}", w, n),
                        "holder_name": "王老师", "phone": "13912345678",
                        "valid_from": "2021-06-01", "valid_to": "2022-05-31"}),
                    )
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await;
                let Ok(r) = r else { continue };
                let (status, body) = json_of(r).await;
                if status == StatusCode::CREATED {
                    acked
                        .lock()
                        .unwrap()
                        .push(body["permit_id"].as_str().unwrap().to_string());
                } else if status.is_server_error() {
                    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
                    server_errors += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            server_errors
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The outage: no new connections, every existing one cut.
    sqlx::query(&format!(
        r#"ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS false"#
    ))
    .execute(&admin_pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&db_name)
        .execute(&admin_pool)
        .await
        .unwrap();
    let mut not_ready = false;
    for _ in 0..100 {
        let r = app.http.get(app.url("/readyz")).send().await.unwrap();
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(not_ready, "the service reports not ready during the outage");
    tokio::time::sleep(Duration::from_secs(1)).await;
    sqlx::query(&format!(
        r#"ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS true"#
    ))
    .execute(&admin_pool)
    .await
    .unwrap();
    let mut ready = false;
    for _ in 0..200 {
        if app
            .http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::OK
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the service recovers by itself");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut errors = 0;
    for w in writers {
        errors += w.await.unwrap();
    }
    eprintln!(
        "{} issues acknowledged, {errors} answered 503 during the outage",
        acked.lock().unwrap().len()
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'PermitIssued'")
            .fetch_one(&app.t.store.db.read)
            .await
            .unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(stored >= acked.len() as i64);
    for permit in &acked {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_type = 'permit' AND aggregate_id = $1",
        )
        .bind(permit)
        .fetch_one(&app.t.store.db.read)
        .await
        .unwrap();
        assert_eq!(n, 1, "acknowledged permit {permit} is in the ledger");
    }
    // The projections catch up again.
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(&app.t.store.db.read)
        .await
        .unwrap();
    app.services
        .read
        .wait_for("cards", head, Duration::from_secs(30))
        .await
        .expect("the views catch up after the outage");
}

crate::on_both_backends!(
    reviewers_racing_on_one_renewal_decide_it_once,
    many_owners_renew_at_once_with_bounded_latency,
);
