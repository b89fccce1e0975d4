//! Refunds that go wrong become staff work: an ABNORMAL refund, a CLOSED one, one WeChat Pay
//! refuses for good and one whose retries run out each reach the payment problems list, and
//! staff retry or resolve them (each an event, by the admin), until the owner sees `refunded`.

use crate::app::{spawn_app, HOLDER_PHONE};
use crate::production::{world, World};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PROBLEMS: &str = "/api/v1/admin/payments/problems";

/// A rejected renewal whose refund reached WeChat Pay: (owner, permit, renewal, order, refund
/// number).
struct Refunding {
    owner: String,
    permit_id: String,
    renewal_id: String,
    order_id: String,
}

async fn rejected_and_refund_asked(w: &World) -> Refunding {
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;
    w.pay.pay(&order_id, true).await;
    w.app
        .wait_renewal(&owner, &renewal_id, "under_review")
        .await;
    w.reject_and_ask_refund(&owner, &renewal_id).await;
    Refunding {
        owner,
        permit_id,
        renewal_id,
        order_id,
    }
}

/// Polls the problems list until it holds `n` items.
async fn problems(w: &World, admin: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = w.app.get(PROBLEMS, Some(admin)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().unwrap().clone();
        if items.len() == n {
            return items;
        }
        assert!(Instant::now() < deadline, "never {n} problems: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_keyed(
    w: &World,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(w.app.url(path))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    crate::app::json_of(req.send().await.unwrap()).await
}

/// The permit's events of `event_type` as the auditor reads them.
async fn audited(w: &World, permit_id: &str, event_type: &str) -> Vec<Value> {
    let auditor = w.app.auditor().await;
    let (status, body) = w
        .app
        .get(
            &format!("/api/v1/audit/permits/{permit_id}/events"),
            Some(&auditor),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .cloned()
        .collect()
}

async fn an_abnormal_refund_reaches_the_problem_list_and_is_resolved(backend: Backend) {
    let w = world(backend).await;
    let r = rejected_and_refund_asked(&w).await;
    let refund = w.wait_for_refund(1).await;
    assert_eq!(
        w.pay.finish_refund(&refund.out_refund_no, "ABNORMAL").await,
        StatusCode::NO_CONTENT
    );
    let admin = w.app.admin().await;
    let items = problems(&w, &admin, 1).await;
    let p = &items[0];
    assert_eq!(p["kind"], "refund_abnormal");
    assert_eq!(p["renewal_id"], r.renewal_id.as_str());
    assert_eq!(p["out_trade_no"], r.order_id.as_str());
    assert_eq!(p["out_refund_no"], refund.out_refund_no.as_str());
    assert_eq!(p["amount_fen"], 36000);
    assert!(p["since"].as_str().is_some_and(|s| s.ends_with('Z')), "{p}");
    assert!(!p["detail"].as_str().unwrap().is_empty(), "{p}");
    let problem_id = p["problem_id"].as_str().unwrap().to_string();
    w.app
        .wait_renewal(&r.owner, &r.renewal_id, "refund_failed")
        .await;

    // WeChat Pay holds an ABNORMAL refund: it is not asked again.
    let (status, body) = post_keyed(
        &w,
        &format!("{PROBLEMS}/{problem_id}/retry"),
        &admin,
        None,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "problem_not_retryable");
    // The owner cannot ask again either while the office handles it.
    let (status, body) = w
        .app
        .post(
            &format!("/api/v1/renewals/{}/refund", r.renewal_id),
            Some(&r.owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "refund_with_staff");

    let resolve = format!("{PROBLEMS}/{problem_id}/resolve");
    for bad in [json!({}), json!({"note": "  "})] {
        let (status, body) = post_keyed(&w, &resolve, &admin, None, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "note_required");
    }
    let note = json!({"note": "已在保卫处窗口现金退还, 收据 0042"});
    let (status, first) = post_keyed(&w, &resolve, &admin, Some("resolve-1"), note.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "resolved");
    let (status, again) = post_keyed(&w, &resolve, &admin, Some("resolve-1"), note.clone()).await;
    assert_eq!((status, &again), (StatusCode::OK, &first), "replayed");
    let (status, body) = post_keyed(&w, &resolve, &admin, None, note).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "problem_closed");
    let (status, body) = post_keyed(
        &w,
        &format!("{PROBLEMS}/{problem_id}/retry"),
        &admin,
        None,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "problem_closed");

    let resolved = audited(&w, &r.permit_id, "PaymentProblemResolved").await;
    assert_eq!(resolved.len(), 1, "resolved once");
    assert_eq!(
        resolved[0]["payload"]["PaymentProblemResolved"]["note"],
        "已在保卫处窗口现金退还, 收据 0042"
    );
    assert_eq!(resolved[0]["metadata"]["role"], "admin");
    assert!(
        resolved[0]["metadata"]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("staff:")),
        "{}",
        resolved[0]["metadata"]
    );
    w.app
        .wait_renewal(&r.owner, &r.renewal_id, "refunded")
        .await;
    problems(&w, &admin, 0).await;
}

async fn a_closed_refund_retried_under_a_new_number_shows_refunded_to_the_owner(backend: Backend) {
    let w = world(backend).await;
    let r = rejected_and_refund_asked(&w).await;
    let first = w.wait_for_refund(1).await;
    w.pay.finish_refund(&first.out_refund_no, "CLOSED").await;
    let admin = w.app.admin().await;
    let items = problems(&w, &admin, 1).await;
    assert_eq!(items[0]["kind"], "refund_closed");
    let problem_id = items[0]["problem_id"].as_str().unwrap().to_string();

    let retry = format!("{PROBLEMS}/{problem_id}/retry");
    let (status, body) = post_keyed(&w, &retry, &admin, Some("retry-1"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "retried");
    let (status, again) = post_keyed(&w, &retry, &admin, Some("retry-1"), json!({})).await;
    assert_eq!((status, &again), (StatusCode::OK, &body), "replayed");
    let second = w.wait_for_refund(2).await;
    assert_ne!(
        second.out_refund_no, first.out_refund_no,
        "a new refund number"
    );
    assert_eq!(
        (second.refund, second.out_trade_no.as_str()),
        (36000, r.order_id.as_str())
    );
    assert_eq!(w.pay.refunds().len(), 2, "asked once more, not twice");
    problems(&w, &admin, 0).await;
    w.app
        .wait_renewal(&r.owner, &r.renewal_id, "refund_failed")
        .await;

    w.pay.finish_refund(&second.out_refund_no, "SUCCESS").await;
    w.app
        .wait_renewal(&r.owner, &r.renewal_id, "refunded")
        .await;
    let (status, body) = post_keyed(&w, &retry, &admin, None, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "problem_closed");
    let retried = audited(&w, &r.permit_id, "PaymentProblemRetried").await;
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0]["metadata"]["role"], "admin");
}

async fn a_refund_wechat_pay_refuses_for_good_appears_and_its_retry_reuses_the_number(
    backend: Backend,
) {
    let w = world(backend).await;
    w.pay.refuse_refunds(Some("NO_AUTH"));
    let r = rejected_and_refund_asked(&w).await;
    let admin = w.app.admin().await;
    let items = problems(&w, &admin, 1).await;
    assert_eq!(items[0]["kind"], "refund_refused");
    assert!(
        items[0]["detail"].as_str().unwrap().contains("NO_AUTH"),
        "{}",
        items[0]
    );
    assert!(w.pay.refunds().is_empty());
    let out_refund_no = items[0]["out_refund_no"].as_str().unwrap().to_string();
    w.app
        .wait_renewal(&r.owner, &r.renewal_id, "refund_failed")
        .await;

    // The merchant set-up fixed, staff retry: the same refund number goes to WeChat Pay.
    w.pay.refuse_refunds(None);
    let problem_id = items[0]["problem_id"].as_str().unwrap();
    let (status, body) = post_keyed(
        &w,
        &format!("{PROBLEMS}/{problem_id}/retry"),
        &admin,
        None,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refund = w.wait_for_refund(1).await;
    assert_eq!(refund.out_refund_no, out_refund_no);
    w.pay.finish_refund(&refund.out_refund_no, "SUCCESS").await;
    w.app
        .wait_renewal(&r.owner, &r.renewal_id, "refunded")
        .await;
}

async fn a_refund_whose_retries_run_out_appears_as_a_problem(backend: Backend) {
    let w = world(backend).await;
    w.pay.fail_refunds(true);
    let r = rejected_and_refund_asked(&w).await;
    // The first attempt failed and backs off; fast-forward it to its last attempt.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let tried: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE kind = 'refund' AND attempts >= 1
                AND status = 'pending' AND last_error IS NOT NULL",
        )
        .fetch_one(&w.app.t.store.db.read)
        .await
        .unwrap();
        if tried == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the refund was never tried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sqlx::query(
        "UPDATE outbox SET attempts = 19, next_attempt_at = '2000-01-01T00:00:00.000Z'
          WHERE kind = 'refund'",
    )
    .execute(&w.app.t.store.db.write)
    .await
    .unwrap();
    let admin = w.app.admin().await;
    let items = problems(&w, &admin, 1).await;
    assert_eq!(items[0]["kind"], "refund_retries_exhausted");
    assert!(
        items[0]["detail"]
            .as_str()
            .unwrap()
            .contains("SYSTEM_ERROR"),
        "{}",
        items[0]
    );
    assert_eq!(items[0]["renewal_id"], r.renewal_id.as_str());
    w.app
        .wait_renewal(&r.owner, &r.renewal_id, "refund_failed")
        .await;
}

async fn the_problems_routes_are_for_admins_and_name_unknown_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let reviewer = app.reviewer().await;
    let lot = app.lot(&admin).await;
    app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let owner = app.login(&lot, HOLDER_PHONE).await;
    let retry = format!("{PROBLEMS}/{}-1/retry", uuid::Uuid::new_v4().simple());
    let (status, _) = app.get(PROBLEMS, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for token in [&reviewer, &owner] {
        let (status, _) = app.get(PROBLEMS, Some(token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app.post(&retry, Some(token), json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, body) = app.get(PROBLEMS, Some(&admin)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"items": []})));
    for path in [
        retry.clone(),
        format!("{PROBLEMS}/not-a-problem/retry"),
        format!("{PROBLEMS}/not-a-problem/resolve"),
    ] {
        let (status, body) = app.post(&path, Some(&admin), json!({"note": "x"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"]["code"], "no_problem");
    }
}

crate::on_both_backends!(
    an_abnormal_refund_reaches_the_problem_list_and_is_resolved,
    a_closed_refund_retried_under_a_new_number_shows_refunded_to_the_owner,
    a_refund_wechat_pay_refuses_for_good_appears_and_its_retry_reuses_the_number,
    a_refund_whose_retries_run_out_appears_as_a_problem,
    the_problems_routes_are_for_admins_and_name_unknown_problems,
);
