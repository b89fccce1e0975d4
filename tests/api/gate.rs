//! The gate check (role `gate`): every reason, the second vehicle on its primary's restricted
//! day and not the next, the lot's restriction calendar, and bad input.

use crate::app::{json_of, spawn_app, TestApp, HOLDER_PHONE};
use aggregates::metadata::Role;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Beijing's rotation for 2022 (Monday 1 and 6 … Friday 5 and 0), 2022-05-16 a holiday.
fn calendar() -> Value {
    json!({
        "periods": [{"from": "2022-01-01", "to": "2022-12-31",
                     "digits": {"1": [1, 6], "2": [2, 7], "3": [3, 8], "4": [4, 9], "5": [5, 0]}}],
        "holidays": ["2022-05-16"],
    })
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .http
        .put(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn delete(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let r = app
        .http
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

/// What the gate answers for `query` (lot_id=… already in it).
async fn check(app: &TestApp, gate: &str, query: &str) -> (StatusCode, Value) {
    app.get(&format!("/api/v1/gate/check?{query}"), Some(gate))
        .await
}

struct Desk {
    admin: String,
    gate: String,
    lot: String,
    permit: String,
    position: i64,
}

/// A lot with the calendar, the manual's card on 京A66666 (tail 6: restricted on Mondays) and
/// its second vehicle 京B12345.
async fn desk(app: &TestApp) -> Desk {
    let admin = app.admin().await;
    let gate = app.staff(&[Role::Gate]).await;
    let lot = app.lot(&admin).await;
    let (status, body) = put(
        app,
        &format!("/api/v1/admin/lots/{lot}/restrictions"),
        &admin,
        calendar(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["position"].as_i64().unwrap() > 0);
    let (permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/permits/{permit}/second-vehicle"),
            Some(&admin),
            json!({"plate": "京b 12345"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["plate"], "京B12345");
    Desk {
        admin,
        gate,
        lot,
        permit,
        position: body["position"].as_i64().unwrap(),
    }
}

async fn the_gate_answers_each_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = desk(&app).await;
    let lot = &d.lot;
    // The business clock says 2022-05-20 (a Friday); the card runs to 2022-05-31.
    let (status, body) = check(
        &app,
        &d.gate,
        &format!("lot_id={lot}&plate=京A66666&after_position={}", d.position),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"allowed": true, "reason": "active", "permit_id": d.permit, "valid_to": "2022-05-31"})
    );
    // Monday 2022-05-23, 10:00 in Beijing: 6 is restricted, the second vehicle enters.
    let (_, body) = check(
        &app,
        &d.gate,
        &format!("lot_id={lot}&plate=京B12345&at=2022-05-23T02:00:00Z"),
    )
    .await;
    assert_eq!(
        body,
        json!({"allowed": true, "reason": "second_vehicle", "permit_id": d.permit, "valid_to": "2022-05-31"})
    );
    // Full-width characters and spaces, as a camera may send them.
    let (_, body) = check(
        &app,
        &d.gate,
        &format!("lot_id={lot}&plate=%E4%BA%AC%EF%BC%A2%201%202345&at=2022-05-23T02:00:00Z"),
    )
    .await;
    assert_eq!(body["reason"], "second_vehicle", "{body}");
    // Tuesday: the primary may drive, so the second may not.
    let (_, body) = check(
        &app,
        &d.gate,
        &format!("lot_id={lot}&plate=京B12345&at=2022-05-24T02:00:00Z"),
    )
    .await;
    assert_eq!(
        (body["allowed"].clone(), body["reason"].clone()),
        (json!(false), json!("second_vehicle_not_today"))
    );
    // Monday 2022-05-16 is a holiday: unrestricted.
    let (_, body) = check(
        &app,
        &d.gate,
        &format!("lot_id={lot}&plate=京B12345&at=2022-05-16T02:00:00Z"),
    )
    .await;
    assert_eq!(body["reason"], "second_vehicle_not_today", "{body}");
    // 2022-05-22T16:30Z is already Monday 00:30 in Beijing.
    let (_, body) = check(
        &app,
        &d.gate,
        &format!("lot_id={lot}&plate=京B12345&at=2022-05-22T16:30:00Z"),
    )
    .await;
    assert_eq!(body["reason"], "second_vehicle", "{body}");
    // After the card ends, neither vehicle enters (Monday 2022-06-06 too).
    for plate in ["京A66666", "京B12345"] {
        let (_, body) = check(
            &app,
            &d.gate,
            &format!("lot_id={lot}&plate={plate}&at=2022-06-06T02:00:00Z"),
        )
        .await;
        assert_eq!(
            body,
            json!({"allowed": false, "reason": "expired", "permit_id": d.permit, "valid_to": "2022-05-31"}),
            "{plate}"
        );
    }
    // A card that starts next month.
    let (status, issued) = app
        .post(
            "/api/v1/admin/permits",
            Some(&d.admin),
            json!({"lot_id": lot, "plate": "京C11111", "holder_name": "李老师", "phone": HOLDER_PHONE,
                   "valid_from": "2022-06-01", "valid_to": "2023-05-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let (_, body) = check(
        &app,
        &d.gate,
        &format!(
            "lot_id={lot}&plate=京C11111&after_position={}",
            issued["position"]
        ),
    )
    .await;
    assert_eq!(
        body,
        json!({"allowed": false, "reason": "not_yet_valid", "permit_id": issued["permit_id"],
               "valid_to": "2023-05-31"})
    );
    // A vehicle no card holds, and a known vehicle at another lot.
    let (_, body) = check(&app, &d.gate, &format!("lot_id={lot}&plate=京D77777")).await;
    assert_eq!(body, json!({"allowed": false, "reason": "no_permit"}));
    let other = uuid::Uuid::new_v4();
    let (_, body) = check(&app, &d.gate, &format!("lot_id={other}&plate=京A66666")).await;
    assert_eq!(body, json!({"allowed": false, "reason": "no_permit"}));
}

async fn a_removed_second_vehicle_is_refused_and_free_for_another_card(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = desk(&app).await;
    let lot = &d.lot;
    // Bound like any vehicle: another card cannot take it, nor be issued on it.
    let (other, _) = app.card(&d.admin, lot, "京E55555", HOLDER_PHONE).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/permits/{other}/second-vehicle"),
            Some(&d.admin),
            json!({"plate": "京B12345"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("vehicle_bound")),
        "{body}"
    );
    // A card's own vehicle cannot be another card's second vehicle either.
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/permits/{other}/second-vehicle"),
            Some(&d.admin),
            json!({"plate": "京A66666"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("vehicle_bound"))
    );
    // One at a time, and not the card's own.
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/permits/{}/second-vehicle", d.permit),
            Some(&d.admin),
            json!({"plate": "京F12345"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("second_vehicle_exists"))
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/permits/{other}/second-vehicle"),
            Some(&d.admin),
            json!({"plate": "京E55555"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("same_vehicle"))
    );
    // The card shows it to the auditor's replay and in its history.
    let auditor = app.auditor().await;
    let (_, state) = app
        .get(
            &format!("/api/v1/audit/permits/{}/state", d.permit),
            Some(&auditor),
        )
        .await;
    assert_eq!(state["second_plate"], "京B12345", "{state}");
    let (_, history) = app
        .get(
            &format!("/api/v1/audit/permits/{}/events", d.permit),
            Some(&auditor),
        )
        .await;
    assert!(
        history.to_string().contains("SecondVehicleAdded"),
        "{history}"
    );

    let (status, body) = delete(
        &app,
        &format!("/api/v1/admin/permits/{}/second-vehicle", d.permit),
        &d.admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, answer) = check(
        &app,
        &d.gate,
        &format!(
            "lot_id={lot}&plate=京B12345&at=2022-05-23T02:00:00Z&after_position={}",
            body["position"]
        ),
    )
    .await;
    assert_eq!(answer, json!({"allowed": false, "reason": "no_permit"}));
    let (status, body) = delete(
        &app,
        &format!("/api/v1/admin/permits/{}/second-vehicle", d.permit),
        &d.admin,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_second_vehicle"))
    );
    // Freed: the other card takes it now.
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/permits/{other}/second-vehicle"),
            Some(&d.admin),
            json!({"plate": "京B12345"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, answer) = check(
        &app,
        &d.gate,
        &format!(
            "lot_id={lot}&plate=京B12345&at=2022-05-23T02:00:00Z&after_position={}",
            body["position"]
        ),
    )
    .await;
    // 京E55555 ends in 5: restricted on Fridays, not Mondays.
    assert_eq!(answer["reason"], "second_vehicle_not_today", "{answer}");
    assert_eq!(answer["permit_id"], json!(other));
    let (_, answer) = check(
        &app,
        &d.gate,
        &format!("lot_id={lot}&plate=京B12345&at=2022-05-27T02:00:00Z"),
    )
    .await;
    assert_eq!(answer["reason"], "second_vehicle", "{answer}");
}

async fn only_the_gate_role_may_check_and_it_may_do_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = desk(&app).await;
    let query = format!("lot_id={}&plate=京A66666", d.lot);
    let reviewer = app.reviewer().await;
    let owner = app.login(&d.lot, HOLDER_PHONE).await;
    for token in [&d.admin, &reviewer, &owner] {
        let (status, body) = check(&app, token, &query).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, _) = app.get(&format!("/api/v1/gate/check?{query}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .get(&format!("/api/v1/permits/{}", d.permit), Some(&d.gate))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &format!("/api/v1/admin/permits/{}/second-vehicle", d.permit),
            Some(&d.gate),
            json!({"plate": "京F12345"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn bad_gate_queries_and_calendars_are_refused_with_a_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = desk(&app).await;
    let lot = &d.lot;
    for (query, code) in [
        ("plate=京A66666".to_string(), "invalid_query"),
        (format!("lot_id={lot}"), "invalid_query"),
        (
            "lot_id=not-a-uuid&plate=京A66666".to_string(),
            "invalid_query",
        ),
        (format!("lot_id={lot}&plate=ABC"), "invalid_plate"),
        (
            format!("lot_id={lot}&plate=京A66666&at=monday"),
            "invalid_query",
        ),
        (
            format!("lot_id={lot}&plate=京A66666&after_position=-1"),
            "invalid_query",
        ),
    ] {
        let (status, body) = check(&app, &d.gate, &query).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{query}: {body}"
        );
    }
    let path = format!("/api/v1/admin/lots/{lot}/restrictions");
    let period = |digits: Value, from: &str| json!({"periods": [{"from": from, "to": "2022-12-31", "digits": digits}]});
    for (body, code) in [
        (
            period(json!({"8": [1]}), "2022-01-01"),
            "invalid_restrictions",
        ),
        (
            period(json!({"x": [1]}), "2022-01-01"),
            "invalid_restrictions",
        ),
        (
            period(json!({"1": [10]}), "2022-01-01"),
            "invalid_restrictions",
        ),
        (
            period(json!({"1": [-1]}), "2022-01-01"),
            "invalid_restrictions",
        ),
        (period(json!({"1": [1]}), "2022-13-01"), "invalid_date"),
        (period(json!({"1": [1]}), "2023-01-01"), "invalid_date"),
        (
            json!({"periods": [{"from": "2022-01-01", "to": "2022-06-30", "digits": {}},
                            {"from": "2022-06-30", "to": "2022-12-31", "digits": {}}]}),
            "invalid_restrictions",
        ),
        (
            json!({"periods": [], "holidays": ["May Day"]}),
            "invalid_date",
        ),
        (json!({"holidays": []}), "invalid_input"),
    ] {
        let (status, answer) = put(&app, &path, &d.admin, body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}: {answer}"
        );
    }
    let (status, answer) = put(
        &app,
        &format!("/api/v1/admin/lots/{}/restrictions", uuid::Uuid::new_v4()),
        &d.admin,
        calendar(),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_lot"))
    );
    // Nothing half-written: the lot still shows the calendar it had.
    let (_, shown) = app.get(&format!("/api/v1/lots/{lot}"), None).await;
    let mut kept = calendar();
    // Digits are kept sorted.
    kept["periods"][0]["digits"]["5"] = json!([0, 5]);
    assert_eq!(shown["restrictions"], kept, "{shown}");
}

/// A gate member added through the application (its id and token).
async fn gate_member(app: &TestApp) -> (uuid::Uuid, String) {
    permit_ledger::app::staff::add_staff(
        &app.services.ledger,
        &app.services.store.db,
        "东门道闸".into(),
        vec![Role::Gate],
        &crate::helpers::admin_meta(),
    )
    .await
    .unwrap()
}

/// Waits until the gate's model has applied everything in the ledger.
async fn gate_at_head(app: &TestApp) {
    let head = app.services.store.log.head().await.unwrap();
    app.services
        .gate
        .wait_for(head, std::time::Duration::from_secs(5))
        .await
        .unwrap();
}

/// The gate role's token is answered from memory: its `staff_credentials` row can be gone and
/// the check still answers; a revocation refuses it at once (before the row would be removed),
/// a rotation refuses the old token and lets the new one in.
async fn the_gate_token_is_checked_in_memory_and_revocation_ends_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = desk(&app).await;
    let query = format!("lot_id={}&plate=京A66666&at=2022-05-20T02:00:00Z", d.lot);
    let (camera_id, camera) = gate_member(&app).await;
    gate_at_head(&app).await;
    sqlx::query("DELETE FROM staff_credentials WHERE staff_id = $1")
        .bind(camera_id.to_string())
        .execute(&app.services.store.db.write)
        .await
        .unwrap();
    let (status, body) = check(&app, &camera, &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reason"], "active", "{body}");

    let (status, body) = app
        .post(
            &format!("/api/v1/admin/staff/{camera_id}/revoke"),
            Some(&d.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    gate_at_head(&app).await;
    // Put the row back as it was before the revocation: memory alone must refuse the token.
    sqlx::query(
        "INSERT INTO staff_credentials (token_digest, staff_id, name, roles, expires_at)
         VALUES ($1, $2, 'x', 'gate', '2999-01-01T00:00:00.000Z')",
    )
    .bind(permit_ledger::app::staff::token_digest(&camera))
    .bind(camera_id.to_string())
    .execute(&app.services.store.db.write)
    .await
    .unwrap();
    let (status, body) = check(&app, &camera, &query).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_token", "{body}");

    let (other_id, old) = gate_member(&app).await;
    let fresh = permit_ledger::app::staff::rotate_staff(
        &app.services.ledger,
        &app.services.store.db,
        other_id,
        aggregates::staff::TokenTerm {
            now: chrono::Utc::now(),
            days: 30,
        },
        &crate::helpers::admin_meta(),
    )
    .await
    .unwrap();
    gate_at_head(&app).await;
    let (status, body) = check(&app, &old, &query).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = check(&app, &fresh, &query).await;
    assert_eq!(
        (status, &body["reason"]),
        (StatusCode::OK, &json!("active"))
    );
    // The other roles are still refused, and an unknown token is 401.
    let (status, _) = check(&app, &d.admin, &query).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = check(&app, &permit_ledger::app::staff::new_token(), &query).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// With the pools every handler's lookups go through (sessions, staff credentials, own
/// positions, views) closed, the gate still answers: its token and its answer come from memory.
async fn the_gate_checks_with_the_lookup_pools_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = desk(&app).await;
    gate_at_head(&app).await;
    app.services.store.db.read.close().await;
    app.services.store.db.write.close().await;
    for (plate, reason) in [("京A66666", "active"), ("京C00000", "no_permit")] {
        let (status, body) = check(
            &app,
            &d.gate,
            &format!("lot_id={}&plate={plate}&at=2022-05-20T02:00:00Z", d.lot),
        )
        .await;
        assert_eq!(
            (status, &body["reason"]),
            (StatusCode::OK, &json!(reason)),
            "{body}"
        );
    }
    // A staff lookup that needs the database fails, so the pools are closed indeed.
    let (status, _) = app.get("/api/v1/review/queue", Some(&d.admin)).await;
    assert!(status.is_server_error(), "{status}");
}

/// An event the gate cannot read is parked (counted in /metrics) and gone past: a gate member
/// added after it signs in and the checks go on.
async fn the_gate_parks_an_event_it_cannot_read_and_goes_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = desk(&app).await;
    let stream = uuid::Uuid::new_v4().to_string();
    let poison = permit_ledger::store::NewEvent {
        event_type: "StaffTeleported".into(),
        event_version: "1".into(),
        payload: json!({"StaffTeleported": {}}),
        metadata: json!({"actor": "system", "role": "system", "correlation_id": stream,
                          "causation_id": "test", "request_id": "r-poison"}),
    };
    let parked_at = app
        .services
        .store
        .log
        .append(
            "staff",
            &stream,
            0,
            permit_ledger::store::GENESIS,
            &[poison],
        )
        .await
        .unwrap()[0]
        .position;
    let (_, camera) = gate_member(&app).await;
    gate_at_head(&app).await;
    let (parked, first) = app.services.gate.parked();
    assert_eq!(parked, 1);
    assert_eq!(first[0].position, parked_at);
    assert_eq!(first[0].event_type, "StaffTeleported");
    let query = format!("lot_id={}&plate=京A66666&at=2022-05-20T02:00:00Z", d.lot);
    let (status, body) = check(&app, &camera, &query).await;
    assert_eq!(
        (status, &body["reason"]),
        (StatusCode::OK, &json!("active"))
    );
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l == "permit_ledger_gate_parked_events 1"),
        "{text}"
    );
    let head = app.services.store.log.head().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("permit_ledger_gate_position {head}")),
        "{text}"
    );
}

crate::on_both_backends!(
    the_gate_token_is_checked_in_memory_and_revocation_ends_it,
    the_gate_checks_with_the_lookup_pools_closed,
    the_gate_parks_an_event_it_cannot_read_and_goes_on,
    the_gate_answers_each_reason,
    a_removed_second_vehicle_is_refused_and_free_for_another_card,
    only_the_gate_role_may_check_and_it_may_do_nothing_else,
    bad_gate_queries_and_calendars_are_refused_with_a_code
);
