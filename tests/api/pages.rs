//! The pages' routes (api.md § Pages): each file with its type and the strict
//! Content-Security-Policy, and unknown paths still JSON 404s.

use crate::app::spawn_app;
use permit_ledger::store::Backend;
use reqwest::StatusCode;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; \
    base-uri 'none'; frame-ancestors 'none'";

async fn every_page_and_file_is_served_with_its_type_and_the_csp(backend: Backend) {
    let app = spawn_app(backend).await;
    let files = [
        (
            "/lots/991187c3-9bea-4796-8ed8-a05b17e27e2b",
            "text/html",
            "/ui/owner.js",
        ),
        ("/review", "text/html", "/ui/review.js"),
        ("/ui/style.css", "text/css", ".photo"),
        ("/ui/api.js", "text/javascript", "Bearer"),
        ("/ui/messages.js", "text/javascript", "refund_required"),
        ("/ui/plate.js", "text/javascript", "parsePlate"),
        ("/ui/owner.js", "text/javascript", "getBrandWCPayRequest"),
        ("/ui/review.js", "text/javascript", "确认拒绝"),
    ];
    for (path, kind, contains) in files {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let headers = r.headers().clone();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}: {:?}",
            headers["content-type"]
        );
        assert_eq!(headers["content-security-policy"], CSP, "{path}");
        assert!(headers.get("set-cookie").is_none(), "{path}: no cookie");
        let body = r.text().await.unwrap();
        assert!(body.contains(contains), "{path} holds {contains}");
        assert!(
            !body.contains("<script>") && !body.contains("http://") && !body.contains("https://"),
            "{path}: no inline script, nothing from elsewhere"
        );
    }
    let (status, body) = app.get("/ui/nothing.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let r = app.http.post(app.url("/review")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

crate::on_both_backends!(every_page_and_file_is_served_with_its_type_and_the_csp,);
