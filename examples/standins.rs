//! Local stand-ins of WeChat Pay (with the official account's OAuth) and of Tencent Cloud SMS,
//! for trying production mode by hand (README, "Production mode on this machine"). They are the
//! test suite's stand-ins (`tests/api/fakes/`): written from the providers' documentation, they
//! check every request's signature their own way and answer signed.
//!
//! `cargo run --example standins -- DIR [aliyun]` writes the secrets and `DIR/production.env`
//! (every production setting, pointed at the stand-ins; the SMS provider is Tencent Cloud, or
//! Aliyun when asked), then serves, on 127.0.0.1:8090, what the payer's phone would do:
//!
//! - `GET /sms`: the messages the SMS provider accepted (phone, template, parameters);
//! - `POST /oauth-code`: a WeChat OAuth code for the payer (what the official account's redirect
//!   carries), to pass as `wechat_code`;
//! - `POST /orders/{out_trade_no}/pay`: the payer pays; the signed, sealed notification is
//!   posted to the service (`?deliver=false` loses it, for `payment/check`);
//! - `POST /refunds/{out_refund_no}/{SUCCESS|CLOSED|ABNORMAL}`: WeChat ends a refund, and
//!   notifies;
//! - `GET /orders/{out_trade_no}`, `GET /refunds`: what WeChat Pay knows.

#[allow(dead_code)]
#[path = "../tests/api/fakes/mod.rs"]
mod fakes;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use fakes::aliyun_sms::FakeAliyunSms;
use fakes::tencent_sms::FakeTencentSms;
use fakes::wechatpay::{self, FakeWechatPay, Mode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const SMS_SECRET_ID: &str = "AKIDstandin";
const SMS_SECRET: &str = "standin-sms-secret";
const SMS_APP_ID: &str = "1400000000";
const TEMPLATES: [&str; 4] = ["1001", "1002", "1003", "1004"];
const OPENID: &str = "oStandinPayer0000000000000000";
const CONTROL: &str = "127.0.0.1:8090";
const SERVICE: &str = "http://127.0.0.1:8080";

enum Sms {
    Tencent(FakeTencentSms),
    Aliyun(FakeAliyunSms),
}

struct Standins {
    pay: FakeWechatPay,
    sms: Sms,
}

type Shared = State<Arc<Standins>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let dir =
        std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "standins".into()));
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let pay = FakeWechatPay::start(Mode::PublicKey).await;
    let (provider, sms) = match std::env::args().nth(2).as_deref() {
        Some("aliyun") => (
            "aliyun",
            Sms::Aliyun(FakeAliyunSms::start(SMS_SECRET_ID, SMS_SECRET, &TEMPLATES).await),
        ),
        _ => (
            "tencent",
            Sms::Tencent(
                FakeTencentSms::start(SMS_SECRET_ID, SMS_SECRET, SMS_APP_ID, &TEMPLATES).await,
            ),
        ),
    };
    let sms_url = match &sms {
        Sms::Tencent(fake) => fake.url.clone(),
        Sms::Aliyun(fake) => fake.url.clone(),
    };

    let write = |name: &str, content: &str| -> std::io::Result<String> {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        Ok(path.display().to_string())
    };
    let data = wechatpay::testdata();
    let file = |name: &str| data.join(name).display().to_string();
    let settings = [
        ("PERMIT_LEDGER_MODE", "production".to_string()),
        ("PERMIT_LEDGER_PUBLIC_URL", SERVICE.into()),
        ("PERMIT_LEDGER_WECHATPAY_MCHID", wechatpay::MCHID.into()),
        ("PERMIT_LEDGER_WECHATPAY_APPID", wechatpay::APPID.into()),
        (
            "PERMIT_LEDGER_WECHATPAY_MERCHANT_SERIAL",
            wechatpay::MERCHANT_SERIAL.into(),
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_MERCHANT_KEY_FILE",
            file("merchant_key.pem"),
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_APIV3_KEY_FILE",
            write("apiv3.key", wechatpay::API_V3_KEY)?,
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_FILE",
            file("platform_public_key.pem"),
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_ID",
            wechatpay::PUBLIC_KEY_ID.into(),
        ),
        ("PERMIT_LEDGER_WECHATPAY_BASE_URL", pay.base.clone()),
        (
            "PERMIT_LEDGER_WECHAT_APP_SECRET_FILE",
            write("app_secret", wechatpay::APP_SECRET)?,
        ),
        ("PERMIT_LEDGER_WECHAT_API_BASE_URL", pay.base.clone()),
        ("PERMIT_LEDGER_SMS_PROVIDER", provider.into()),
        ("PERMIT_LEDGER_SMS_SECRET_ID", SMS_SECRET_ID.into()),
        (
            "PERMIT_LEDGER_SMS_SECRET_KEY_FILE",
            write("sms_secret", SMS_SECRET)?,
        ),
        ("PERMIT_LEDGER_SMS_SIGN_NAME", "北京大学医学部".into()),
        ("PERMIT_LEDGER_SMS_APP_ID", SMS_APP_ID.into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_CODE", TEMPLATES[0].into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_APPROVED", TEMPLATES[1].into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_REJECTED", TEMPLATES[2].into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_REFUNDED", TEMPLATES[3].into()),
        ("PERMIT_LEDGER_SMS_ENDPOINT", sms_url),
    ];
    let env: String = settings
        .iter()
        .map(|(k, v)| format!("export {k}='{v}'\n"))
        .collect();
    let env_file = write("production.env", &env)?;

    let control = Router::new()
        .route("/sms", get(sms_received))
        .route("/oauth-code", post(oauth_code))
        .route("/orders/{no}", get(order))
        .route("/orders/{no}/pay", post(pay_order))
        .route("/refunds", get(refunds))
        .route("/refunds/{no}/{status}", post(finish_refund))
        .with_state(Arc::new(Standins { pay, sms }));
    let listener = tokio::net::TcpListener::bind(CONTROL).await?;
    println!("WeChat Pay stand-in and {provider} SMS stand-in running.");
    println!("Production settings: source {env_file}");
    println!("The payer's phone: http://{CONTROL} (GET /sms, POST /oauth-code, POST /orders/NO/pay, POST /refunds/NO/SUCCESS)");
    axum::serve(listener, control).await
}

