//! The manual's flows over HTTP, exactly as api.md says, on both stores.

use crate::app::{spawn_app, TestApp, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn owner_with_card(app: &TestApp) -> (String, String, String) {
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit, position) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    // The desk's card is visible to its holder once the view has it.
    let (status, _) = app
        .get(
            &format!("/api/v1/permits?after_position={position}"),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    (lot, permit, owner)
}

async fn submit_ok(app: &TestApp, owner: &str, permit: &str) -> (String, String) {
    let (status, body) = app.submit(owner, permit).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["renewal_id"].as_str().unwrap().to_string(),
        body["payment"]["order_id"].as_str().unwrap().to_string(),
    )
}

async fn sms_texts(app: &TestApp, phone: &str) -> Vec<String> {
    let (_, inbox) = app.get(&format!("/sandbox/sms?phone={phone}"), None).await;
    inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_sms(app: &TestApp, phone: &str, needle: &str) -> Vec<String> {
    for _ in 0..200 {
        let texts = sms_texts(app, phone).await;
        if texts.iter().any(|t| t.contains(needle)) {
            return texts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "no SMS containing {needle}: {:?}",
        sms_texts(app, phone).await
    );
}

async fn the_manuals_happy_path_with_its_dates(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;

    // Step 2: choosing the vehicle shows the card, valid 2021-06-01 to 2022-05-31, active.
    let (status, chosen) = app
        .post(
            "/api/v1/vehicles",
            Some(&owner),
            json!({"plate": "京a 66666"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{chosen}");
    assert_eq!(chosen["plate"], "京A66666");
    let card = &chosen["permits"][0];
    assert_eq!(card["permit_id"], permit.as_str());
    assert_eq!(card["valid_from"], "2021-06-01");
    assert_eq!(card["valid_to"], "2022-05-31");
    assert_eq!(card["status"], "active");
    assert_eq!(card["holder_name"], "王老师");
    assert_eq!(card["phone_masked"], "139****5678");
    assert!(
        card.get("phone").is_none(),
        "owners never see the whole phone"
    );

    // Steps 3–4: the renewal proposes the next season at ¥360.00.
    let (status, submitted) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    assert_eq!(
        submitted["period"],
        json!({"from": "2022-06-01", "to": "2023-05-31"})
    );
    assert_eq!(submitted["amount_fen"], 36000);
    assert_eq!(submitted["status"], "awaiting_payment");
    assert!(submitted["position"].as_i64().unwrap() > 0);
    let renewal = submitted["renewal_id"].as_str().unwrap();
    let order = submitted["payment"]["order_id"].as_str().unwrap();

    // Step 5: WeChat Pay; the provider calls back; the renewal is under review.
    let paid = app.pay_and_wait(&owner, order, renewal).await;
    assert_eq!(paid["channel"], "wechat_pay");
    assert!(paid["paid_at"].is_string());

    // The reviewer sees it in the queue, with the photo.
    let reviewer = app.reviewer().await;
    let (status, queue) = app.get("/api/v1/review/queue", Some(&reviewer)).await;
    assert_eq!(status, StatusCode::OK);
    let item = &queue["items"][0];
    assert_eq!(item["renewal_id"], renewal);
    assert_eq!(item["plate"], "京A66666");
    assert_eq!(
        item["period"],
        json!({"from": "2022-06-01", "to": "2023-05-31"})
    );
    // Paid a moment ago on the business clock: it has waited (next to) nothing, well within the
    // one-day target.
    let waited = item["waited_s"].as_i64().unwrap();
    assert!((0..=60).contains(&waited), "{waited}");
    assert_eq!(item["overdue"], false);
    let (status, detail) = app
        .get(
            &format!("/api/v1/review/renewals/{renewal}"),
            Some(&reviewer),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        detail["permit"]["phone"], HOLDER_PHONE,
        "reviewers see the whole phone"
    );
    assert!(detail["history"].as_array().unwrap().len() >= 3);
    let photo = app
        .http
        .get(app.url(&format!("/api/v1/review/renewals/{renewal}/photo")))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    let bytes = photo.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "EXIF stripped on upload"
    );

    // Step 6: approval; SMS; the card shows the new period.
    let (status, approved) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/approve"),
            Some(&reviewer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");
    let at = approved["position"].as_i64().unwrap();
    let (_, card) = app
        .get(
            &format!("/api/v1/permits/{permit}?after_position={at}"),
            Some(&owner),
        )
        .await;
    assert_eq!(card["valid_from"], "2022-06-01");
    assert_eq!(card["valid_to"], "2023-05-31");
    assert_eq!(card["status"], "active");
    assert_eq!(card["renewals"][0]["status"], "approved");
    wait_sms(&app, HOLDER_PHONE, "已通过审核").await;

    // No re-application after approval.
    let (status, again) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again["error"]["code"], "already_approved");
}

async fn the_rejection_path_refunds_before_a_retry(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;
    let (renewal, order) = submit_ok(&app, &owner, &permit).await;
    app.pay_and_wait(&owner, &order, &renewal).await;

    let reviewer = app.reviewer().await;
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/reject"),
            Some(&reviewer),
            json!({"reason": "校园卡照片不清晰"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let at = body["position"].as_i64().unwrap();
    let (_, card) = app
        .get(
            &format!("/api/v1/permits/{permit}?after_position={at}"),
            Some(&owner),
        )
        .await;
    assert_eq!(card["valid_to"], "2022-05-31", "the card stays as it was");
    assert_eq!(card["status"], "active");
    assert_eq!(card["renewals"][0]["status"], "rejected");
    assert_eq!(card["renewals"][0]["reject_reason"], "校园卡照片不清晰");
    wait_sms(&app, HOLDER_PHONE, "未通过审核").await;

    // A new renewal is refused until the rejected payment is refunded.
    let (status, refused) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["error"]["code"], "refund_required");

    let (status, body) = app
        .post(
            &format!("/api/v1/renewals/{renewal}/refund"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "refund_requested");
    let (status, twice) = app
        .post(
            &format!("/api/v1/renewals/{renewal}/refund"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "refund once: {twice}");

    // The provider reports the refund done within a few seconds.
    let refunded = app.wait_renewal(&owner, &renewal, "refunded").await;
    assert!(refunded["refunded_at"].is_string());
    wait_sms(&app, HOLDER_PHONE, "退款").await;

    // Now a new renewal is accepted, for the same season.
    let (status, retry) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED, "{retry}");
    assert_eq!(
        retry["period"],
        json!({"from": "2022-06-01", "to": "2023-05-31"})
    );
}

async fn every_refused_transition_answers_its_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;
    let reviewer = app.reviewer().await;
    let (renewal, order) = submit_ok(&app, &owner, &permit).await;
    let _ = app
        .get(
            &format!("/api/v1/renewals/{renewal}?after_position=1"),
            Some(&owner),
        )
        .await;

    // One open renewal at a time.
    let (status, body) = app.submit(&owner, &permit).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("renewal_open"))
    );
    // Review only a paid renewal.
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/approve"),
            Some(&reviewer),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("invalid_transition"))
    );
    // Refund only a rejected, paid renewal.
    let (status, body) = app
        .post(
            &format!("/api/v1/renewals/{renewal}/refund"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("invalid_transition"))
    );
    // A reject needs a reason.
    app.pay_and_wait(&owner, &order, &renewal).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/reject"),
            Some(&reviewer),
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("reason_required"))
    );
    // Cancel only an unpaid renewal.
    let (status, body) = app
        .post(
            &format!("/api/v1/renewals/{renewal}/cancel"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("invalid_transition"))
    );
    // Paying again is refused by the provider as WeChat Pay does.
    let (status, body) = app
        .post(&format!("/sandbox/payments/{order}/pay"), None, json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("already_paid"))
    );
    // Decide once.
    let (status, _) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/approve"),
            Some(&reviewer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/reject"),
            Some(&reviewer),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("invalid_transition"))
    );
}

