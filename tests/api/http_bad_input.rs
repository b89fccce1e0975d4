//! Bad input at every endpoint: a clear 4xx with an error code, never a 500, nothing appended.

use crate::app::{json_of, spawn_app, TestApp, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::json;

struct Case {
    method: &'static str,
    path: String,
    token: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    expect: StatusCode,
}

fn case(
    method: &'static str,
    path: impl Into<String>,
    token: Option<&str>,
    body: impl Into<Vec<u8>>,
    expect: StatusCode,
) -> Case {
    Case {
        method,
        path: path.into(),
        token: token.map(str::to_string),
        content_type: Some("application/json"),
        body: body.into(),
        expect,
    }
}

async fn run(app: &TestApp, c: &Case) -> (StatusCode, serde_json::Value) {
    let mut req = match c.method {
        "GET" => app.http.get(app.url(&c.path)),
        _ => app.http.post(app.url(&c.path)).body(c.body.clone()),
    };
    if let Some(t) = &c.token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = c.content_type {
        req = req.header("content-type", ct);
    }
    json_of(req.send().await.unwrap()).await
}

async fn bad_input_gets_a_clear_4xx_and_appends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let auditor = app.auditor().await;
    let lot = app.lot(&admin).await;
    let (permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let events = app.event_count().await;
    let bad = StatusCode::BAD_REQUEST;
    let huge = format!("{{\"phone\": \"{}\"}}", "1".repeat(100_000));
    let a = Some(admin.as_str());
    let o = Some(owner.as_str());
    let r = Some(reviewer.as_str());
    let codes = format!("/api/v1/lots/{lot}/codes");
    let sessions = format!("/api/v1/lots/{lot}/sessions");
    let mut cases = vec![
        // Malformed, truncated, wrong types, missing and duplicated fields.
        case("POST", &codes, None, "{", bad),
        case("POST", &codes, None, "{\"phone\": \"1391234", bad),
        case("POST", &codes, None, "{\"phone\": 13912345678}", bad),
        case("POST", &codes, None, "{}", bad),
        case("POST", &codes, None, "[]", bad),
        case("POST", &codes, None, "null", bad),
        case("POST", &codes, None, "{\"phone\": \"13912345678\", \"phone\": \"13800000000\"}", bad),
        case("POST", &codes, None, b"{\"phone\": \"\xff\xfe\"}".to_vec(), bad),
        case("POST", &codes, None, huge, StatusCode::PAYLOAD_TOO_LARGE),
        // Invalid phones and plates.
        case("POST", &codes, None, "{\"phone\": \"12012345678\"}", bad),
        case("POST", &codes, None, "{\"phone\": \"139123456\"}", bad),
        case("POST", &codes, None, "{\"phone\": \"\"}", bad),
        case("POST", &sessions, None, "{\"phone\": \"13912345678\"}", bad),
        case("POST", &sessions, None, "{\"phone\": \"13912345678\", \"code\": \"abc\"}", StatusCode::UNAUTHORIZED),
        case("POST", &sessions, None, "{\"phone\": \"13912345678\", \"code\": 123456}", bad),
        case("POST", "/api/v1/vehicles", o, "{\"plate\": \"京666666\"}", bad),
        case("POST", "/api/v1/vehicles", o, "{\"plate\": \"ABC\"}", bad),
        case("POST", "/api/v1/vehicles", o, "{\"plate\": \"京I12345\"}", bad),
        case("POST", "/api/v1/vehicles", o, "{\"plate\": 42}", bad),
        // Desk input.
        case("POST", "/api/v1/admin/permits", a, json!({"lot_id": lot, "plate": "京A1", "holder_name": "x",
            "phone": "13800000000", "valid_from": "2021-06-01", "valid_to": "2022-05-31"}).to_string(), bad),
        case("POST", "/api/v1/admin/permits", a, json!({"lot_id": lot, "plate": "京B12345", "holder_name": "x",
            "phone": "13800000000", "valid_from": "2022-06-01", "valid_to": "2021-05-31"}).to_string(), bad),
        case("POST", "/api/v1/admin/permits", a, json!({"lot_id": lot, "plate": "京B12345", "holder_name": "x",
            "phone": "13800000000", "valid_from": "2021/06/01", "valid_to": "2022-05-31"}).to_string(), bad),
        case("POST", "/api/v1/admin/permits", a, json!({"lot_id": "nope", "plate": "京B12345", "holder_name": "x",
            "phone": "13800000000", "valid_from": "2021-06-01", "valid_to": "2022-05-31"}).to_string(), bad),
        case("POST", "/api/v1/admin/permits", a, json!({"lot_id": lot, "plate": "京B12345",
            "holder_name": "王".repeat(51), "phone": "13800000000", "valid_from": "2021-06-01",
            "valid_to": "2022-05-31"}).to_string(), bad),
        case("POST", "/api/v1/admin/lots", a, json!({"name": "x", "product": {"name": "p", "price_fen": -1,
            "period_months": 12, "season_starts": "06-01"}, "consent": {"version": "v", "text": "t"}}).to_string(), bad),
        case("POST", "/api/v1/admin/lots", a, json!({"name": "x", "product": {"name": "p", "price_fen": 100,
            "period_months": 5, "season_starts": "06-01"}, "consent": {"version": "v", "text": "t"}}).to_string(), bad),
        case("POST", "/api/v1/admin/lots", a, json!({"name": "x", "product": {"name": "p", "price_fen": 100,
            "period_months": 12, "season_starts": "02-30"}, "consent": {"version": "v", "text": "t"}}).to_string(), bad),
        case("POST", "/api/v1/admin/lots", a, json!({"name": "x", "product": {"name": "p", "price_fen": 1.5,
            "period_months": 12, "season_starts": "06-01"}, "consent": {"version": "v", "text": "t"}}).to_string(), bad),
        case("POST", format!("/api/v1/admin/permits/{permit}/holder"), a, "{\"holder_name\": \"x\"}", bad),
        case("POST", format!("/api/v1/admin/permits/{permit}/vehicle"), a, "{\"plate\": \"京O12345\"}", bad),
        // Bad ids: 404 with a code.
        case("GET", "/api/v1/permits/not-a-uuid", o, "", StatusCode::NOT_FOUND),
        case("GET", format!("/api/v1/permits/{}", uuid::Uuid::new_v4()), o, "", StatusCode::NOT_FOUND),
        case("GET", "/api/v1/renewals/%00", o, "", StatusCode::NOT_FOUND),
        case("POST", "/api/v1/renewals/x/refund", o, "{}", StatusCode::NOT_FOUND),
        case("POST", format!("/api/v1/renewals/{}/cancel", uuid::Uuid::new_v4()), o, "{}", StatusCode::NOT_FOUND),
        case("GET", "/api/v1/lots/123", None, "", StatusCode::NOT_FOUND),
        case("POST", "/api/v1/lots/123/codes", None, "{\"phone\": \"13912345678\"}", StatusCode::NOT_FOUND),
        case("POST", format!("/api/v1/lots/{}/codes", uuid::Uuid::new_v4()), None, "{\"phone\": \"13912345678\"}", StatusCode::NOT_FOUND),
        case("POST", format!("/api/v1/review/renewals/{}/approve", uuid::Uuid::new_v4()), r, "{}", StatusCode::NOT_FOUND),
        case("POST", "/api/v1/review/renewals/zzz/reject", r, "{\"reason\": \"x\"}", StatusCode::NOT_FOUND),
        case("GET", "/no/such/route", None, "", StatusCode::NOT_FOUND),
        // Paging and positions.
        case("GET", "/api/v1/audit/events?limit=0", Some(&auditor), "", bad),
        case("GET", "/api/v1/audit/events?limit=1001", Some(&auditor), "", bad),
        case("GET", "/api/v1/audit/events?limit=abc", Some(&auditor), "", bad),
        case("GET", "/api/v1/audit/events?after=-5", Some(&auditor), "", bad),
        case("GET", "/api/v1/permits?after_position=abc", o, "", bad),
        case("GET", "/api/v1/permits?after_position=-1", o, "", bad),
        case("GET", format!("/api/v1/audit/permits/{permit}/state?as_of=yesterday"), Some(&auditor), "", bad),
        case("GET", "/sandbox/sms?phone=123", None, "", bad),
        case("POST", "/sandbox/clock", None, "{\"now\": \"tomorrow\"}", bad),
        case("POST", "/sandbox/payments/nope/pay", None, "", StatusCode::NOT_FOUND),
    ];
    // Wrong content type.
    let mut wrong_type = case(
        "POST",
        &codes,
        None,
        "phone=13912345678",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    wrong_type.content_type = Some("application/x-www-form-urlencoded");
    cases.push(wrong_type);
    let mut no_type = case(
        "POST",
        &codes,
        None,
        "{\"phone\": \"13912345678\"}",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    no_type.content_type = None;
    cases.push(no_type);
    let mut json_renewal = case(
        "POST",
        format!("/api/v1/permits/{permit}/renewals"),
        o,
        "{}",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    json_renewal.content_type = Some("application/json");
    cases.push(json_renewal);
    let mut broken_multipart = case(
        "POST",
        format!("/api/v1/permits/{permit}/renewals"),
        o,
        b"--b\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\n\xff\xd8".to_vec(),
        bad,
    );
    broken_multipart.content_type = Some("multipart/form-data; boundary=b");
    cases.push(broken_multipart);

    let total = cases.len();
    for c in &cases {
        let (status, body) = run(&app, c).await;
        assert_eq!(
            status,
            c.expect,
            "{} {} {:?}: {body}",
            c.method,
            c.path,
            String::from_utf8_lossy(&c.body)
        );
        assert!(
            body["error"]["code"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{} {}: an error code in {body}",
            c.method,
            c.path
        );
    }
    assert!(total >= 50, "{total} bad inputs tried");
    assert_eq!(
        app.event_count().await,
        events,
        "no bad input appended an event"
    );
}

crate::on_both_backends!(bad_input_gets_a_clear_4xx_and_appends_nothing);
