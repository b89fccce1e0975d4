//! Reminders before a card ends, driven by the business clock: 30 and 7 days before, once
//! each, none while a renewal is under way.

use crate::app::{spawn_app_with, TestApp, HOLDER_PHONE};
use permit_ledger::services::Settings;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// The reminders the phone has received.
async fn reminders(app: &TestApp, phone: &str) -> Vec<String> {
    let (_, inbox) = app.get(&format!("/sandbox/sms?phone={phone}"), None).await;
    inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .filter(|t| t.contains("到期"))
        .map(str::to_string)
        .collect()
}

async fn wait_for_reminders(app: &TestApp, phone: &str, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = reminders(app, phone).await;
        if got.len() >= n {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} reminder(s) expected, got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_holder_is_reminded_30_and_7_days_before_the_end_once_each(backend: Backend) {
    let settings = Settings {
        reminder_days: vec![30, 7],
        reminder_every: Duration::from_millis(50),
        ..Settings::default()
    };
    let app = spawn_app_with(backend, settings).await;
    // 2022-04-20: the card (to 2022-05-31) is 41 days from its end.
    let (status, _) = app
        .post(
            "/sandbox/clock",
            None,
            json!({"now": "2022-04-20T02:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    // A second holder whose renewal is under way is not reminded.
    let other = "13800000000";
    let (busy, _) = app.card(&admin, &lot, "京A88888", other).await;
    let owner = app.login(&lot, other).await;
    let (status, body) = app.submit(&owner, &busy).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Paid, so under review (an unpaid one would close when the clock moves on).
    app.pay_and_wait(
        &owner,
        body["payment"]["order_id"].as_str().unwrap(),
        body["renewal_id"].as_str().unwrap(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(reminders(&app, HOLDER_PHONE).await.is_empty());

    // 30 days before.
    app.post(
        "/sandbox/clock",
        None,
        json!({"now": "2022-05-01T02:00:00Z"}),
    )
    .await;
    let got = wait_for_reminders(&app, HOLDER_PHONE, 1).await;
    assert!(
        got[0].contains("京A66666") && got[0].contains("2022-05-31"),
        "{got:?}"
    );
    // Once: the worker runs every 50 ms.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders(&app, HOLDER_PHONE).await.len(), 1);

    // 7 days before, and only that one.
    app.post(
        "/sandbox/clock",
        None,
        json!({"now": "2022-05-24T02:00:00Z"}),
    )
    .await;
    wait_for_reminders(&app, HOLDER_PHONE, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders(&app, HOLDER_PHONE).await.len(), 2);
    assert!(reminders(&app, other).await.is_empty());
}

crate::on_both_backends!(the_holder_is_reminded_30_and_7_days_before_the_end_once_each);
