//! Renewals paid at the desk (注意事项 1), over HTTP on both stores: approved at once for the
//! season an online renewal would buy, with the desk's method as the channel, under the same
//! rules (lot's price, no re-application after approval, refund before retry, one open at a
//! time), receipt numbers used once per lot, an idempotent retry, and daily takings by channel.

use crate::app::{spawn_app, TestApp, HOLDER_PHONE};
use crate::daily_takings::{figures, report};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn desk(
    app: &TestApp,
    admin: &str,
    permit_id: &str,
    key: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = app
        .http
        .post(app.url(&format!("/api/v1/admin/permits/{permit_id}/renewals")))
        .bearer_auth(admin)
        .json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    crate::app::json_of(req.send().await.unwrap()).await
}

fn cash(receipt_no: &str) -> Value {
    json!({"method": "cash", "receipt_no": receipt_no, "amount_fen": 36000})
}

async fn a_desk_renewal_is_approved_at_once_and_shows_its_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit_id, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (status, first) = desk(&app, &admin, &permit_id, Some("desk-1"), cash("BY-0042")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "approved");
    assert_eq!(
        first["period"],
        json!({"from": "2022-06-01", "to": "2023-05-31"}),
        "the season an online renewal on the manual's day buys"
    );
    // Retried with the same key: the first answer, nothing done twice.
    let (status, again) = desk(&app, &admin, &permit_id, Some("desk-1"), cash("BY-0042")).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    let (status, body) = desk(&app, &admin, &permit_id, Some("desk-1"), cash("BY-0043")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");

    let owner = app.login(&lot, HOLDER_PHONE).await;
    let position = first["position"].as_i64().unwrap();
    let (status, card) = app
        .get(
            &format!("/api/v1/permits/{permit_id}?after_position={position}"),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(
        (card["valid_from"].as_str(), card["valid_to"].as_str()),
        (Some("2022-06-01"), Some("2023-05-31"))
    );
    let renewals = card["renewals"].as_array().unwrap();
    assert_eq!(renewals.len(), 1, "renewed once: {card}");
    let renewal = &renewals[0];
    assert_eq!(renewal["renewal_id"], first["renewal_id"]);
    assert_eq!(renewal["channel"], "cash");
    assert_eq!(renewal["status"], "approved");
    assert_eq!(renewal["amount_fen"], 36000);
    assert_eq!(renewal["order_id"], Value::Null, "no payment order");
    assert_eq!(renewal["photo"], Value::Null);

    // No re-application after approval: the seasons on sale are covered, online and at the desk.
    let (status, body) = desk(&app, &admin, &permit_id, None, cash("BY-0044")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_approved");
    let (status, body) = app.submit(&owner, &permit_id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_approved");
}

async fn the_desk_refuses_bad_input_and_a_used_receipt(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let lot = app.lot(&admin).await;
    let (permit_id, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (other_id, _) = app.card(&admin, &lot, "京B12345", "13800000000").await;
    let bad = [
        (
            json!({"method": "alipay", "receipt_no": "BY-1", "amount_fen": 36000}),
            StatusCode::BAD_REQUEST,
            "invalid_method",
        ),
        (
            json!({"method": "cash", "receipt_no": " ", "amount_fen": 36000}),
            StatusCode::BAD_REQUEST,
            "receipt_required",
        ),
        (
            json!({"method": "cash", "amount_fen": 36000}),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            json!({"method": "card", "receipt_no": "BY-1", "amount_fen": "360"}),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            json!({"method": "transfer", "receipt_no": "BY-1", "amount_fen": 30000}),
            StatusCode::CONFLICT,
            "amount_mismatch",
        ),
    ];
    let before = app.event_count().await;
    for (body, status, code) in bad {
        let (got, answer) = desk(&app, &admin, &permit_id, None, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let (status, body) = desk(&app, &admin, "not-a-permit", None, cash("BY-1")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_permit"))
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) = desk(&app, &admin, &unknown, None, cash("BY-1")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_permit"))
    );
    let (status, _) = desk(&app, &reviewer, &permit_id, None, cash("BY-1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, before, "nothing written");

    // A refused renewal does not use up its receipt; a recorded one does, at this lot.
    let (status, body) = desk(&app, &admin, &permit_id, None, cash("BY-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = desk(&app, &admin, &other_id, None, cash(" BY-1 ")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "receipt_used");
    let (status, body) = desk(&app, &admin, &other_id, None, cash("BY-2")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn the_desk_follows_the_online_renewals_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit_id, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    // An online renewal awaits payment: one open at a time.
    let (status, body) = app.submit(&owner, &permit_id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewal = body["renewal_id"].as_str().unwrap().to_string();
    let order = body["payment"]["order_id"].as_str().unwrap().to_string();
    let (status, body) = desk(&app, &admin, &permit_id, None, cash("BY-7")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "renewal_open");
    // Paid and rejected: the money must go back before the desk renews (注意事项 2).
    app.pay_and_wait(&owner, &order, &renewal).await;
    let reviewer = app.reviewer().await;
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/reject"),
            Some(&reviewer),
            json!({"reason": "照片不清晰"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = desk(&app, &admin, &permit_id, None, cash("BY-7")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "refund_required");
}

async fn daily_takings_show_desk_and_online_money_by_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (online_permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (cash_permit, _) = app.card(&admin, &lot, "京B12345", "13800000000").await;
    let (card_permit, _) = app.card(&admin, &lot, "京C54321", "13700000000").await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let (status, body) = app.submit(&owner, &online_permit).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewal = body["renewal_id"].as_str().unwrap().to_string();
    let order = body["payment"]["order_id"].as_str().unwrap().to_string();
    app.pay_and_wait(&owner, &order, &renewal).await;
    let (status, _) = desk(&app, &admin, &cash_permit, None, cash("BY-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    let by_card = json!({"method": "card", "receipt_no": "POS-88", "amount_fen": 36000});
    let (status, body) = desk(&app, &admin, &card_permit, None, by_card).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let position = body["position"].as_i64().unwrap();

    let (status, body) = report(
        &app,
        &admin,
        &format!("lot_id={lot}&from=2022-05-20&to=2022-05-20&after_position={position}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = figures(108000, 3, 0, 0);
    expected["by_channel"] = json!({
        "card": figures(36000, 1, 0, 0),
        "cash": figures(36000, 1, 0, 0),
        "wechat_pay": figures(36000, 1, 0, 0),
    });
    assert_eq!(body["totals"], expected);
    expected["day"] = json!("2022-05-20");
    assert_eq!(body["days"], json!([expected]));
}

crate::on_both_backends!(
    a_desk_renewal_is_approved_at_once_and_shows_its_channel,
    the_desk_refuses_bad_input_and_a_used_receipt,
    the_desk_follows_the_online_renewals_rules,
    daily_takings_show_desk_and_online_money_by_channel,
);