async fn an_unpaid_renewal_closes_when_its_window_ends_and_can_be_cancelled(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;
    let (renewal, _order) = submit_ok(&app, &owner, &permit).await;
    app.wait_renewal(&owner, &renewal, "awaiting_payment").await;
    // Two hours and a minute later on the business clock.
    let (status, _) = app
        .post(
            "/sandbox/clock",
            None,
            json!({"now": "2022-05-20T04:01:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    permit_ledger::workers::expire_due(&app.services)
        .await
        .unwrap();
    app.wait_renewal(&owner, &renewal, "expired_unpaid").await;
    // The card is free again; a new one can be cancelled before paying.
    let (renewal2, _) = submit_ok(&app, &owner, &permit).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/renewals/{renewal2}/cancel"),
            Some(&owner),
            json!({}),
        )
        .await;
    if status == StatusCode::NOT_FOUND {
        // The view had not caught up with the submission yet: wait and retry once.
        app.wait_renewal(&owner, &renewal2, "awaiting_payment")
            .await;
        let (status, body) = app
            .post(
                &format!("/api/v1/renewals/{renewal2}/cancel"),
                Some(&owner),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    } else {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.wait_renewal(&owner, &renewal2, "cancelled").await;
}

async fn an_idempotency_key_replays_the_first_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;
    let photo = crate::app::jpeg();
    let first = app
        .submit_with(
            &owner,
            &permit,
            Some("2022-05"),
            Some(photo.clone()),
            Some("k-1"),
        )
        .await;
    assert_eq!(first.0, StatusCode::CREATED);
    let events = app.event_count().await;
    let replay = app
        .submit_with(
            &owner,
            &permit,
            Some("2022-05"),
            Some(photo.clone()),
            Some("k-1"),
        )
        .await;
    assert_eq!(replay, first, "same key, same request: the first answer");
    assert_eq!(
        app.event_count().await,
        events,
        "nothing appended by the replay"
    );
    let mut other = photo;
    other.push(0);
    let (status, body) = app
        .submit_with(&owner, &permit, Some("2022-05"), Some(other), Some("k-1"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
}

async fn eight_submissions_with_one_key_at_once_make_one_renewal_and_seven_replays(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;
    let photo = crate::app::jpeg();
    let events = app.event_count().await;
    let answers = futures::future::join_all((0..8).map(|_| {
        app.submit_with(
            &owner,
            &permit,
            Some("2022-05"),
            Some(photo.clone()),
            Some("k-at-once"),
        )
    }))
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        assert_eq!(*body, answers[0].1, "every answer is the first one");
    }
    assert_eq!(
        app.event_count().await,
        events + 1,
        "one renewal submitted, nothing else appended"
    );
    let renewal = answers[0].1["renewal_id"].as_str().unwrap();
    app.wait_renewal(&owner, renewal, "awaiting_payment").await;
    let (_, card) = app
        .get(&format!("/api/v1/permits/{permit}"), Some(&owner))
        .await;
    assert_eq!(card["renewals"].as_array().unwrap().len(), 1, "{card}");
}

async fn a_refused_request_does_not_keep_its_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;
    // No photo: refused, and the key stays free for the corrected request.
    let (status, body) = app
        .submit_with(&owner, &permit, Some("2022-05"), None, Some("k-fix"))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "photo_required")
    );
    let (status, body) = app
        .submit_with(
            &owner,
            &permit,
            Some("2022-05"),
            Some(crate::app::jpeg()),
            Some("k-fix"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn the_consent_and_photo_are_required_to_submit(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_lot, permit, owner) = owner_with_card(&app).await;
    let events = app.event_count().await;
    let (status, body) = app
        .submit_with(
            &owner,
            &permit,
            Some("2021-01"),
            Some(crate::app::jpeg()),
            None,
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::CONFLICT, "consent_outdated")
    );
    let (status, body) = app
        .submit_with(&owner, &permit, Some("2022-05"), None, None)
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "photo_required")
    );
    let (status, body) = app
        .submit_with(
            &owner,
            &permit,
            Some("2022-05"),
            Some(b"GIF89a....".to_vec()),
            None,
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media")
    );
    let mut huge = crate::app::jpeg();
    huge.resize(6 * 1024 * 1024, 0);
    let (status, body) = app
        .submit_with(&owner, &permit, Some("2022-05"), Some(huge), None)
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );
    assert_eq!(
        app.event_count().await,
        events,
        "no refused submission appended anything"
    );
}

crate::on_both_backends!(
    the_manuals_happy_path_with_its_dates,
    the_rejection_path_refunds_before_a_retry,
    every_refused_transition_answers_its_code,
    an_unpaid_renewal_closes_when_its_window_ends_and_can_be_cancelled,
    an_idempotency_key_replays_the_first_answer,
    eight_submissions_with_one_key_at_once_make_one_renewal_and_seven_replays,
    a_refused_request_does_not_keep_its_key,
    the_consent_and_photo_are_required_to_submit,
);
