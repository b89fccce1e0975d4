//! Commands find what they act on in the ledger (or a lookup written with the append), never in
//! a view: with a view's rows gone, as a stalled or rebuilding projection would not have them,
//! choosing the vehicle and the expiry timer still work. On both stores.

use crate::app::{spawn_app, TestApp, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::json;

/// Deletes the rows of view `base` (every generation's table) where `column = value`.
async fn forget(app: &TestApp, backend: Backend, base: &str, column: &str, value: &str) {
    let tables: Vec<String> = match backend {
        // On SQLite a view over the live generation's table cannot be written: its tables can.
        Backend::Sqlite => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE $1",
        )
        .bind(format!("{base}%"))
        .fetch_all(&app.t.store.db.read)
        .await
        .unwrap(),
        Backend::Postgres => vec![base.to_string()],
    };
    assert!(!tables.is_empty(), "no table for {base}");
    for table in tables {
        sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
            .bind(value)
            .execute(&app.t.store.db.write)
            .await
            .unwrap();
    }
}

async fn choosing_the_vehicle_needs_no_view(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    forget(&app, backend, "plate_index", "permit_id", &permit).await;
    let (status, body) = app
        .post(
            "/api/v1/vehicles",
            Some(&owner),
            json!({"plate": "京A66666"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["plate"], "京A66666");
    // Someone else's plate, or an unbound one, is still no card of theirs.
    let (other, _) = app.card(&admin, &lot, "京B12345", "13800000000").await;
    let _ = other;
    for plate in ["京B12345", "京C99999"] {
        let (status, body) = app
            .post("/api/v1/vehicles", Some(&owner), json!({ "plate": plate }))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("no_permit")),
            "{plate}"
        );
    }
}

async fn an_unpaid_renewal_expires_though_the_view_lost_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let (status, body) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewal = body["renewal_id"].as_str().unwrap().to_string();
    app.wait_renewal(&owner, &renewal, "awaiting_payment").await;
    forget(&app, backend, "renewals", "renewal_id", &renewal).await;
    app.services
        .clock
        .set(app.services.clock.now() + chrono::Duration::hours(3));
    let expired = permit_ledger::workers::expire_due(&app.services)
        .await
        .unwrap();
    assert_eq!(expired, 1, "the timer found the renewal without the view");
    let events: Vec<String> = app
        .t
        .ledger
        .load::<aggregates::permit::Permit>(&permit)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        events.last().map(String::as_str),
        Some("RenewalExpiredUnpaid"),
        "{events:?}"
    );
    // Settled: the next round does nothing.
    assert_eq!(
        permit_ledger::workers::expire_due(&app.services)
            .await
            .unwrap(),
        0
    );
}

crate::on_both_backends!(
    choosing_the_vehicle_needs_no_view,
    an_unpaid_renewal_expires_though_the_view_lost_it,
);
