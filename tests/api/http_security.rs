//! Roles, ownership, code limits and payment notifications under attack, over HTTP.

use crate::app::{spawn_app, spawn_app_with, TestApp, HOLDER_PHONE};
use permit_ledger::payments::{ApiV3Key, Signer};
use permit_ledger::services::Settings;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn card_and_owner(app: &TestApp) -> (String, String, String, String) {
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
    (admin, lot, permit, owner)
}

async fn every_endpoint_checks_its_token_and_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, lot, permit, owner) = card_and_owner(&app).await;
    let reviewer = app.reviewer().await;
    let auditor = app.auditor().await;
    let events = app.event_count().await;

    let lot_body = json!({"name": "x", "product": {"name": "p", "price_fen": 1, "period_months": 12,
        "season_starts": "06-01"}, "consent": {"version": "v", "text": "t"}});
    let cases: Vec<(&str, &str, Option<&str>, Value, StatusCode)> = vec![
        (
            "POST",
            "/api/v1/admin/lots",
            None,
            lot_body.clone(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "POST",
            "/api/v1/admin/lots",
            Some("plt_forged"),
            lot_body.clone(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "POST",
            "/api/v1/admin/lots",
            Some(&reviewer),
            lot_body.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            "POST",
            "/api/v1/admin/lots",
            Some(&auditor),
            lot_body.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            "POST",
            "/api/v1/admin/lots",
            Some(&owner),
            lot_body,
            StatusCode::FORBIDDEN,
        ),
        (
            "GET",
            "/api/v1/review/queue",
            None,
            json!(null),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "GET",
            "/api/v1/review/queue",
            Some(&admin),
            json!(null),
            StatusCode::FORBIDDEN,
        ),
        (
            "GET",
            "/api/v1/review/queue",
            Some(&owner),
            json!(null),
            StatusCode::FORBIDDEN,
        ),
        (
            "GET",
            "/api/v1/review/queue",
            Some(&auditor),
            json!(null),
            StatusCode::FORBIDDEN,
        ),
        (
            "GET",
            "/api/v1/audit/events",
            Some(&reviewer),
            json!(null),
            StatusCode::FORBIDDEN,
        ),
        (
            "GET",
            "/api/v1/audit/events",
            Some(&admin),
            json!(null),
            StatusCode::FORBIDDEN,
        ),
        (
            "GET",
            "/api/v1/audit/events",
            Some(&owner),
            json!(null),
            StatusCode::FORBIDDEN,
        ),
        (
            "GET",
            "/api/v1/permits",
            None,
            json!(null),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "GET",
            "/api/v1/permits",
            Some("pls_forged"),
            json!(null),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "GET",
            "/api/v1/permits",
            Some(&admin),
            json!(null),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (method, path, token, body, expected) in cases {
        let (status, answer) = if method == "GET" {
            app.get(path, token).await
        } else {
            app.post(path, token, body).await
        };
        assert_eq!(status, expected, "{method} {path} with {token:?}: {answer}");
        assert!(answer["error"]["code"].is_string(), "error body: {answer}");
    }
    let approve = format!("/api/v1/review/renewals/{}/approve", uuid::Uuid::new_v4());
    for token in [&admin, &auditor, &owner] {
        let (status, _) = app.post(&approve, Some(token), json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let issue = json!({"lot_id": lot, "plate": "京B12345", "holder_name": "x", "phone": "13800000000",
                       "valid_from": "2021-06-01", "valid_to": "2022-05-31"});
    for token in [&reviewer, &auditor, &owner] {
        let (status, _) = app
            .post("/api/v1/admin/permits", Some(token), issue.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = app
        .get(&format!("/api/v1/permits/{permit}"), Some(&owner))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.event_count().await,
        events,
        "no refused request appended anything"
    );
}

async fn owners_reach_only_their_own_cards_at_their_lot(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, lot, permit, owner) = card_and_owner(&app).await;
    let (status, submitted) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED);
    let renewal = submitted["renewal_id"].as_str().unwrap().to_string();
    app.wait_renewal(&owner, &renewal, "awaiting_payment").await;

    // Another phone at the same lot, with a card of its own.
    let (other_permit, _) = app.card(&admin, &lot, "京B12345", "13800000000").await;
    let intruder = app.login(&lot, "13800000000").await;
    // The same phone at another lot, where it holds another card (after the phone's resend
    // window).
    let lot_b = app.lot(&admin).await;
    let (card_at_b, _) = app.card(&admin, &lot_b, "京C11111", HOLDER_PHONE).await;
    app.services
        .clock
        .set(app.services.clock.now() + chrono::Duration::seconds(61));
    let elsewhere = app.login(&lot_b, HOLDER_PHONE).await;
    let events = app.event_count().await;

    for token in [&intruder, &elsewhere] {
        let (status, body) = app
            .get(&format!("/api/v1/permits/{permit}"), Some(token))
            .await;
        assert_eq!(
            (status, code_of(&body)),
            (StatusCode::NOT_FOUND, "no_permit")
        );
        let (status, _) = app
            .get(&format!("/api/v1/renewals/{renewal}"), Some(token))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for action in ["refund", "cancel"] {
            let (status, _) = app
                .post(
                    &format!("/api/v1/renewals/{renewal}/{action}"),
                    Some(token),
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
        }
        let (status, _) = app.submit(token, &permit).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = app
            .post(
                "/api/v1/vehicles",
                Some(token),
                json!({"plate": "京A66666"}),
            )
            .await;
        assert_eq!(
            (status, code_of(&body)),
            (StatusCode::NOT_FOUND, "no_permit")
        );
    }
    let (_, listed) = app.get("/api/v1/permits", Some(&intruder)).await;
    let ids: Vec<&str> = listed["permits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permit_id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id != permit));
    let _ = other_permit;
    let (_, listed) = app.get("/api/v1/permits", Some(&elsewhere)).await;
    let ids: Vec<&str> = listed["permits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permit_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [card_at_b.as_str()],
        "only the card held at the session's lot"
    );
    assert_eq!(
        app.event_count().await,
        events,
        "nothing appended by the intruders"
    );
}

async fn code_limits_hold_over_http(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let phone = "13700000001";
    app.card(&admin, &lot, "京A10001", phone).await;
    let codes = format!("/api/v1/lots/{lot}/codes");
    let sessions = format!("/api/v1/lots/{lot}/sessions");
    let (status, _) = app.post(&codes, None, json!({"phone": phone})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Resend window.
    let r = app
        .http
        .post(app.url(&codes))
        .json(&json!({"phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (_, body) = crate::app::json_of(r).await;
    assert_eq!(code_of(&body), "resend_too_soon");
    // Wrong guesses: 401 each; the fifth burns the code, so even the right one then fails.
    let right = app.last_code(phone).await;
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let (status, body) = app
            .post(&sessions, None, json!({"phone": phone, "code": wrong}))
            .await;
        assert_eq!(
            (status, code_of(&body)),
            (StatusCode::UNAUTHORIZED, "code_invalid")
        );
    }
    let (status, _) = app
        .post(&sessions, None, json!({"phone": phone, "code": right}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a burned code is refused");
    let (_, inbox) = app.get(&format!("/sandbox/sms?phone={phone}"), None).await;
    assert_eq!(
        inbox["messages"].as_array().unwrap().len(),
        1,
        "one SMS sent so far"
    );

    // The daily limit: ten codes a day, then locked until midnight in Shanghai. (The business
    // clock runs on from where it was set, so step from where it is now: on a busy machine the
    // steps above take seconds.)
    let mut now = app.services.clock.now();
    for _ in 1..10 {
        now += chrono::Duration::seconds(61);
        app.services.clock.set(now);
        let (status, body) = app.post(&codes, None, json!({"phone": phone})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    now += chrono::Duration::seconds(61);
    app.services.clock.set(now);
    let r = app
        .http
        .post(app.url(&codes))
        .json(&json!({"phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let midnight: chrono::DateTime<chrono::Utc> = "2022-05-20T16:00:00Z".parse().unwrap();
    assert!((retry - (midnight - app.services.clock.now()).num_seconds()).abs() <= 2);
    let (_, body) = crate::app::json_of(r).await;
    assert_eq!(code_of(&body), "phone_locked");
    // The latest code still works (the lock is on sending), and codes are never stored in clear.
    let latest = app.last_code(phone).await;
    let stored: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM events WHERE {} LIKE $1",
        if backend == Backend::Postgres {
            "payload::text"
        } else {
            "payload"
        }
    ))
    .bind(format!("%{latest}%"))
    .fetch_one(&app.t.store.db.read)
    .await
    .unwrap();
    assert_eq!(stored, 0, "the code is not in the ledger");
    let (status, _) = app
        .post(&sessions, None, json!({"phone": phone, "code": latest}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // After midnight (Shanghai) codes can be asked for again.
    app.services
        .clock
        .set(midnight + chrono::Duration::seconds(1));
    let (status, _) = app.post(&codes, None, json!({"phone": phone})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

async fn an_address_sending_too_many_code_requests_is_limited(backend: Backend) {
    let settings = Settings {
        codes_per_address: 3,
        ..Settings::default()
    };
    let app = spawn_app_with(backend, settings).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    for i in 0..3 {
        let (status, _) = app
            .post(
                &format!("/api/v1/lots/{lot}/codes"),
                None,
                json!({"phone": format!("1370000010{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, body) = app
        .post(
            &format!("/api/v1/lots/{lot}/codes"),
            None,
            json!({"phone": "13700000109"}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "address_rate_limited")
    );
    let (_, inbox) = app.get("/sandbox/sms?phone=13700000109", None).await;
    assert_eq!(
        inbox["messages"],
        json!([]),
        "no SMS sent to the fourth phone"
    );
}

async fn clients_behind_a_trusted_proxy_are_limited_each_and_a_forged_header_is_ignored(
    backend: Backend,
) {
    // The test client connects from 127.0.0.1: in the first service that is a trusted proxy,
    // in the second it is not.
    let code_request = |app: &crate::app::TestApp, lot: &str, phone: &str, xff: &str| {
        app.http
            .post(app.url(&format!("/api/v1/lots/{lot}/codes")))
            .header("x-forwarded-for", xff)
            .json(&json!({ "phone": phone }))
            .send()
    };
    let settings = Settings {
        codes_per_address: 2,
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..Settings::default()
    };
    let app = spawn_app_with(backend, settings.clone()).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    for (i, client) in ["198.51.100.7", "198.51.100.7", "203.0.113.9", "203.0.113.9"]
        .iter()
        .enumerate()
    {
        let r = code_request(&app, &lot, &format!("1370000020{i}"), client)
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::ACCEPTED,
            "{client}: its own two requests"
        );
    }
    // A client forging the header still counts as the address the proxy saw.
    let r = code_request(&app, &lot, "13700000208", "203.0.113.9, 198.51.100.7")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));

    let untrusted = spawn_app_with(
        backend,
        Settings {
            trusted_proxies: Vec::new(),
            ..settings
        },
    )
    .await;
    let admin = untrusted.admin().await;
    let lot = untrusted.lot(&admin).await;
    for (i, client) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        let r = code_request(&untrusted, &lot, &format!("1370000030{i}"), client)
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let r = code_request(&untrusted, &lot, "13700000309", "198.51.100.3")
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted peer's X-Forwarded-For is ignored: one address, one limit"
    );
}

async fn a_revoked_session_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, _, _, owner) = card_and_owner(&app).await;
    let r = app
        .http
        .delete(app.url("/api/v1/sessions/current"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/permits", Some(&owner)).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}

/// Submits and returns (renewal id, order id) with the renewal visible.
async fn awaiting_payment(app: &TestApp) -> (String, String, String) {
    let (_, _, permit, owner) = card_and_owner(app).await;
    let (status, submitted) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED);
    let renewal = submitted["renewal_id"].as_str().unwrap().to_string();
    app.wait_renewal(&owner, &renewal, "awaiting_payment").await;
    (
        owner,
        renewal,
        submitted["payment"]["order_id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn transaction(order: &str, total: i64) -> Value {
    json!({"mchid": "1900000001", "appid": "wx0000", "out_trade_no": order,
           "transaction_id": "4200000000000000000000000001", "trade_type": "JSAPI",
           "trade_state": "SUCCESS", "success_time": "2022-05-20T10:05:00+08:00",
           "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"}})
}

async fn send_notification(
    app: &TestApp,
    headers: &permit_ledger::payments::NotifyHeaders,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = app
        .http
        .post(app.url("/api/v1/payments/wechat/notify"))
        .header("content-type", "application/json")
        .body(body);
    crate::app::json_of(headers.apply_to(req).send().await.unwrap()).await
}

async fn forged_stale_and_replayed_notifications_change_nothing_and_a_wrong_amount_is_stray(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (owner, renewal, order) = awaiting_payment(&app).await;
    let sandbox = app.services.sandbox_payments.clone().unwrap();
    let events = app.event_count().await;
    let now = chrono::Utc::now();

    // Signed with someone else's key (same serial, same API v3 key is not known to a forger).
    let forger = Signer::new(
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap(),
        sandbox.signer().serial(),
        ApiV3Key::random(),
    );
    let (h, body) = forger.notification("TRANSACTION.SUCCESS", &transaction(&order, 36000), now);
    let (status, answer) = send_notification(&app, &h, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["code"], "FAIL");

    // A genuine notification whose body was changed after signing.
    let (h, mut body) =
        sandbox
            .signer()
            .notification("TRANSACTION.SUCCESS", &transaction(&order, 36000), now);
    body.push(b' ');
    let (status, _) = send_notification(&app, &h, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Stale: signed ten minutes ago.
    let (h, body) = sandbox.signer().notification(
        "TRANSACTION.SUCCESS",
        &transaction(&order, 36000),
        now - chrono::Duration::minutes(10),
    );
    let (status, _) = send_notification(&app, &h, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Missing headers.
    let r = app
        .http
        .post(app.url("/api/v1/payments/wechat/notify"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(
        app.event_count().await,
        events,
        "nothing appended by bad notifications"
    );
    // Genuinely signed but for another amount (another transaction): money is money, so it is
    // acknowledged and recorded as a stray payment (refunded), and the renewal still awaits
    // its own payment.
    let mut wrong = transaction(&order, 1);
    wrong["transaction_id"] = json!("4200000000000000000000000002");
    let (h, body) = sandbox
        .signer()
        .notification("TRANSACTION.SUCCESS", &wrong, now);
    let (status, answer) = send_notification(&app, &h, body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let count = |event_type: &'static str| {
        let db = app.t.store.db.read.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE event_type = $1")
                .bind(event_type)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("StrayPaymentReceived").await, 1);
    // The sandbox provider never saw this order paid (the notification was made here), so it
    // refuses the stray's refund for good: a payment problem for staff, two events more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count("PaymentProblemRaised").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the refused stray refund never became a payment problem"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count("StrayRefundFailed").await, 1);
    let events = events + 3;
    assert_eq!(
        app.event_count().await,
        events,
        "one stray payment recorded, and its refused refund"
    );
    let (_, r) = app
        .get(&format!("/api/v1/renewals/{renewal}"), Some(&owner))
        .await;
    assert_eq!(r["status"], "awaiting_payment");

    // The right one, then the same one replayed: paid once.
    let (h, body) =
        sandbox
            .signer()
            .notification("TRANSACTION.SUCCESS", &transaction(&order, 36000), now);
    let (status, _) = send_notification(&app, &h, body.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after_pay = app.event_count().await;
    assert_eq!(after_pay, events + 1);
    let (status, _) = send_notification(&app, &h, body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a replay is acknowledged");
    assert_eq!(app.event_count().await, after_pay, "and changes nothing");
    app.wait_renewal(&owner, &renewal, "under_review").await;
}

crate::on_both_backends!(
    every_endpoint_checks_its_token_and_role,
    owners_reach_only_their_own_cards_at_their_lot,
    code_limits_hold_over_http,
    an_address_sending_too_many_code_requests_is_limited,
    clients_behind_a_trusted_proxy_are_limited_each_and_a_forged_header_is_ignored,
    a_revoked_session_is_refused,
    forged_stale_and_replayed_notifications_change_nothing_and_a_wrong_amount_is_stray,
);
