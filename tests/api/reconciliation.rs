//! `permit-ledger reconcile` and `GET /api/v1/admin/reconciliation`: production mode against
//! the WeChat Pay stand-in's trade bill (a clean day, a row the ledger lacks, a bill whose
//! digest is wrong), and the sandbox's own bill on a fresh store. The bill parser's reading of
//! WeChat's sample bill is a unit test (src/payments/wechat/bill.rs).

use crate::helpers::TestStore;
use crate::production::{world, World};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Output;

/// Today in China, as the stand-in dates its bill rows.
fn china_today() -> String {
    aggregates::business_time::business_date(chrono::Utc::now()).to_string()
}

/// Runs `permit-ledger reconcile --date DATE --json` with the service's store and settings.
fn reconcile(w: &World, mode: &str, date: &str) -> (Option<i32>, Value, String) {
    let out: Output = std::process::Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args(["reconcile", "--date", date, "--json"])
        .env_clear()
        .envs(w.env.iter())
        .envs(w.app.t.env())
        .env("PERMIT_LEDGER_MODE", mode)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run permit-ledger");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code(), report, stderr)
}

/// A renewal paid at the stand-in and recorded by the service; its order number.
async fn paid_renewal(w: &World) -> (String, String, String) {
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;
    assert_eq!(
        w.pay.pay(&order_id, true).await,
        Some(StatusCode::NO_CONTENT)
    );
    w.app
        .wait_renewal(&owner, &renewal_id, "under_review")
        .await;
    (owner, renewal_id, order_id)
}

async fn a_clean_day_reconciles_with_exit_0(backend: Backend) {
    let w = world(backend).await;
    let (owner, renewal_id, _) = paid_renewal(&w).await;
    // Rejected and refunded the same day: a payment row and a refund row.
    w.reject_and_ask_refund(&owner, &renewal_id).await;
    let refund = w.wait_for_refund(1).await;
    assert_eq!(
        w.pay.finish_refund(&refund.out_refund_no, "SUCCESS").await,
        StatusCode::NO_CONTENT
    );
    w.app.wait_renewal(&owner, &renewal_id, "refunded").await;

    let today = china_today();
    let (code, report, stderr) = reconcile(&w, "production", &today);
    assert_eq!(code, Some(0), "{report}\n{stderr}");
    let figures = json!({"payments": 1, "payment_fen": 36000, "refunds": 1, "refund_fen": 36000});
    assert_eq!(
        report,
        json!({"date": today, "ok": true, "bill": figures, "ledger": figures, "mismatches": []})
    );
    assert!(
        w.pay
            .calls()
            .iter()
            .any(|c| c == "GET /v3/billdownload/file"),
        "the bill was downloaded: {:?}",
        w.pay.calls()
    );
    assert_eq!(
        w.pay.refused(),
        0,
        "every request to WeChat Pay was signed right"
    );
}

async fn a_reconciliation_names_a_row_the_ledger_lacks(backend: Backend) {
    let w = world(backend).await;
    let (_, _, order_id) = paid_renewal(&w).await;
    let today = china_today();
    w.pay.add_bill_payment(&today, "PL20990101000001", 12345);

    let (code, report, stderr) = reconcile(&w, "production", &today);
    assert_eq!(code, Some(1), "{report}\n{stderr}");
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["mismatches"],
        json!([{"kind": "missing_in_ledger", "out_trade_no": "PL20990101000001",
                "bill_fen": 12345}]),
        "only the row the ledger lacks; the paid order {order_id} matched"
    );
    assert_eq!(report["bill"]["payments"], 2);
    assert_eq!(report["ledger"]["payments"], 1);

    // The admin sees the same result.
    let admin = w.app.admin().await;
    let (status, body) = w
        .app
        .get(
            &format!("/api/v1/admin/reconciliation?date={today}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for field in ["date", "ok", "bill", "ledger", "mismatches"] {
        assert_eq!(body[field], report[field], "{field}");
    }
    assert_eq!(body["ran_by"], "cli");

    // Another day has no result; a date that is not one is refused; owners may not look.
    let (status, body) = w
        .app
        .get("/api/v1/admin/reconciliation?date=2001-01-01", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "no_reconciliation");
    let (status, body) = w
        .app
        .get("/api/v1/admin/reconciliation?date=2025-13-01", Some(&admin))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_date");
    let (status, _) = w
        .app
        .get(&format!("/api/v1/admin/reconciliation?date={today}"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn a_bill_whose_hash_does_not_match_is_refused_with_exit_2(backend: Backend) {
    let w = world(backend).await;
    paid_renewal(&w).await;
    let today = china_today();
    w.pay.corrupt_next_bill_hash();
    let (code, report, stderr) = reconcile(&w, "production", &today);
    assert_eq!(code, Some(2), "{report}\n{stderr}");
    assert!(stderr.contains("SHA1"), "{stderr}");
    // Nothing was compared, so nothing is kept.
    let admin = w.app.admin().await;
    let (status, body) = w
        .app
        .get(
            &format!("/api/v1/admin/reconciliation?date={today}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn sandbox_reconcile_on_a_fresh_store_agrees(backend: Backend) {
    let t = TestStore::new(backend).await;
    let data = crate::helpers::TempDir::new();
    let mut env = t.env();
    if backend == Backend::Postgres {
        env.push(("PERMIT_LEDGER_DATA_DIR", data.0.display().to_string()));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args(["reconcile", "--date", "2022-05-19", "--json"])
        .env_clear()
        .envs(env)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run permit-ledger");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let zero = json!({"payments": 0, "payment_fen": 0, "refunds": 0, "refund_fen": 0});
    assert_eq!(
        report,
        json!({"date": "2022-05-19", "ok": true, "bill": zero, "ledger": zero, "mismatches": []})
    );
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM reconciliations WHERE bill_date = $1")
        .bind("2022-05-19")
        .fetch_one(&t.store.db.read)
        .await
        .unwrap();
    assert_eq!(kept, 1, "the result is kept");
}

#[test]
fn a_date_that_is_not_one_exits_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args(["reconcile", "--date", "2025-02-30"])
        .env_clear()
        .output()
        .expect("run permit-ledger");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--date"));
}

crate::on_both_backends!(
    a_clean_day_reconciles_with_exit_0,
    a_reconciliation_names_a_row_the_ledger_lacks,
    a_bill_whose_hash_does_not_match_is_refused_with_exit_2,
    sandbox_reconcile_on_a_fresh_store_agrees,
);
