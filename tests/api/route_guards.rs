//! Every guarded route, taken from the OpenAPI document the service serves, with every kind of
//! token: none → 401 before the body is read; a role the route's `x-role` does not name → 403
//! before the body is read; a role it names → past the guard. A route added without its guard,
//! or a guard loosened (the auditor's state shows whole phone numbers), fails here.

use crate::app::{spawn_app, HOLDER_PHONE};
use permit_ledger::store::Backend;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The roles a route's `x-role` lets in.
fn allowed(x_role: &str) -> Option<Vec<&'static str>> {
    match x_role {
        "none" | "payment provider (signed)" => None,
        "owner" => Some(vec!["owner"]),
        "admin" => Some(vec!["admin"]),
        "reviewer" => Some(vec!["reviewer"]),
        "auditor" => Some(vec!["auditor"]),
        "gate" => Some(vec!["gate"]),
        "reviewer or auditor" => Some(vec!["reviewer", "auditor"]),
        other => panic!("a role this test does not know: {other:?} (add it)"),
    }
}

async fn every_guarded_route_refuses_missing_and_wrong_tokens_before_reading_the_body(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let auditor = app.auditor().await;
    let gate = app.staff(&[aggregates::metadata::Role::Gate]).await;
    let lot = app.lot(&admin).await;
    let (permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let (status, submitted) = app.submit(&owner, &permit).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    let renewal = submitted["renewal_id"].as_str().unwrap().to_string();
    let staff_id = uuid::Uuid::new_v4().to_string();
    let tokens = [
        ("admin", admin.as_str()),
        ("reviewer", reviewer.as_str()),
        ("auditor", auditor.as_str()),
        ("gate", gate.as_str()),
        ("owner", owner.as_str()),
    ];

    let (status, doc) = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut guarded = 0;
    // Logging out ends the owner's session: that route goes last.
    let mut paths: Vec<(&String, &Value)> = doc["paths"].as_object().unwrap().iter().collect();
    paths.sort_by_key(|(path, _)| path.as_str() == "/api/v1/sessions/current");
    for (path, ops) in paths {
        let url = path
            .replace("{lot_id}", &lot)
            .replace("{permit_id}", &permit)
            .replace("{renewal_id}", &renewal)
            .replace("{staff_id}", &staff_id)
            .replace("{problem_id}", &uuid::Uuid::new_v4().to_string())
            .replace(
                "{order_id}",
                submitted["payment"]["order_id"].as_str().unwrap(),
            );
        assert!(
            !url.contains('{'),
            "a path parameter this test does not fill: {path}"
        );
        for (method, op) in ops.as_object().unwrap() {
            let role = op["x-role"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no x-role"));
            let Some(allowed) = allowed(role) else {
                continue;
            };
            guarded += 1;
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // A body no handler could read: a guard that reads it first answers 400 or 415.
            let send = |token: Option<&str>| {
                let mut req = app
                    .http
                    .request(method.clone(), app.url(&url))
                    .header("content-type", "application/json")
                    .body("{not json");
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                req.send()
            };
            let r = send(None).await.unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
                "{method} {path} without a token"
            );
            for (name, token) in tokens {
                let status = send(Some(token)).await.unwrap().status();
                if allowed.contains(&name) {
                    assert!(
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && !status.is_server_error(),
                        "{method} {path} as {name} ({role}) is let in: {status}"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{method} {path} as {name} ({role} only)"
                    );
                }
            }
        }
    }
    assert!(
        guarded >= 25,
        "only {guarded} guarded operations in the document"
    );
}

crate::on_both_backends!(
    every_guarded_route_refuses_missing_and_wrong_tokens_before_reading_the_body
);
