//! The owner's list: removing a card from it and adding it back, and the lot's service phone
//! on the card page and the lot.

use crate::app::{json_of, spawn_app, TestApp, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn set_phone(app: &TestApp, lot: &str, admin: &str, phone: &str) -> (StatusCode, Value) {
    let r = app
        .http
        .put(app.url(&format!("/api/v1/admin/lots/{lot}/service-phone")))
        .bearer_auth(admin)
        .json(&json!({"service_phone": phone}))
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn the_lots_service_phone_is_on_the_lot_and_the_card(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (_, shown) = app.get(&format!("/api/v1/lots/{lot}"), None).await;
    assert_eq!(shown["service_phone"], Value::Null, "{shown}");
    let (permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (status, body) = set_phone(&app, &lot, &admin, " 82805604 ").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, shown) = app.get(&format!("/api/v1/lots/{lot}"), None).await;
    assert_eq!(shown["service_phone"], "82805604");
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let (status, card) = app
        .get(
            &format!(
                "/api/v1/permits/{permit}?after_position={}",
                body["position"]
            ),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["service_phone"], "82805604");
    for bad in ["", "call us", "12", "+"] {
        let (status, body) = set_phone(&app, &lot, &admin, bad).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_service_phone")),
            "{bad:?}"
        );
    }
    let (status, body) =
        set_phone(&app, &uuid::Uuid::new_v4().to_string(), &admin, "82805604").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_lot"))
    );
    let (_, shown) = app.get(&format!("/api/v1/lots/{lot}"), None).await;
    assert_eq!(shown["service_phone"], "82805604", "unchanged by refusals");
}

async fn an_owner_removes_a_card_from_the_list_and_adds_it_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (kept, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (removed, _) = app.card(&admin, &lot, "京A88888", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let ids = |list: &Value| -> Vec<String> {
        list["permits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["permit_id"].as_str().unwrap().to_string())
            .collect()
    };

    let (status, body) = app
        .post(
            &format!("/api/v1/permits/{removed}/hide"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hidden"], true);
    let after = body["position"].as_i64().unwrap();
    let (_, list) = app
        .get(
            &format!("/api/v1/permits?after_position={after}"),
            Some(&owner),
        )
        .await;
    assert_eq!(ids(&list), vec![kept.clone()]);
    let (_, list) = app
        .get("/api/v1/permits?include_hidden=true", Some(&owner))
        .await;
    assert_eq!(ids(&list), vec![kept.clone(), removed.clone()]);
    let (_, card) = app
        .get(&format!("/api/v1/permits/{removed}"), Some(&owner))
        .await;
    assert_eq!(card["hidden"], true, "{card}");

    let (status, body) = app
        .post(
            &format!("/api/v1/permits/{removed}/hide"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_change"))
    );
    // Another owner (with a card of their own) cannot touch it.
    app.card(&admin, &lot, "京A99999", "13800000000").await;
    let stranger = app.login(&lot, "13800000000").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/permits/{kept}/hide"),
            Some(&stranger),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_permit"))
    );

    let (status, body) = app
        .post(
            &format!("/api/v1/permits/{removed}/show"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hidden"], false);
    let (_, list) = app
        .get(
            &format!("/api/v1/permits?after_position={}", body["position"]),
            Some(&owner),
        )
        .await;
    assert_eq!(ids(&list), vec![kept, removed.clone()]);
    let (status, body) = app
        .post(
            &format!("/api/v1/permits/{removed}/show"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_change"))
    );
}

crate::on_both_backends!(
    the_lots_service_phone_is_on_the_lot_and_the_card,
    an_owner_removes_a_card_from_the_list_and_adds_it_back
);
