//! The auditor's replay (`GET /api/v1/audit/permits/{id}/state`) and the owner's card view show
//! each renewal with the same status, channel and times: both take the status from the domain's
//! one status machine. A renewal paid at the desk is in the replay too.

use crate::app::{json_of, spawn_app, TestApp, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The fields the replay and the card view both show for a renewal.
const SHARED: [&str; 10] = [
    "renewal_id",
    "period",
    "amount_fen",
    "channel",
    "status",
    "reject_reason",
    "submitted_at",
    "paid_at",
    "decided_at",
    "refunded_at",
];

/// The shared fields, times to the millisecond (the view keeps milliseconds, the replay shows
/// the event's own instant).
fn shared(renewal: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in SHARED {
        let v = match renewal[k]
            .as_str()
            .map(chrono::DateTime::parse_from_rfc3339)
        {
            Some(Ok(t)) if k.ends_with("_at") => json!(t
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            _ => renewal[k].clone(),
        };
        out.insert(k.to_string(), v);
    }
    Value::Object(out)
}

async fn replayed(app: &TestApp, auditor: &str, permit: &str) -> Value {
    let (status, state) = app
        .get(
            &format!("/api/v1/audit/permits/{permit}/state"),
            Some(auditor),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    state
}

async fn the_replay_shows_every_renewal_as_the_card_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let auditor = app.auditor().await;
    let lot = app.lot(&admin).await;

    // One card: a renewal rejected and refunded, then one cancelled unpaid.
    let (online, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let (status, first) = app.submit(&owner, &online).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let rejected = first["renewal_id"].as_str().unwrap().to_string();
    app.pay_and_wait(
        &owner,
        first["payment"]["order_id"].as_str().unwrap(),
        &rejected,
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{rejected}/reject"),
            Some(&reviewer),
            json!({"reason": "校园卡照片不清晰"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/renewals/{rejected}/refund"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.wait_renewal(&owner, &rejected, "refunded").await;
    let (status, second) = app.submit(&owner, &online).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let cancelled = second["renewal_id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/renewals/{cancelled}/cancel"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");

    // Another card, renewed at the desk (approved at once).
    let other_phone = "13800000000";
    let (desk, _) = app.card(&admin, &lot, "京A88888", other_phone).await;
    let r = app
        .http
        .post(app.url(&format!("/api/v1/admin/permits/{desk}/renewals")))
        .bearer_auth(&admin)
        .json(&json!({"method": "cash", "receipt_no": "BY-0042", "amount_fen": 36000}))
        .send()
        .await
        .unwrap();
    let (status, paid) = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    let other = app.login(&lot, other_phone).await;

    for (permit, token, statuses) in [
        (&online, &owner, vec!["refunded", "cancelled"]),
        (&desk, &other, vec!["approved"]),
    ] {
        let head = app.services.store.log.head().await.unwrap();
        let (status, card) = app
            .get(
                &format!("/api/v1/permits/{permit}?after_position={head}"),
                Some(token),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{card}");
        let state = replayed(&app, &auditor, permit).await;
        let shown: Vec<Value> = card["renewals"]
            .as_array()
            .unwrap()
            .iter()
            .map(shared)
            .collect();
        let replay: Vec<Value> = state["renewals"]
            .as_array()
            .unwrap()
            .iter()
            .map(shared)
            .collect();
        let by_time = |rs: &[Value]| {
            let mut rs = rs.to_vec();
            rs.sort_by_key(|r| r["submitted_at"].as_str().unwrap_or_default().to_string());
            rs
        };
        let (shown, replay) = (by_time(&shown), by_time(&replay));
        assert_eq!(replay, shown, "replay vs card for {permit}");
        let got: Vec<&str> = replay
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(got, statuses, "{state}");
    }
    let state = replayed(&app, &auditor, &desk).await;
    assert_eq!(state["renewals"][0]["channel"], "cash", "{state}");
    assert_eq!(
        state["renewals"][0]["renewal_id"], paid["renewal_id"],
        "{state}"
    );
}

crate::on_both_backends!(the_replay_shows_every_renewal_as_the_card_does);
