//! Privacy: with debug logging on, the service's logs never carry a phone number, an SMS code
//! or a bearer token, and every request's log lines carry its request id.

use crate::helpers::TestStore;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

async fn logs_carry_no_phone_code_or_token(t: TestStore) {
    let staff = Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args(["staff", "add", "--role", "admin", "--name", "李老师"])
        .envs(t.env())
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let admin = String::from_utf8(staff.stdout).unwrap().trim().to_string();
    let staff_log = String::from_utf8_lossy(&staff.stderr).to_string();
    assert!(!staff_log.contains(&admin), "the staff token is not logged");

    let mut child = Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .arg("serve")
        .envs(t.env())
        .env("PERMIT_LEDGER_BIND", "127.0.0.1:0")
        .env("PERMIT_LEDGER_SANDBOX_NOW", "2022-05-20T02:00:00Z")
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.split("listening on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let base = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |path: String, token: Option<String>, body: serde_json::Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let mut req = http.post(format!("{base}{path}")).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap_or_default()
        }
    };
    let lot = post("/api/v1/admin/lots".into(), Some(admin.clone()), serde_json::json!({
        "name": "北京大学医学部", "product": {"name": "通行证", "price_fen": 36000,
        "period_months": 12, "season_starts": "06-01"}, "consent": {"version": "v1", "text": "同意"}})).await;
    let lot = lot["lot_id"].as_str().unwrap().to_string();
    post(
        "/api/v1/admin/permits".into(),
        Some(admin.clone()),
        serde_json::json!({
        "lot_id": lot, "plate": "京A66666", "holder_name": "王老师", "phone": "13912345678",
        "valid_from": "2021-06-01", "valid_to": "2022-05-31"}),
    )
    .await;
    post(
        format!("/api/v1/lots/{lot}/codes"),
        None,
        serde_json::json!({"phone": "13912345678"}),
    )
    .await;
    let inbox: serde_json::Value = http
        .get(format!("{base}/sandbox/sms?phone=13912345678"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = inbox["messages"][0]["code"].as_str().unwrap().to_string();
    let session = post(
        format!("/api/v1/lots/{lot}/sessions"),
        None,
        serde_json::json!({"phone": "13912345678", "code": code}),
    )
    .await;
    let owner = session["token"].as_str().unwrap().to_string();
    post(
        "/api/v1/vehicles".into(),
        Some(owner.clone()),
        serde_json::json!({"plate": "京A66666"}),
    )
    .await;
    post(
        format!("/api/v1/lots/{lot}/sessions"),
        None,
        serde_json::json!({"phone": "13912345678", "code": "000000"}),
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let log = reader.join().unwrap();
    assert!(log.contains("request"), "the log was captured: {log}");
    for secret in ["13912345678", code.as_str(), owner.as_str(), admin.as_str()] {
        assert!(!log.contains(secret), "{secret} appears in the log");
    }
    // Every request span names its request id.
    let request_lines: Vec<&str> = log.lines().filter(|l| l.contains("request{")).collect();
    assert!(!request_lines.is_empty());
    assert!(
        request_lines.iter().all(|l| l.contains("request_id=")),
        "{request_lines:?}"
    );
}

crate::on_both_stores!(logs_carry_no_phone_code_or_token);
