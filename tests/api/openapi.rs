//! The OpenAPI document the service serves at `/api/v1/openapi.json` (docs/openapi.json): it is
//! OpenAPI 3.1, it documents every route the router serves, and every route it documents is
//! served.

use crate::app::spawn_app;
use permit_ledger::store::Backend;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every (method, path) the router serves in sandbox mode, as defined in src/http/*.rs (axum's
/// `{name}` path syntax is OpenAPI's). Checked against the sources below, so a new route fails
/// this test until it is documented.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/admin/lots"),
    ("get", "/api/v1/lots/{lot_id}"),
    ("post", "/api/v1/admin/permits"),
    ("post", "/api/v1/admin/permits/{permit_id}/holder"),
    ("post", "/api/v1/admin/permits/{permit_id}/vehicle"),
    ("post", "/api/v1/admin/permits/{permit_id}/renewals"),
    ("post", "/api/v1/admin/permits/{permit_id}/second-vehicle"),
    ("delete", "/api/v1/admin/permits/{permit_id}/second-vehicle"),
    ("put", "/api/v1/admin/lots/{lot_id}/restrictions"),
    ("put", "/api/v1/admin/lots/{lot_id}/service-phone"),
    ("get", "/api/v1/gate/check"),
    ("get", "/api/v1/admin/reports/daily-takings"),
    ("get", "/api/v1/admin/reconciliation"),
    ("get", "/api/v1/admin/payments/problems"),
    ("post", "/api/v1/admin/payments/problems/{problem_id}/retry"),
    (
        "post",
        "/api/v1/admin/payments/problems/{problem_id}/resolve",
    ),
    ("get", "/api/v1/admin/staff"),
    ("post", "/api/v1/admin/staff/{staff_id}/revoke"),
    ("post", "/api/v1/lots/{lot_id}/codes"),
    ("post", "/api/v1/lots/{lot_id}/sessions"),
    ("delete", "/api/v1/sessions/current"),
    ("post", "/api/v1/vehicles"),
    ("get", "/api/v1/permits"),
    ("get", "/api/v1/permits/{permit_id}"),
    ("post", "/api/v1/permits/{permit_id}/hide"),
    ("post", "/api/v1/permits/{permit_id}/show"),
    ("post", "/api/v1/permits/{permit_id}/renewals"),
    ("get", "/api/v1/renewals/{renewal_id}"),
    ("post", "/api/v1/renewals/{renewal_id}/refund"),
    ("post", "/api/v1/renewals/{renewal_id}/cancel"),
    ("post", "/api/v1/renewals/{renewal_id}/payment/check"),
    ("post", "/api/v1/payments/wechat/notify"),
    ("post", "/api/v1/refunds/wechat/notify"),
    ("get", "/api/v1/review/queue"),
    ("get", "/api/v1/review/renewals/{renewal_id}"),
    ("get", "/api/v1/review/renewals/{renewal_id}/photo"),
    ("post", "/api/v1/review/renewals/{renewal_id}/approve"),
    ("post", "/api/v1/review/renewals/{renewal_id}/reject"),
    ("get", "/api/v1/audit/permits/{permit_id}/events"),
    ("get", "/api/v1/audit/permits/{permit_id}/state"),
    ("get", "/api/v1/audit/events"),
    ("post", "/api/v1/audit/verify"),
    ("get", "/api/v1/audit/checkpoints/latest"),
    ("get", "/sandbox/sms"),
    ("post", "/sandbox/payments/{order_id}/pay"),
    ("get", "/sandbox/clock"),
    ("post", "/sandbox/clock"),
    ("get", "/lots/{lot_id}"),
    ("get", "/review"),
    ("get", "/ui/style.css"),
    ("get", "/ui/api.js"),
    ("get", "/ui/owner.js"),
    ("get", "/ui/review.js"),
    ("get", "/ui/messages.js"),
    ("get", "/ui/plate.js"),
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

fn routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// The `.route("path", get(h).post(h2))` calls of one source file.
fn routes_in_source(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices(".route(") {
        let rest = text[start + ".route(".len()..].trim_start();
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        let Some(end) = rest.find('"') else { continue };
        let path = &rest[..end];
        let mut rest = rest[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        // Method routers: `name(handler)` chained with `.`.
        loop {
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            // `post(h)` or `axum::routing::post(h)`.
            let name = rest[..name_len].rsplit("::").next().unwrap_or_default();
            let after = &rest[name_len..];
            let Some(args) = after.strip_prefix('(') else {
                break;
            };
            let mut depth = 1;
            let close = args
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(args.len(), |(i, _)| i);
            if METHODS.contains(&name) {
                found.push((name.to_string(), path.to_string()));
            }
            rest = args[(close + 1).min(args.len())..].trim_start();
            match rest.strip_prefix('.') {
                Some(next) => rest = next.trim_start(),
                None => break,
            }
        }
    }
    found
}

#[test]
fn the_route_list_matches_the_route_definitions_in_src_http() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut in_source = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/http") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            in_source.extend(routes_in_source(&text));
        }
    }
    let listed = routes();
    let missing: Vec<_> = in_source.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&in_source).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes in src/http not in the list (document them in docs/openapi.json too): \
         {missing:?}; listed but not in src/http: {extra:?}"
    );
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if METHODS.contains(&method.as_str()) {
                ops.insert((method.clone(), path.clone()));
            }
        }
    }
    ops
}

/// A request to a documented operation with dummy ids and no body or token.
async fn probe(app: &crate::app::TestApp, method: &str, path: &str) -> (StatusCode, Value) {
    let mut concrete = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("closing brace") + open;
        concrete.push_str(&rest[..open]);
        concrete.push_str("00000000-0000-4000-8000-000000000000");
        rest = &rest[close + 1..];
    }
    concrete.push_str(rest);
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
    let response = app
        .http
        .request(method, app.url(&concrete))
        .send()
        .await
        .expect("request");
    crate::app::json_of(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_openapi_3_1_and_matches_the_router() {
    let app = spawn_app(Backend::Sqlite).await;
    let response = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "served as JSON"
    );
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        include_str!("../../docs/openapi.json"),
        "the service serves docs/openapi.json as it is"
    );
    let doc: Value = serde_json::from_str(&text).expect("the document parses");
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "OpenAPI 3.1.x, not {version}");

    // Every served route is documented, and nothing else is.
    let served = routes();
    let documented = documented(&doc);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "not documented: {undocumented:?}");
    assert!(
        unserved.is_empty(),
        "documented but not in the route list: {unserved:?}"
    );

    // Every documented operation is really routed: never the router's own 404 or a 405.
    let (status, body) = probe(&app, "get", "/api/v1/no/such/route").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "the router's 404, for contrast"
    );
    for (method, path) in &documented {
        let (status, body) = probe(&app, method, path).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {body}"
        );
        assert!(
            !(status == StatusCode::NOT_FOUND && body["error"]["code"] == "not_found"),
            "{method} {path} is documented but the router does not serve it: {body}"
        );
        assert!(
            status.as_u16() < 500,
            "{method} {path} with dummy input: {status} {body}"
        );
    }
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is documented");
    op
}

/// The codes an operation documents for a status.
fn codes(op: &Value, status: &str) -> Vec<String> {
    op["responses"][status]["x-error-codes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn each_operation_names_its_role_answers_and_the_contracts_codes() {
    let doc: Value =
        serde_json::from_str(include_str!("../../docs/openapi.json")).expect("the document parses");
    let roles = [
        "none",
        "owner",
        "admin",
        "reviewer",
        "auditor",
        "gate",
        "reviewer or auditor",
        "payment provider (signed)",
    ];
    for (method, path) in documented(&doc) {
        let op = operation(&doc, &method, &path);
        let role = op["x-role"].as_str().unwrap_or_default();
        assert!(roles.contains(&role), "{method} {path}: role {role:?}");
        let security = op["security"].to_string();
        let expected = match role {
            "owner" => "ownerSession",
            "none" | "payment provider (signed)" => "[]",
            _ => "staffToken",
        };
        assert!(
            security.contains(expected),
            "{method} {path}: security {security} for {role}"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: a success answer"
        );
        if responses.contains_key("429") {
            assert!(
                responses["429"]["headers"]["Retry-After"].is_object(),
                "{method} {path}: 429 with Retry-After"
            );
        }
        if role == "none" {
            assert!(
                !responses.contains_key("403"),
                "{method} {path}: no 403 on an open route"
            );
            if responses.contains_key("401") {
                assert_eq!(
                    codes(op, "401"),
                    ["code_invalid"],
                    "{method} {path}: an open route's only 401 is a wrong code"
                );
            }
        }
        if role != "none" && role != "payment provider (signed)" {
            assert!(
                codes(op, "401").contains(&"unauthenticated".to_string())
                    && codes(op, "403").contains(&"forbidden".to_string()),
                "{method} {path}: 401 and 403 documented"
            );
        }
    }
    // The codes the contract names, where it names them.
    let expect = [
        (
            "post",
            "/api/v1/lots/{lot_id}/codes",
            "429",
            "resend_too_soon",
        ),
        ("post", "/api/v1/lots/{lot_id}/codes", "429", "phone_locked"),
        (
            "post",
            "/api/v1/lots/{lot_id}/codes",
            "429",
            "address_rate_limited",
        ),
        (
            "post",
            "/api/v1/lots/{lot_id}/sessions",
            "401",
            "code_invalid",
        ),
        ("post", "/api/v1/vehicles", "404", "no_permit"),
        ("post", "/api/v1/vehicles", "409", "idempotency_key_reused"),
        (
            "post",
            "/api/v1/permits/{permit_id}/renewals",
            "409",
            "refund_required",
        ),
        (
            "post",
            "/api/v1/permits/{permit_id}/renewals",
            "409",
            "already_approved",
        ),
        (
            "post",
            "/api/v1/permits/{permit_id}/renewals",
            "409",
            "renewal_open",
        ),
        (
            "post",
            "/api/v1/permits/{permit_id}/renewals",
            "409",
            "consent_outdated",
        ),
        (
            "post",
            "/api/v1/permits/{permit_id}/renewals",
            "413",
            "too_large",
        ),
        (
            "post",
            "/api/v1/permits/{permit_id}/renewals",
            "415",
            "unsupported_media",
        ),
        (
            "post",
            "/api/v1/renewals/{renewal_id}/refund",
            "409",
            "invalid_transition",
        ),
        (
            "post",
            "/api/v1/review/renewals/{renewal_id}/approve",
            "409",
            "invalid_transition",
        ),
        ("get", "/api/v1/permits", "503", "projection_lagging"),
        ("get", "/api/v1/audit/events", "400", "invalid_query"),
    ];
    for (method, path, status, code) in expect {
        let op = operation(&doc, method, path);
        assert!(
            codes(op, status).iter().any(|c| c == code),
            "{method} {path}: {status} {code} documented"
        );
    }
}
