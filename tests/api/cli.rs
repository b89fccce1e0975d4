//! The binary's command line, run as a newcomer would, on both stores.

use crate::helpers::{TempDir, TestDb, TestStore};
use permit_ledger::app::staff::authenticate;
use permit_ledger::store::Backend;
use std::process::Command;

fn permit_ledger(env: &[(&str, String)], args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run permit-ledger")
}

#[tokio::test]
async fn migrate_prepares_an_empty_postgres_database() {
    let db = TestDb::fresh().await;
    let out = permit_ledger(&[("DATABASE_URL", db.url.clone())], &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(tables.contains(&"events".to_string()), "{tables:?}");
    pool.close().await;
}

#[test]
fn without_a_database_url_the_embedded_store_is_created_in_the_data_folder() {
    let dir = TempDir::new();
    let data = dir.0.join("nested").join("data");
    let out = permit_ledger(
        &[
            ("DATABASE_URL", String::new()),
            ("PERMIT_LEDGER_DATA_DIR", data.display().to_string()),
        ],
        &["migrate"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(permit_ledger::store::sqlite_path(&data).exists());
}

#[test]
fn an_unsupported_database_url_is_refused_with_a_clear_message() {
    let out = permit_ledger(
        &[("DATABASE_URL", "mysql://localhost/x".into())],
        &["migrate"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres://"));
}

async fn staff_add_prints_the_token_alone_and_keeps_only_its_hash(t: TestStore) {
    let out = permit_ledger(
        &t.env(),
        &[
            "staff",
            "add",
            "--role",
            "reviewer",
            "--role",
            "admin",
            "--name",
            "李老师",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone on stdout: {stdout:?}");
    let token = lines[0];
    assert!(token.starts_with("plt_") && token.len() > 40, "{token}");

    let staff = authenticate(&t.store.db, token)
        .await
        .unwrap()
        .expect("token works");
    assert_eq!(staff.name, "李老师");
    assert_eq!(
        staff.roles,
        [
            aggregates::metadata::Role::Admin,
            aggregates::metadata::Role::Reviewer
        ]
    );
    assert!(authenticate(&t.store.db, "plt_wrong")
        .await
        .unwrap()
        .is_none());

    let text = |column: &str| match t.store.backend() {
        Backend::Postgres => format!("{column}::text"),
        Backend::Sqlite => column.to_string(),
    };
    let sql = format!(
        "SELECT (SELECT count(*) FROM events WHERE {} LIKE '%' || $1 || '%'
                 OR {} LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM staff_credentials WHERE token_digest = $1)",
        text("payload"),
        text("metadata")
    );
    let leaked: i64 = sqlx::query_scalar(&sql)
        .bind(token)
        .fetch_one(&t.store.db.read)
        .await
        .unwrap();
    assert_eq!(leaked, 0, "the token itself is stored nowhere");
}

async fn staff_add_refuses_an_unknown_role_and_a_blank_name(t: TestStore) {
    let out = permit_ledger(
        &t.env(),
        &["staff", "add", "--role", "owner", "--name", "x"],
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let out = permit_ledger(
        &t.env(),
        &["staff", "add", "--role", "admin", "--name", " "],
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("name"));
}

crate::on_both_stores!(
    staff_add_prints_the_token_alone_and_keeps_only_its_hash,
    staff_add_refuses_an_unknown_role_and_a_blank_name,
);

/// A staff member whose credentials row is lost (a crash between the event and the row, or a
/// ledger moved to another store) gets it back from the ledger when the service starts.
async fn staff_credentials_are_restored_from_the_ledger(t: TestStore) {
    let meta = crate::helpers::admin_meta();
    let (_, token) = permit_ledger::app::staff::add_staff(
        &t.ledger,
        &t.store.db,
        "李老师".into(),
        vec![aggregates::metadata::Role::Reviewer],
        &meta,
    )
    .await
    .unwrap();
    sqlx::query("DELETE FROM staff_credentials")
        .execute(&t.store.db.write)
        .await
        .unwrap();
    assert!(authenticate(&t.store.db, &token).await.unwrap().is_none());
    let restored = permit_ledger::app::staff::sync_credentials(&t.store.log, &t.store.db)
        .await
        .unwrap();
    assert_eq!(restored, 1);
    let staff = authenticate(&t.store.db, &token).await.unwrap().unwrap();
    assert_eq!(staff.roles, [aggregates::metadata::Role::Reviewer]);
    assert_eq!(
        permit_ledger::app::staff::sync_credentials(&t.store.log, &t.store.db)
            .await
            .unwrap(),
        0
    );
}

crate::on_both_stores!(staff_credentials_are_restored_from_the_ledger);

#[test]
fn a_zero_code_limit_is_refused_at_start_with_the_setting_named() {
    let dir = TempDir::new();
    let out = permit_ledger(
        &[
            ("DATABASE_URL", String::new()),
            ("PERMIT_LEDGER_DATA_DIR", dir.0.display().to_string()),
            ("PERMIT_LEDGER_CODES_PER_ADDRESS", "0".into()),
        ],
        &["serve"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap's usage error, not a panic"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("codes-per-address"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.0.join("ledger.sqlite3").exists(), "nothing opened");
}

/// `outbox failed` lists a held notice; `outbox resend` refuses an empty reason or an unknown
/// id (exit 2) and re-queues the notice with the reason recorded.
async fn outbox_failed_lists_held_notices_and_resend_records_the_reason(t: TestStore) {
    sqlx::query(
        "INSERT INTO outbox (id, kind, payload, status, attempts, next_attempt_at, last_error, created_at)
         VALUES ('sms:9', 'sms', '{}', 'failed', 1, '2022-05-20T02:00:00.000Z',
                 'the answer to attempt 1 was lost', '2022-05-20T02:00:00.000Z')",
    )
    .execute(&t.store.db.write)
    .await
    .unwrap();
    let out = permit_ledger(&t.env(), &["outbox", "failed", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["id"], "sms:9");
    assert_eq!(listed[0]["kind"], "sms");
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let out = permit_ledger(
        &t.env(),
        &["outbox", "resend", "--id", "sms:9", "--reason", " "],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reason"));
    let out = permit_ledger(
        &t.env(),
        &["outbox", "resend", "--id", "sms:8", "--reason", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = permit_ledger(
        &t.env(),
        &[
            "outbox",
            "resend",
            "--id",
            "sms:9",
            "--reason",
            "not delivered, says the console",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: String = sqlx::query_scalar("SELECT status FROM outbox WHERE id = 'sms:9'")
        .fetch_one(&t.store.db.read)
        .await
        .unwrap();
    assert_eq!(status, "pending");
    let attempts = permit_ledger::sms::attempts::list(&t.store.db, "sms:9")
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome.as_deref(), Some("resend_authorised"));
    assert_eq!(
        attempts[0].detail.as_deref(),
        Some("not delivered, says the console")
    );
}

crate::on_both_stores!(outbox_failed_lists_held_notices_and_resend_records_the_reason);

fn stdout_token(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone on stdout: {stdout:?}");
    assert!(lines[0].starts_with("plt_"), "{stdout:?}");
    lines[0].to_string()
}

fn staff_list(t: &TestStore) -> Vec<serde_json::Value> {
    let out = permit_ledger(&t.env(), &["staff", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn forget_credentials_and_restart(t: &TestStore) {
    sqlx::query("DELETE FROM staff_credentials")
        .execute(&t.store.db.write)
        .await
        .unwrap();
    permit_ledger::app::staff::sync_credentials(&t.store.log, &t.store.db)
        .await
        .unwrap();
}

/// `staff rotate` prints a new token alone and the old one stops working; `staff revoke` ends
/// the member's access; `staff list` shows both; and neither comes undone when the credentials
/// table is lost and rebuilt from the ledger at the next start.
async fn staff_rotate_and_revoke_hold_across_a_rebuild_of_the_credentials(t: TestStore) {
    let mut env = t.env();
    env.push(("PERMIT_LEDGER_STAFF_TOKEN_DAYS", "30".into()));
    let add = |name: &str| {
        stdout_token(&permit_ledger(
            &env,
            &["staff", "add", "--role", "admin", "--name", name],
        ))
    };
    let (first, second) = (add("甲"), add("乙"));
    let listed = staff_list(&t);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["name"], "甲");
    assert_eq!(listed[0]["roles"], serde_json::json!(["admin"]));
    assert_eq!(listed[0]["status"], "active");
    let expires: chrono::DateTime<chrono::Utc> =
        listed[0]["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.0).contains(&days), "expires in {days} days");
    let id = |i: usize| listed[i]["staff_id"].as_str().unwrap().to_string();
    let (first_id, second_id) = (id(0), id(1));

    let rotated = stdout_token(&permit_ledger(
        &t.env(),
        &["staff", "rotate", "--id", &second_id],
    ));
    assert_ne!(rotated, second);
    assert!(authenticate(&t.store.db, &second).await.unwrap().is_none());
    assert_eq!(
        authenticate(&t.store.db, &rotated)
            .await
            .unwrap()
            .unwrap()
            .name,
        "乙"
    );

    let out = permit_ledger(&t.env(), &["staff", "revoke", "--id", &first_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(authenticate(&t.store.db, &first).await.unwrap().is_none());
    let listed = staff_list(&t);
    assert_eq!(listed[0]["status"], "revoked");
    assert_eq!(listed[1]["status"], "active");

    let out = permit_ledger(&t.env(), &["staff", "revoke", "--id", &first_id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("revoked already"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = permit_ledger(&t.env(), &["staff", "rotate", "--id", &first_id]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no token for a revoked member");

    forget_credentials_and_restart(&t).await;
    assert!(authenticate(&t.store.db, &first).await.unwrap().is_none());
    assert!(authenticate(&t.store.db, &second).await.unwrap().is_none());
    assert!(authenticate(&t.store.db, &rotated).await.unwrap().is_some());
}

async fn staff_revoke_and_rotate_refuse_an_unknown_id(t: TestStore) {
    let unknown = uuid::Uuid::new_v4().to_string();
    for command in ["revoke", "rotate"] {
        let out = permit_ledger(&t.env(), &["staff", command, "--id", &unknown]);
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no such staff member"), "{stderr}");
    }
    let out = permit_ledger(&t.env(), &["staff", "revoke", "--id", "李老师"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
}

crate::on_both_stores!(
    staff_rotate_and_revoke_hold_across_a_rebuild_of_the_credentials,
    staff_revoke_and_rotate_refuse_an_unknown_id,
);

#[test]
fn a_token_term_out_of_range_is_refused_with_the_setting_named() {
    let dir = TempDir::new();
    for days in ["0", "3651"] {
        let out = permit_ledger(
            &[
                ("DATABASE_URL", String::new()),
                ("PERMIT_LEDGER_DATA_DIR", dir.0.display().to_string()),
                ("PERMIT_LEDGER_STAFF_TOKEN_DAYS", days.into()),
            ],
            &["staff", "add", "--role", "admin", "--name", "x"],
        );
        assert_eq!(out.status.code(), Some(2), "clap's usage error");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("token-days"), "{stderr}");
    }
}

/// A member added before tokens expired (a version 1 `StaffAdded`, no expiry) keeps a working
/// token, expiring 90 days after the event was recorded.
async fn a_token_from_before_expiry_existed_expires_90_days_after_it_was_issued(t: TestStore) {
    let token = permit_ledger::app::staff::new_token();
    let digest = permit_ledger::app::staff::token_digest(&token);
    let meta = serde_json::to_value(crate::helpers::admin_meta().to_map()).unwrap();
    let staff_id = uuid::Uuid::new_v4().to_string();
    let stored = t
        .store
        .log
        .append(
            "staff",
            &staff_id,
            0,
            permit_ledger::store::GENESIS,
            &[permit_ledger::store::NewEvent {
                event_type: "StaffAdded".into(),
                event_version: "1".into(),
                payload: serde_json::json!({"StaffAdded": {"name": "老王", "roles": ["admin"],
                    "token_digest": digest}}),
                metadata: meta,
            }],
        )
        .await
        .unwrap();
    forget_credentials_and_restart(&t).await;
    assert!(authenticate(&t.store.db, &token).await.unwrap().is_some());
    let listed = staff_list(&t);
    let expires: chrono::DateTime<chrono::Utc> =
        listed[0]["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires.timestamp_millis(),
        (stored[0].recorded_at + chrono::Duration::days(90)).timestamp_millis()
    );
    assert_eq!(listed[0]["status"], "active");
}

crate::on_both_stores!(a_token_from_before_expiry_existed_expires_90_days_after_it_was_issued);

/// `staff add --role gate` prints a token the running service's gate check accepts, for a card
/// the desk issued; it may do nothing else.
async fn a_gate_token_from_staff_add_checks_cars_and_nothing_else(t: TestStore) {
    use crate::faults::{call, staff, start};
    use reqwest::StatusCode;
    use serde_json::json;
    let admin = staff(&t, "admin");
    let gate = stdout_token(&permit_ledger(
        &t.env(),
        &["staff", "add", "--role", "gate", "--name", "东门道闸"],
    ));
    let mut server = start(&t);
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let (status, lot) = call(&http, "POST", format!("{base}/api/v1/admin/lots"), Some(&admin), json!({
        "name": "北京大学医学部",
        "product": {"name": "北京大学医学部通行证", "price_fen": 36000, "period_months": 12, "season_starts": "06-01"},
        "consent": {"version": "2022-05", "text": "通过审核后则无法再次申请"}})).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{lot}");
    let lot = lot["lot_id"].as_str().unwrap().to_string();
    let (status, card) = call(
        &http,
        "POST",
        format!("{base}/api/v1/admin/permits"),
        Some(&admin),
        json!({"lot_id": lot, "plate": "京A66666", "holder_name": "王老师", "phone": "13800138000",
               "valid_from": "2021-06-01", "valid_to": "2022-05-31"}),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let position = card["position"].as_i64().unwrap();
    let check = format!(
        "{base}/api/v1/gate/check?lot_id={lot}&plate=%E4%BA%ACa66666&after_position={position}"
    );
    let (status, answer) = call(&http, "GET", check.clone(), Some(&gate), json!({}))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["allowed"], true, "{answer}");
    assert_eq!(answer["reason"], "active", "{answer}");
    assert_eq!(answer["permit_id"], card["permit_id"], "{answer}");
    let (status, _) = call(&http, "GET", check, Some(&admin), json!({}))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &http,
        "GET",
        format!("{base}/api/v1/review/queue"),
        Some(&gate),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

crate::on_both_stores!(a_gate_token_from_staff_add_checks_cars_and_nothing_else);
