//! Retention: a campus-card photo is deleted `PERMIT_LEDGER_PHOTO_RETENTION_DAYS` after its
//! renewal was decided (on the business clock), not before, and never while a renewal that
//! holds it is under review; ended sessions, their read-your-writes positions and idempotency
//! keys past their week go too. On both stores.

use crate::app::{jpeg, spawn_app, TestApp, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A JPEG unlike [`jpeg`] and unlike every other `tag`.
fn another_jpeg(tag: u8) -> Vec<u8> {
    let mut j = jpeg();
    let n = j.len();
    j[n - 4] = tag;
    j
}

async fn photo_status(app: &TestApp, reviewer: &str, renewal: &str) -> (StatusCode, Value) {
    let r = app
        .http
        .get(app.url(&format!("/api/v1/review/renewals/{renewal}/photo")))
        .bearer_auth(reviewer)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = if status.is_success() {
        Value::Null
    } else {
        r.json().await.unwrap_or(Value::Null)
    };
    (status, body)
}

async fn move_clock(app: &TestApp, now: &str) {
    let (status, body) = app
        .post("/sandbox/clock", None, json!({ "now": now }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.services.store.db.read)
        .await
        .unwrap()
}

/// Submits with `photo` and pays; returns the renewal id.
async fn paid(app: &TestApp, owner: &str, permit: &str, photo: Vec<u8>) -> String {
    let (status, body) = app
        .submit_with(owner, permit, Some("2022-05"), Some(photo), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewal = body["renewal_id"].as_str().unwrap().to_string();
    app.pay_and_wait(
        owner,
        body["payment"]["order_id"].as_str().unwrap(),
        &renewal,
    )
    .await;
    renewal
}

async fn a_decided_renewals_photo_is_deleted_after_the_retention_period(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let lot = app.lot(&admin).await;
    let (decided_card, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let other_phone = "13800000000";
    let (open_card, _) = app.card(&admin, &lot, "京A88888", other_phone).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let other = app.login(&lot, other_phone).await;

    // 2022-05-20: one renewal approved at once, another paid and left under review.
    let decided = paid(&app, &owner, &decided_card, another_jpeg(1)).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{decided}/approve"),
            Some(&reviewer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open = paid(&app, &other, &open_card, another_jpeg(2)).await;
    assert_eq!(count(&app, "photos").await, 2);

    // A day short of a year after the decision: both photos are kept.
    move_clock(&app, "2023-05-19T02:00:00Z").await;
    let swept = permit_ledger::workers::sweep_retention(&app.services)
        .await
        .unwrap();
    assert_eq!(swept.photos, 0, "{swept:?}");
    assert_eq!(
        photo_status(&app, &reviewer, &decided).await.0,
        StatusCode::OK
    );

    // A year and a day after it: the decided renewal's photo goes; the one under review stays.
    move_clock(&app, "2023-05-21T02:00:00Z").await;
    let swept = permit_ledger::workers::sweep_retention(&app.services)
        .await
        .unwrap();
    assert_eq!(swept.photos, 1, "{swept:?}");
    let (status, body) = photo_status(&app, &reviewer, &decided).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "no_photo", "{body}");
    assert_eq!(photo_status(&app, &reviewer, &open).await.0, StatusCode::OK);
    assert_eq!(count(&app, "photos").await, 1);
    // The renewal itself is unchanged: the ledger and the card keep what was decided.
    let (status, renewal) = app
        .get(&format!("/api/v1/renewals/{decided}"), Some(&owner))
        .await;
    assert_eq!(
        (status, &renewal["status"]),
        (StatusCode::OK, &json!("approved"))
    );
}

async fn ended_sessions_and_old_idempotency_keys_are_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (card, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (other_card, _) = app.card(&admin, &lot, "京A88888", "13800000000").await;
    let kept = app.login(&lot, HOLDER_PHONE).await;
    let ended = app.login(&lot, "13800000000").await;
    // The ending token's own command leaves a read-your-writes position behind.
    let (status, body) = app
        .post(
            &format!("/api/v1/permits/{other_card}/hide"),
            Some(&ended),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let r = app
        .http
        .delete(app.url("/api/v1/sessions/current"))
        .bearer_auth(&ended)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(count(&app, "owner_sessions").await, 2);
    let positions_before = count(&app, "token_positions").await;
    assert!(positions_before >= 1);

    // Two keys: one claimed eight days ago (aged by hand: the real clock cannot move), one now.
    for (key, action) in [("old-key", "hide"), ("new-key", "show")] {
        let r = app
            .http
            .post(app.url(&format!("/api/v1/permits/{card}/{action}")))
            .bearer_auth(&kept)
            .header("Idempotency-Key", key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let aged = (chrono::Utc::now() - chrono::Duration::days(8))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query("UPDATE idempotency_keys SET created_at = $1 WHERE key = 'old-key'")
        .bind(aged)
        .execute(&app.services.store.db.write)
        .await
        .unwrap();

    let swept = permit_ledger::workers::sweep_retention(&app.services)
        .await
        .unwrap();
    assert_eq!(swept.sessions, 1, "{swept:?}");
    assert_eq!(swept.idempotency_keys, 1, "{swept:?}");
    assert!(swept.token_positions >= 1, "{swept:?}");
    assert_eq!(count(&app, "owner_sessions").await, 1);
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys")
        .fetch_all(&app.services.store.db.read)
        .await
        .unwrap();
    assert_eq!(keys, ["new-key"]);
    // The live session still works; the ended one is still refused.
    let (status, _) = app.get("/api/v1/permits", Some(&kept)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/v1/permits", Some(&ended)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

crate::on_both_backends!(
    a_decided_renewals_photo_is_deleted_after_the_retention_period,
    ended_sessions_and_old_idempotency_keys_are_deleted
);
