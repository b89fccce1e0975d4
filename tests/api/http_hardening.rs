//! What every answer carries and bounds: photo metadata, `nosniff`, request ids, faults of
//! stored data, request timeouts and the in-flight limit.

use crate::app::{spawn_app, spawn_app_with, TestApp, HOLDER_PHONE};
use permit_ledger::services::Settings;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn chunk(chunk_type: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(chunk_type);
    c.extend_from_slice(data);
    c.extend_from_slice(&[0, 0, 0, 0]);
    c
}

/// A 1×1 PNG with text, EXIF and time chunks, and bytes after its end.
fn png_with_metadata() -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    p.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
    p.extend(chunk(b"tEXt", b"Author\0Wang Jianguo"));
    p.extend(chunk(b"zTXt", b"Comment\0\0x\x9c"));
    p.extend(chunk(b"iTXt", b"Location\0\0\0\0\x0039.9N 116.4E"));
    p.extend(chunk(b"eXIf", b"MM\0*Canon EOS"));
    p.extend(chunk(b"tIME", &[0x07, 0xE6, 5, 20, 10, 0, 0]));
    p.extend(chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0xF8, 0x0F, 0x00, 0x01, 0x01, 0x01, 0x00],
    ));
    p.extend(chunk(b"IEND", &[]));
    p.extend_from_slice(b"appended secret");
    p
}

async fn card_and_owner(app: &TestApp) -> (String, String, String) {
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit, position) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let (status, _) = app
        .get(
            &format!("/api/v1/permits?after_position={position}"),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    (admin, permit, owner)
}

/// The PNG's text, EXIF and time chunks and its trailing bytes are gone from the stored photo
/// and from what the reviewer is served; its image chunks are there as they were sent.
async fn a_png_photo_is_stored_and_served_without_its_metadata(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, permit, owner) = card_and_owner(&app).await;
    let (status, submitted) = app
        .submit_with(
            &owner,
            &permit,
            Some("2022-05"),
            Some(png_with_metadata()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    let renewal = submitted["renewal_id"].as_str().unwrap();
    let position = submitted["position"].as_i64().unwrap();
    let (status, _) = app
        .get(
            &format!("/api/v1/renewals/{renewal}?after_position={position}"),
            Some(&owner),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let reviewer = app.reviewer().await;
    let photo = app
        .http
        .get(app.url(&format!("/api/v1/review/renewals/{renewal}/photo")))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.headers()["content-type"], "image/png");
    let served = photo.bytes().await.unwrap().to_vec();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT bytes FROM photos")
        .fetch_one(&app.t.store.db.read)
        .await
        .unwrap();
    assert_eq!(served, stored);
    for needle in [
        &b"tEXt"[..],
        b"zTXt",
        b"iTXt",
        b"eXIf",
        b"tIME",
        b"Wang Jianguo",
        b"39.9N",
        b"Canon",
        b"appended secret",
    ] {
        assert!(
            !served.windows(needle.len()).any(|w| w == needle),
            "{} left in the photo",
            String::from_utf8_lossy(needle)
        );
    }
    let mut expected = b"\x89PNG\r\n\x1a\n".to_vec();
    expected.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
    expected.extend(chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0xF8, 0x0F, 0x00, 0x01, 0x01, 0x01, 0x00],
    ));
    expected.extend(chunk(b"IEND", &[]));
    assert_eq!(served, expected, "the image chunks, byte for byte");
}

/// `X-Content-Type-Options: nosniff` on the photo, on JSON answers, on errors and on unknown
/// paths.
async fn every_answer_says_nosniff(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, permit, owner) = card_and_owner(&app).await;
    let (status, submitted) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    let renewal = submitted["renewal_id"].as_str().unwrap();
    let position = submitted["position"].as_i64().unwrap();
    app.get(
        &format!("/api/v1/renewals/{renewal}?after_position={position}"),
        Some(&owner),
    )
    .await;
    let reviewer = app.reviewer().await;
    let requests = [
        app.http
            .get(app.url(&format!("/api/v1/review/renewals/{renewal}/photo")))
            .bearer_auth(&reviewer),
        app.http.get(app.url("/healthz")),
        app.http.get(app.url("/api/v1/permits")),
        app.http.get(app.url("/no/such/path")),
        app.http.delete(app.url("/healthz")),
    ];
    for request in requests {
        let answer = request.send().await.unwrap();
        assert_eq!(
            answer
                .headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{} {}",
            answer.url(),
            answer.status()
        );
    }
}

crate::on_both_backends!(
    a_png_photo_is_stored_and_served_without_its_metadata,
    every_answer_says_nosniff,
);

/// The request id recorded in the metadata of the last event.
async fn last_request_id(app: &TestApp) -> String {
    let metadata: String =
        sqlx::query_scalar("SELECT CAST(metadata AS TEXT) FROM events ORDER BY position DESC")
            .fetch_one(&app.t.store.db.read)
            .await
            .unwrap();
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    metadata["request_id"].as_str().unwrap().to_string()
}

