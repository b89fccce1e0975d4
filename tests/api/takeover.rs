//! Takeover after kill -9: the projections' claims die with their holder, so a restarted (or
//! surviving) instance serves its reads at once, not after a lease runs out; on both stores.

use crate::faults::{call, staff, start, Server};
use crate::helpers::TestStore;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn new_lot(http: &reqwest::Client, base: &str, admin: &str) -> (String, i64) {
    let (status, lot) = call(http, "POST", format!("{base}/api/v1/admin/lots"), Some(admin), json!({
        "name": "北京大学医学部",
        "product": {"name": "北京大学医学部通行证", "price_fen": 36000, "period_months": 12, "season_starts": "06-01"},
        "consent": {"version": "2022-05", "text": "通过审核后则无法再次申请"}})).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{lot}");
    (
        lot["lot_id"].as_str().unwrap().to_string(),
        lot["position"].as_i64().unwrap(),
    )
}

async fn new_card(http: &reqwest::Client, base: &str, admin: &str, lot: &str) -> i64 {
    let (status, card) = call(
        http,
        "POST",
        format!("{base}/api/v1/admin/permits"),
        Some(admin),
        json!({"lot_id": lot, "plate": "京A66666", "holder_name": "王老师", "phone": "13912345678",
               "valid_from": "2021-06-01", "valid_to": "2022-05-31"}),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{card}");
    card["position"].as_i64().unwrap()
}

/// The review queue read at `position` (bounded wait); its status and body.
async fn queue_at(
    http: &reqwest::Client,
    base: &str,
    reviewer: &str,
    position: i64,
) -> (StatusCode, Value) {
    call(
        http,
        "GET",
        format!("{base}/api/v1/review/queue?after_position={position}"),
        Some(reviewer),
        json!(null),
    )
    .await
    .unwrap()
}

fn kill(mut server: Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// A restart after kill -9 reads its views at once: the first read at the last acknowledged
/// position answers within about a second of the service saying where it listens.
async fn a_restart_after_kill_9_reads_at_once(t: TestStore) {
    let http = http();
    let admin = staff(&t, "admin");
    let reviewer = staff(&t, "reviewer");
    let server = start(&t);
    let (lot, _) = new_lot(&http, &server.base, &admin).await;
    let position = new_card(&http, &server.base, &admin, &lot).await;
    let (status, _) = queue_at(&http, &server.base, &reviewer, position).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the running service reads its write"
    );
    kill(server);

    let server = start(&t);
    let ready = Instant::now();
    let (status, body) = queue_at(&http, &server.base, &reviewer, position).await;
    let took = ready.elapsed();
    eprintln!("first read after the restart answered in {took:?}");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        took < Duration::from_millis(1500),
        "the restarted service waited {took:?} for the dead one's claims"
    );
}

/// Two instances on one store; the one running the projections is killed; the survivor takes
/// them over at once and serves a read of its own write within about a second and a half.
async fn a_surviving_instance_takes_over_the_projections_of_a_killed_one(t: TestStore) {
    let http = http();
    let admin = staff(&t, "admin");
    let reviewer = staff(&t, "reviewer");
    let first = start(&t);
    let (lot, at) = new_lot(&http, &first.base, &admin).await;
    // The first instance has applied the lot: it holds the claims.
    assert_eq!(
        queue_at(&http, &first.base, &reviewer, at).await.0,
        StatusCode::OK
    );
    let second = start(&t);
    assert_eq!(
        queue_at(&http, &second.base, &reviewer, at).await.0,
        StatusCode::OK
    );
    kill(first);

    let killed = Instant::now();
    let position = new_card(&http, &second.base, &admin, &lot).await;
    let (status, body) = queue_at(&http, &second.base, &reviewer, position).await;
    let took = killed.elapsed();
    eprintln!("the survivor read its write {took:?} after the kill");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        took < Duration::from_millis(2500),
        "the survivor waited {took:?} to take the projections over"
    );
    drop(second);
}

crate::on_both_stores!(
    a_restart_after_kill_9_reads_at_once,
    a_surviving_instance_takes_over_the_projections_of_a_killed_one,
);
