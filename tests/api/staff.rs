//! The staff list and revocation over HTTP, and tokens that expire, on both stores.

use crate::app::spawn_app;
use aggregates::metadata::Role;
use aggregates::staff::TokenTerm;
use permit_ledger::services::Settings;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn id_of<'a>(list: &'a Value, name: &str) -> &'a str {
    list["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["staff_id"].as_str())
        .unwrap_or_else(|| panic!("{name} listed: {list}"))
}

async fn add(app: &crate::app::TestApp, name: &str, roles: &[Role]) -> String {
    permit_ledger::app::staff::add_staff(
        &app.services.ledger,
        &app.services.store.db,
        name.into(),
        roles.to_vec(),
        &crate::helpers::admin_meta(),
    )
    .await
    .unwrap()
    .1
}

/// An admin sees every member with roles, status and expiry; other roles may not.
async fn an_admin_lists_the_staff_with_status_and_expiry(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = add(&app, "管理员", &[Role::Admin]).await;
    let reviewer = add(&app, "审核员", &[Role::Reviewer, Role::Auditor]).await;

    let (status, body) = app.get("/api/v1/admin/staff", Some(&reviewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.get("/api/v1/admin/staff", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let (status, list) = app.get("/api/v1/admin/staff", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let members = list["staff"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{list}");
    let member = &members[1];
    assert_eq!(member["name"], "审核员");
    assert_eq!(member["roles"], json!(["auditor", "reviewer"]));
    assert_eq!(member["status"], "active");
    let expires: chrono::DateTime<chrono::Utc> =
        member["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((89.9..=90.0).contains(&days), "expires in {days} days");
    assert!(member["staff_id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .is_ok());
    assert!(
        member.get("token_digest").is_none(),
        "no digest in the list: {member}"
    );
}

/// A revoked member's token answers 401 at once, on this instance and another, and still after
/// the credentials table is lost and a new instance rebuilds it from the ledger; revoking twice,
/// an unknown id and oneself are refused with their codes.
async fn a_revoked_token_is_refused_everywhere_and_after_a_restart(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = add(&app, "管理员", &[Role::Admin]).await;
    let reviewer = add(&app, "审核员", &[Role::Reviewer]).await;
    let other = app.second_instance(Settings::default()).await;
    let (status, _) = other.get("/api/v1/review/queue", Some(&reviewer)).await;
    assert_eq!(status, StatusCode::OK, "the reviewer works before");

    let (_, list) = app.get("/api/v1/admin/staff", Some(&admin)).await;
    let reviewer_id = id_of(&list, "审核员").to_string();
    let admin_id = id_of(&list, "管理员").to_string();
    let events = app.event_count().await;
    let path = format!("/api/v1/admin/staff/{reviewer_id}/revoke");
    let (status, body) = app.post(&path, Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["position"].as_i64().unwrap() > 0, "{body}");
    assert_eq!(app.event_count().await, events + 1);

    for instance in [&app, &other] {
        let (status, body) = instance.get("/api/v1/review/queue", Some(&reviewer)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(code_of(&body), "invalid_token");
    }
    let (_, list) = app.get("/api/v1/admin/staff", Some(&admin)).await;
    let listed = list["staff"].as_array().unwrap();
    assert_eq!(listed[1]["status"], "revoked", "{list}");

    let (status, body) = app.post(&path, Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code_of(&body), "already_revoked");
    let unknown = format!("/api/v1/admin/staff/{}/revoke", uuid::Uuid::new_v4());
    let (status, body) = app.post(&unknown, Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(code_of(&body), "no_staff");
    let (status, body) = app
        .post("/api/v1/admin/staff/nobody/revoke", Some(&admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(code_of(&body), "no_staff");
    let myself = format!("/api/v1/admin/staff/{admin_id}/revoke");
    let (status, body) = app.post(&myself, Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code_of(&body), "cannot_revoke_self");
    assert_eq!(
        app.event_count().await,
        events + 1,
        "refusals append nothing"
    );
    let (status, _) = app.get("/api/v1/admin/staff", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "the admin still works");

    drop(other);
    sqlx::query("DELETE FROM staff_credentials")
        .execute(&app.t.store.db.write)
        .await
        .unwrap();
    let restarted = app.second_instance(Settings::default()).await;
    let (status, body) = restarted.get("/api/v1/review/queue", Some(&reviewer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = restarted.get("/api/v1/admin/staff", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A token past its expiry answers 401 and is listed `expired`; rotating issues one that works.
async fn an_expired_token_is_refused_until_rotated(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = add(&app, "管理员", &[Role::Admin]).await;
    let issued = TokenTerm {
        now: chrono::Utc::now() - chrono::Duration::days(31),
        days: 30,
    };
    let (staff_id, stale) = permit_ledger::app::staff::add_staff_for(
        &app.services.ledger,
        &app.services.store.db,
        "审核员".into(),
        vec![Role::Reviewer],
        issued,
        &crate::helpers::admin_meta(),
    )
    .await
    .unwrap();
    let (status, body) = app.get("/api/v1/review/queue", Some(&stale)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code_of(&body), "invalid_token");
    let (_, list) = app.get("/api/v1/admin/staff", Some(&admin)).await;
    assert_eq!(list["staff"][1]["status"], "expired", "{list}");

    let fresh = permit_ledger::app::staff::rotate_staff(
        &app.services.ledger,
        &app.services.store.db,
        staff_id,
        TokenTerm {
            now: chrono::Utc::now(),
            days: 30,
        },
        &crate::helpers::admin_meta(),
    )
    .await
    .unwrap();
    let (status, body) = app.get("/api/v1/review/queue", Some(&fresh)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, list) = app.get("/api/v1/admin/staff", Some(&admin)).await;
    assert_eq!(list["staff"][1]["status"], "active", "{list}");
}

/// A revocation retried with its `Idempotency-Key` replays the first answer rather than 409.
async fn a_retried_revocation_with_its_key_replays_the_first_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = add(&app, "管理员", &[Role::Admin]).await;
    add(&app, "审核员", &[Role::Reviewer]).await;
    let (_, list) = app.get("/api/v1/admin/staff", Some(&admin)).await;
    let path = format!("/api/v1/admin/staff/{}/revoke", id_of(&list, "审核员"));
    let send = || {
        app.http
            .post(app.url(&path))
            .bearer_auth(&admin)
            .header("idempotency-key", "revoke-1")
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let events = app.event_count().await;
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(app.event_count().await, events, "nothing appended twice");
}

crate::on_both_backends!(
    a_retried_revocation_with_its_key_replays_the_first_answer,
    an_admin_lists_the_staff_with_status_and_expiry,
    a_revoked_token_is_refused_everywhere_and_after_a_restart,
    an_expired_token_is_refused_until_rotated,
);