/// What the SMS provider accepted; `params` in the template's order for both providers
/// (Aliyun's named parameters as the contract orders them).
async fn sms_received(State(s): Shared) -> Json<Value> {
    let messages: Vec<Value> = match &s.sms {
        Sms::Tencent(fake) => fake
            .received()
            .into_iter()
            .map(|r| {
                json!({"phone": r.phone, "template": r.template_id, "params": r.params,
                       "session_context": r.session_context})
            })
            .collect(),
        Sms::Aliyun(fake) => fake
            .received()
            .into_iter()
            .map(|r| {
                let order = ["code", "minutes", "plate", "from", "to", "reason", "yuan"];
                let params: Vec<&Value> = order.iter().filter_map(|n| r.params.get(n)).collect();
                json!({"phone": r.phone, "template": r.template_code, "params": params,
                       "template_param": r.params, "out_id": r.out_id})
            })
            .collect(),
    };
    Json(json!({ "messages": messages }))
}

async fn oauth_code(State(s): Shared) -> Json<Value> {
    Json(json!({"code": s.pay.issue_code(OPENID), "openid": OPENID}))
}

fn unknown(what: &str) -> (StatusCode, Json<Value>) {
    (StatusCode::NOT_FOUND, Json(json!({ "error": what })))
}

async fn order(State(s): Shared, Path(no): Path<String>) -> (StatusCode, Json<Value>) {
    match s.pay.order(&no) {
        Some(o) => (
            StatusCode::OK,
            Json(json!({"out_trade_no": o.out_trade_no, "total": o.total,
                        "trade_state": o.trade_state, "transaction_id": o.transaction_id})),
        ),
        None => unknown("no such order"),
    }
}

async fn pay_order(
    State(s): Shared,
    Path(no): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    match s.pay.order(&no) {
        None => return unknown("no such order"),
        Some(o) if o.trade_state != "NOTPAY" => {
            return (
                StatusCode::CONFLICT,
                Json(json!({"error": format!("the order is {}", o.trade_state)})),
            )
        }
        Some(_) => {}
    }
    let deliver = q.get("deliver").is_none_or(|d| d != "false");
    let answered = s.pay.pay(&no, deliver).await;
    (
        StatusCode::OK,
        Json(json!({"paid": true, "notification_answer": answered.map(|c| c.as_u16())})),
    )
}

async fn refunds(State(s): Shared) -> Json<Value> {
    let refunds: Vec<Value> = s
        .pay
        .refunds()
        .into_iter()
        .map(|r| {
            json!({"out_refund_no": r.out_refund_no, "out_trade_no": r.out_trade_no,
                        "refund": r.refund, "total": r.total, "status": r.status})
        })
        .collect();
    Json(json!({ "refunds": refunds }))
}

async fn finish_refund(
    State(s): Shared,
    Path((no, status)): Path<(String, String)>,
) -> (StatusCode, Json<Value>) {
    if !["SUCCESS", "CLOSED", "ABNORMAL"].contains(&status.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "status is SUCCESS, CLOSED or ABNORMAL"})),
        );
    }
    if !s.pay.refunds().iter().any(|r| r.out_refund_no == no) {
        return unknown("no such refund");
    }
    let answered = s.pay.finish_refund(&no, &status).await;
    (
        StatusCode::OK,
        Json(json!({"notification_answer": answered.as_u16()})),
    )
}