/// A plausible client request id is answered and recorded as sent; one that is too long, has
/// spaces or non-ASCII characters is replaced by a fresh UUID, answered and recorded instead.
async fn only_a_plausible_request_id_reaches_the_ledger(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let long = "x".repeat(65);
    let cases = [
        ("desk-2022-05-20:0001", true),
        (long.as_str(), false),
        ("drop table events", false),
        ("编号-1", false),
    ];
    for (i, (sent, kept)) in cases.into_iter().enumerate() {
        let body = json!({"name": format!("Lot {i}"), "product": {"name": "p", "price_fen": 1,
            "period_months": 12, "season_starts": "06-01"}, "consent": {"version": "v", "text": "t"}});
        let answer = app
            .http
            .post(app.url("/api/v1/admin/lots"))
            .bearer_auth(&admin)
            .header(
                "x-request-id",
                reqwest::header::HeaderValue::from_bytes(sent.as_bytes()).unwrap(),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        let answered = answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let recorded = last_request_id(&app).await;
        assert_eq!(recorded, answered, "{sent}");
        if kept {
            assert_eq!(answered, sent);
        } else {
            assert!(
                answered.parse::<uuid::Uuid>().is_ok(),
                "{sent} → {answered}"
            );
        }
    }
}

/// An event that cannot be decoded is a fault: 500 `internal`, no `Retry-After` (retrying cannot
/// help), and nothing appended.
async fn an_undecodable_stored_event_answers_500_internal(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, permit, _) = card_and_owner(&app).await;
    sqlx::query("UPDATE events SET payload = '{\"NoSuchEvent\": {}}' WHERE aggregate_id = $1")
        .bind(&permit)
        .execute(&app.t.store.db.write)
        .await
        .unwrap();
    let events = app.event_count().await;
    // Another instance, so that the card is read from the store rather than a cache.
    let other = app.second_instance(Settings::default()).await;
    let answer = other
        .http
        .post(other.url(&format!("/api/v1/admin/permits/{permit}/holder")))
        .bearer_auth(&admin)
        .json(&json!({"holder_name": "王建国", "phone": "13800000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.headers().get("retry-after").is_none());
    let body: Value = answer.json().await.unwrap();
    assert_eq!(code_of(&body), "internal", "{body}");
    assert_eq!(body["error"]["message"], "internal error");
    assert_eq!(app.event_count().await, events);
}

/// A request still unanswered after the request timeout answers 503 `timeout` with
/// `Retry-After`; over the in-flight limit, 503 `overloaded`.
async fn slow_and_excess_requests_get_503_with_the_error_shape(backend: Backend) {
    let settings = Settings {
        // Long enough that, on a loaded machine, the probe below gets in while it is held.
        request_timeout: Duration::from_secs(4),
        read_wait: Duration::from_secs(12),
        max_in_flight: 1,
        ..Settings::default()
    };
    let app = spawn_app_with(backend, settings).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    // Waiting for a position the views will never reach outlasts the timeout.
    let slow = app.url(&format!(
        "/api/v1/admin/reports/daily-takings?lot_id={lot}&from=2022-05-01&to=2022-05-31\
         &after_position=9000000000000000000"
    ));
    // The probes below race the slow request for the one slot: if a probe holds it when the
    // slow request arrives, that one is refused instead; then the scenario starts again.
    let (started, refused, answer) = 'scenario: {
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let pending = tokio::spawn({
                let (http, admin, slow) = (app.http.clone(), admin.clone(), slow.clone());
                async move { http.get(slow).bearer_auth(admin).send().await.unwrap() }
            });
            // While the slow request holds the only slot, another is refused.
            let refused = loop {
                let (status, body) = app.get("/healthz", None).await;
                if status != StatusCode::OK || pending.is_finished() {
                    break (status, body);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            let answer = pending.await.unwrap();
            if refused.0 == StatusCode::OK && answer.status() == StatusCode::SERVICE_UNAVAILABLE {
                let body: Value = answer.json().await.unwrap();
                if code_of(&body) == "overloaded" {
                    continue; // a probe held the slot when the slow request came
                }
                panic!("the slow request ended without a probe refused: {body}");
            }
            break 'scenario (started, refused, answer);
        }
        panic!("the slow request never got the slot in five tries");
    };
    assert_eq!(refused.0, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.1);
    assert_eq!(code_of(&refused.1), "overloaded");
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped at the timeout, not after the 12 s wait"
    );
    assert_eq!(answer.headers()["retry-after"], "1");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(code_of(&body), "timeout", "{body}");

    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "the slot is free again");
}

crate::on_both_backends!(
    only_a_plausible_request_id_reaches_the_ledger,
    an_undecodable_stored_event_answers_500_internal,
    slow_and_excess_requests_get_503_with_the_error_shape,
);
