//! Session consistency: a token's read right after its own command shows the command's effect,
//! with no `after_position`, on both stores (api.md § Conventions).

use crate::app::spawn_app;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::json;

async fn every_read_after_its_own_command_shows_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let lot = app.lot(&admin).await;
    let mut stale = Vec::new();
    for round in 0..12 {
        let phone = format!("1370000{:04}", 6000 + round);
        // The desk's card, then the owner's reads and writes, each read straight after.
        let (status, issued) = app
            .post(
                "/api/v1/admin/permits",
                Some(&admin),
                json!({"lot_id": lot, "plate": format!("京A6{round:04}"), "holder_name": "王老师",
                       "phone": phone, "valid_from": "2021-06-01", "valid_to": "2022-05-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        let permit = issued["permit_id"].as_str().unwrap().to_string();
        let owner = app.login(&lot, &phone).await;
        let (status, submitted) = app.submit(&owner, &permit).await;
        assert_eq!(status, StatusCode::CREATED, "{submitted}");
        let renewal = submitted["renewal_id"].as_str().unwrap().to_string();
        let (status, body) = app
            .get(&format!("/api/v1/renewals/{renewal}"), Some(&owner))
            .await;
        if status != StatusCode::OK || body["status"] != "awaiting_payment" {
            stale.push(format!("round {round}: after submit {status} {body}"));
        }
        let order = submitted["payment"]["order_id"].as_str().unwrap();
        app.pay_and_wait(&owner, order, &renewal).await;
        let (status, body) = app
            .post(
                &format!("/api/v1/review/renewals/{renewal}/approve"),
                Some(&reviewer),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, queue) = app.get("/api/v1/review/queue", Some(&reviewer)).await;
        if queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["renewal_id"] == renewal.as_str())
        {
            stale.push(format!("round {round}: approved but still queued"));
        }
    }
    assert!(stale.is_empty(), "stale own reads: {stale:#?}");
}

crate::on_both_backends!(every_read_after_its_own_command_shows_it);
