//! The binary's command line, run as a newcomer would.

use crate::helpers::TestDb;
use permit_ledger::app::staff::authenticate;
use permit_ledger::store::EventLog;
use std::process::Command;

fn permit_ledger(db: &TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run permit-ledger")
}

#[tokio::test]
async fn migrate_prepares_an_empty_database() {
    let db = TestDb::fresh().await;
    let out = permit_ledger(&db, &["migrate"]);
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

#[tokio::test]
async fn staff_add_prints_the_token_alone_and_keeps_only_its_hash() {
    let db = TestDb::fresh().await;
    let out = permit_ledger(
        &db,
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

    let log = db.log().await;
    let staff = authenticate(&log, token)
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
    assert!(authenticate(&log, "plt_wrong").await.unwrap().is_none());

    let EventLog::Postgres(pg) = &log;
    let leaked: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%'
                 OR metadata::text LIKE '%' || $1 || '%')
              + (SELECT count(*) FROM staff_credentials WHERE token_digest = $1)",
    )
    .bind(token)
    .fetch_one(pg.pool())
    .await
    .unwrap();
    assert_eq!(leaked, 0, "the token itself is stored nowhere");
}

#[tokio::test]
async fn staff_add_refuses_an_unknown_role_and_a_blank_name() {
    let db = TestDb::fresh().await;
    let out = permit_ledger(&db, &["staff", "add", "--role", "owner", "--name", "x"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let out = permit_ledger(&db, &["staff", "add", "--role", "admin", "--name", " "]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("name"));
}

#[test]
fn without_a_database_url_the_binary_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}
