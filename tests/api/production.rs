//! Production mode against the local stand-ins of WeChat Pay (and its OAuth) and of Tencent
//! Cloud SMS or Aliyun SMS: the manual's flows with real-protocol money and messages, a lost notification
//! recovered by `payment/check`, a payment racing a cancel (recorded and refunded), a forged
//! notification changing nothing, and a start refused when settings are missing.

use crate::app::{spawn_production, TestApp, HOLDER_PHONE};
use crate::fakes::aliyun_sms::FakeAliyunSms;
use crate::fakes::tencent_sms::FakeTencentSms;
use crate::fakes::wechatpay::{FakeWechatPay, Mode};
use crate::helpers::TempDir;
use crate::wechat_pay_client::production_env;
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;

const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
const TEMPLATES: [&str; 4] = ["2001", "2002", "2003", "2004"];

/// The SMS provider's stand-in.
enum Sms {
    Tencent(FakeTencentSms),
    Aliyun(FakeAliyunSms),
}

/// One SMS as the provider received it.
#[derive(Debug)]
struct Delivered {
    phone: String,
    template: String,
    params: Vec<String>,
}

impl Sms {
    fn received(&self) -> Vec<Delivered> {
        match self {
            Sms::Tencent(fake) => fake
                .received()
                .into_iter()
                .map(|r| Delivered {
                    phone: r.phone,
                    template: r.template_id,
                    params: r.params,
                })
                .collect(),
            // Aliyun's TemplateParam is a JSON object; in the contract's order of names.
            Sms::Aliyun(fake) => fake
                .received()
                .into_iter()
                .map(|r| {
                    let names: &[&str] = match TEMPLATES.iter().position(|t| *t == r.template_code)
                    {
                        Some(0) => &["code", "minutes"],
                        Some(1) => &["plate", "from", "to"],
                        Some(2) => &["plate", "reason"],
                        _ => &["plate", "yuan"],
                    };
                    Delivered {
                        phone: r.phone,
                        template: r.template_code,
                        params: names
                            .iter()
                            .map(|n| r.params[n].as_str().unwrap_or_default().to_string())
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    fn requests(&self) -> usize {
        match self {
            Sms::Tencent(fake) => fake.requests(),
            Sms::Aliyun(fake) => fake.requests(),
        }
    }
}

pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) pay: FakeWechatPay,
    sms: Sms,
    /// The production settings the service was started with.
    pub(crate) env: HashMap<String, String>,
    _secrets: TempDir,
}

pub(crate) async fn world(backend: Backend) -> World {
    world_with(backend, "tencent").await
}

async fn world_with(backend: Backend, provider: &str) -> World {
    let pay = FakeWechatPay::start(Mode::PublicKey).await;
    let sms = match provider {
        "tencent" => Sms::Tencent(
            FakeTencentSms::start("AKIDprod", "prod-sms-secret", "1400009999", &TEMPLATES).await,
        ),
        _ => Sms::Aliyun(FakeAliyunSms::start("AKIDprod", "prod-sms-secret", &TEMPLATES).await),
    };
    let endpoint = match &sms {
        Sms::Tencent(fake) => fake.url.clone(),
        Sms::Aliyun(fake) => fake.url.clone(),
    };
    let secrets = TempDir::new();
    std::fs::write(secrets.0.join("sms.key"), "prod-sms-secret\n").unwrap();
    let mut env = production_env(&pay, Mode::PublicKey, &secrets.0);
    for (k, v) in [
        ("PERMIT_LEDGER_SMS_PROVIDER", provider.to_string()),
        ("PERMIT_LEDGER_SMS_SECRET_ID", "AKIDprod".into()),
        (
            "PERMIT_LEDGER_SMS_SECRET_KEY_FILE",
            secrets.0.join("sms.key").display().to_string(),
        ),
        ("PERMIT_LEDGER_SMS_SIGN_NAME", "北京大学医学部".into()),
        ("PERMIT_LEDGER_SMS_APP_ID", "1400009999".into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_CODE", TEMPLATES[0].into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_APPROVED", TEMPLATES[1].into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_REJECTED", TEMPLATES[2].into()),
        ("PERMIT_LEDGER_SMS_TEMPLATE_REFUNDED", TEMPLATES[3].into()),
        ("PERMIT_LEDGER_SMS_ENDPOINT", endpoint),
    ] {
        env.insert(k.to_string(), v);
    }
    let service_env = env.clone();
    let app = spawn_production(backend, move |public_url: &str| {
        let mut env: HashMap<String, String> = service_env.clone();
        env.insert("PERMIT_LEDGER_PUBLIC_URL".into(), public_url.to_string());
        env
    })
    .await;
    env.insert("PERMIT_LEDGER_PUBLIC_URL".into(), app.base.clone());
    World {
        app,
        pay,
        sms,
        env,
        _secrets: secrets,
    }
}

impl World {
    /// The reviewer rejects the renewal (照片不清晰) and its owner asks for the refund.
    pub(crate) async fn reject_and_ask_refund(&self, owner: &str, renewal_id: &str) {
        let reviewer = self.app.reviewer().await;
        let (status, body) = self
            .app
            .post(
                &format!("/api/v1/review/renewals/{renewal_id}/reject"),
                Some(&reviewer),
                json!({"reason": "照片不清晰"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self
            .app
            .post(
                &format!("/api/v1/renewals/{renewal_id}/refund"),
                Some(owner),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }

    /// Desk set-up, then the owner signs in with the code the SMS gateway delivered and the
    /// WeChat OAuth code of the page. Returns (owner token, permit id).
    pub(crate) async fn signed_in_owner(&self) -> (String, String) {
        let admin = self.app.admin().await;
        let lot = self.app.lot(&admin).await;
        let (permit_id, _) = self.app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
        let (status, body) = self
            .app
            .post(
                &format!("/api/v1/lots/{lot}/codes"),
                None,
                json!({"phone": HOLDER_PHONE}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let sent = self.sms.received();
        let code_sms = sent.last().expect("the code reached the SMS gateway");
        assert_eq!(code_sms.template, TEMPLATES[0]);
        assert!(code_sms.phone.ends_with(HOLDER_PHONE), "{}", code_sms.phone);
        let code = code_sms.params[0].clone();

        // Without the OAuth code there is no payer: refused, and the SMS code still works.
        let (status, body) = self
            .app
            .post(
                &format!("/api/v1/lots/{lot}/sessions"),
                None,
                json!({"phone": HOLDER_PHONE, "code": code}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "wechat_code_required");

        let wechat_code = self.pay.issue_code(OPENID);
        let (status, body) = self
            .app
            .post(
                &format!("/api/v1/lots/{lot}/sessions"),
                None,
                json!({"phone": HOLDER_PHONE, "code": code, "wechat_code": wechat_code}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["token"].as_str().unwrap().to_string(), permit_id)
    }

    pub(crate) async fn submitted(&self, owner: &str, permit_id: &str) -> (String, String) {
        let (status, body) = self.app.submit(owner, permit_id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let jsapi = &body["payment"]["jsapi"];
        assert_eq!(jsapi["appId"], crate::fakes::wechatpay::APPID);
        assert_eq!(jsapi["signType"], "RSA");
        let prepay = body["payment"]["prepay_id"].as_str().expect("a prepay id");
        assert_eq!(jsapi["package"], format!("prepay_id={prepay}"));
        let order_id = body["payment"]["order_id"].as_str().unwrap().to_string();
        let order = self
            .pay
            .order(&order_id)
            .expect("the order is at WeChat Pay");
        assert_eq!(order.openid, OPENID, "made out to the session's payer");
        assert_eq!(order.total, 36000);
        (body["renewal_id"].as_str().unwrap().to_string(), order_id)
    }

    pub(crate) async fn events_of_type(&self, event_type: &str) -> Vec<Value> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(payload AS TEXT) FROM events WHERE event_type = $1 ORDER BY position",
        )
        .bind(event_type)
        .fetch_all(&self.app.t.store.db.read)
        .await
        .unwrap();
        rows.iter()
            .map(|r| {
                // Stored externally tagged: {"StrayPaymentReceived": {…}}.
                let v: Value = serde_json::from_str(r).unwrap();
                v.get(event_type).cloned().unwrap_or(v)
            })
            .collect()
    }

    pub(crate) async fn wait_for_refund(&self, count: usize) -> crate::fakes::wechatpay::Refund {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let refunds = self.pay.refunds();
            if refunds.len() >= count {
                return refunds
                    .into_iter()
                    .max_by_key(|r| r.refund_id.clone())
                    .unwrap();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no refund reached WeChat Pay"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The notices the owner received after the code, waiting (up to 10 s) for `n` of them.
async fn notices(w: &World, n: usize) -> Vec<Delivered> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let notices: Vec<Delivered> = w.sms.received().into_iter().skip(1).collect();
        if notices.len() >= n || std::time::Instant::now() > deadline {
            return notices;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn the_manuals_happy_path_runs_on_real_protocols(backend: Backend) {
    let w = world(backend).await;
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;
    assert_eq!(
        w.pay.pay(&order_id, true).await,
        Some(StatusCode::NO_CONTENT)
    );
    w.app
        .wait_renewal(&owner, &renewal_id, "under_review")
        .await;
    let reviewer = w.app.reviewer().await;
    let (status, body) = w
        .app
        .post(
            &format!("/api/v1/review/renewals/{renewal_id}/approve"),
            Some(&reviewer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    w.app.wait_renewal(&owner, &renewal_id, "approved").await;
    let (_, permit) = w
        .app
        .get(&format!("/api/v1/permits/{permit_id}"), Some(&owner))
        .await;
    // Production runs on the real clock: the period is the season the renewal was made for.
    let period = &permit["renewals"][0]["period"];
    let (from, to) = (
        period["from"].as_str().unwrap(),
        period["to"].as_str().unwrap(),
    );
    assert_eq!(
        (permit["valid_from"].as_str(), permit["valid_to"].as_str()),
        (Some(from), Some(to)),
        "the card shows the approved period: {permit}"
    );
    assert_eq!(permit["status"], "active");
    let got = notices(&w, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].template, TEMPLATES[1]);
    assert_eq!(got[0].params, ["京A66666", from, to]);
    assert_eq!(w.pay.refused(), 0);
}

async fn the_manuals_rejection_path_runs_on_real_protocols(backend: Backend) {
    rejection_path(world(backend).await).await;
}

async fn the_manuals_rejection_path_runs_with_aliyun_sms(backend: Backend) {
    rejection_path(world_with(backend, "aliyun").await).await;
}

async fn rejection_path(w: World) {
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;

    assert_eq!(
        w.pay.pay(&order_id, true).await,
        Some(StatusCode::NO_CONTENT)
    );
    w.app
        .wait_renewal(&owner, &renewal_id, "under_review")
        .await;
    // WeChat redelivers: acknowledged, nothing changes.
    let before = w.app.event_count().await;
    assert!(w.pay.redeliver_payment(&order_id).await.is_success());
    assert_eq!(w.app.event_count().await, before);

    w.reject_and_ask_refund(&owner, &renewal_id).await;
    let refund = w.wait_for_refund(1).await;
    assert_eq!((refund.refund, refund.total), (36000, 36000));
    assert_eq!(refund.out_trade_no, order_id);
    assert_eq!(
        w.pay.finish_refund(&refund.out_refund_no, "SUCCESS").await,
        StatusCode::NO_CONTENT
    );
    w.app.wait_renewal(&owner, &renewal_id, "refunded").await;
    assert!(
        w.pay.refused() == 0,
        "every request to WeChat Pay was signed right"
    );
    // The owner heard of the rejection and of the refund, once each, by the templates.
    let notices = notices(&w, 2).await;
    let seen: Vec<(&str, Vec<&str>)> = notices
        .iter()
        .map(|d| {
            assert!(d.phone.ends_with(HOLDER_PHONE), "{d:?}");
            (
                d.template.as_str(),
                d.params.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (TEMPLATES[2], vec!["京A66666", "照片不清晰"]),
            (TEMPLATES[3], vec!["京A66666", "360.00"]),
        ]
    );
}

async fn a_lost_payment_notification_is_recovered_by_payment_check(backend: Backend) {
    let w = world(backend).await;
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;
    let (status, body) = w
        .app
        .post(
            &format!("/api/v1/renewals/{renewal_id}/payment/check"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["status"], "awaiting_payment",
        "not paid yet: nothing recorded"
    );

    w.pay.pay(&order_id, false).await; // paid, but the notification never comes
    let (status, body) = w
        .app
        .post(
            &format!("/api/v1/renewals/{renewal_id}/payment/check"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "under_review", "{body}");
    assert_eq!(w.events_of_type("Paid").await.len(), 1);
    // The notification arriving late changes nothing.
    assert!(w.pay.redeliver_payment(&order_id).await.is_success());
    assert_eq!(w.events_of_type("Paid").await.len(), 1);
    assert!(w.events_of_type("StrayPaymentReceived").await.is_empty());
}

async fn a_payment_racing_a_cancel_is_recorded_and_refunded(backend: Backend) {
    let w = world(backend).await;
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;
    // The payer pays in WeChat while the page cancels; the notification comes after.
    w.pay.pay(&order_id, false).await;
    let (status, body) = w
        .app
        .post(
            &format!("/api/v1/renewals/{renewal_id}/cancel"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        w.pay.redeliver_payment(&order_id).await,
        StatusCode::NO_CONTENT
    );

    let strays = w.events_of_type("StrayPaymentReceived").await;
    assert_eq!(strays.len(), 1, "the money is in the ledger");
    assert_eq!(strays[0]["reason"], "cancelled");
    assert_eq!(strays[0]["amount"], 36000);
    let refund = w.wait_for_refund(1).await;
    assert_eq!(refund.out_refund_no, strays[0]["out_refund_no"]);
    assert_eq!(refund.refund, 36000);
    assert_eq!(
        w.pay.finish_refund(&refund.out_refund_no, "SUCCESS").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(w.events_of_type("StrayPaymentRefunded").await.len(), 1);
    w.app.wait_renewal(&owner, &renewal_id, "cancelled").await;
}

async fn a_forged_notification_changes_nothing(backend: Backend) {
    let w = world(backend).await;
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;
    let before = w.app.event_count().await;
    let resource = json!({
        "appid": crate::fakes::wechatpay::APPID, "mchid": crate::fakes::wechatpay::MCHID,
        "out_trade_no": order_id, "transaction_id": "4200000000000000000000000001",
        "trade_state": "SUCCESS", "success_time": "2026-01-01T10:00:00+08:00",
        "amount": {"total": 36000, "payer_total": 36000, "currency": "CNY"}
    });
    let body = w.pay.envelope(
        "TRANSACTION.SUCCESS",
        "transaction",
        &resource,
        crate::fakes::wechatpay::API_V3_KEY.as_bytes(),
    );
    let url = w.app.url("/api/v1/payments/wechat/notify");
    let forged = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 256]);
    assert_eq!(
        w.pay.post_signed(&url, &body, Some(&forged)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(w.app.event_count().await, before);
    w.app
        .wait_renewal(&owner, &renewal_id, "awaiting_payment")
        .await;
}

async fn a_payment_is_recorded_though_the_cards_view_does_not_know_the_renewal(backend: Backend) {
    let w = world(backend).await;
    let (owner, permit_id) = w.signed_in_owner().await;
    let (renewal_id, order_id) = w.submitted(&owner, &permit_id).await;
    w.app
        .wait_renewal(&owner, &renewal_id, "awaiting_payment")
        .await;
    // The view loses the renewal (as a stalled or rebuilding projection would not have it).
    // (`renewals` is a view over the live generation's table; on SQLite it cannot be written.)
    let tables: Vec<String> = match backend {
        Backend::Sqlite => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'renewals%'",
        )
        .fetch_all(&w.app.t.store.db.read)
        .await
        .unwrap(),
        Backend::Postgres => vec!["renewals".into()],
    };
    assert!(!tables.is_empty());
    for table in tables {
        sqlx::query(&format!("DELETE FROM {table} WHERE renewal_id = $1"))
            .bind(&renewal_id)
            .execute(&w.app.t.store.db.write)
            .await
            .unwrap();
    }
    let (status, _) = w
        .app
        .get(&format!("/api/v1/renewals/{renewal_id}"), Some(&owner))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the view no longer has it");
    assert_eq!(
        w.pay.pay(&order_id, true).await,
        Some(StatusCode::NO_CONTENT)
    );
    let paid = w.events_of_type("Paid").await;
    assert_eq!(paid.len(), 1, "the money is in the ledger");
    assert_eq!(paid[0]["renewal_id"], renewal_id);
}

async fn a_stranger_gets_the_holders_answer_and_the_sms_gateway_hears_nothing(backend: Backend) {
    let w = world(backend).await;
    let admin = w.app.admin().await;
    let lot = w.app.lot(&admin).await;
    w.app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let codes = format!("/api/v1/lots/{lot}/codes");
    let ask = |phone: &'static str| w.app.post(&codes, None, json!({ "phone": phone }));
    let holder = ask(HOLDER_PHONE).await;
    assert_eq!(holder.0, StatusCode::ACCEPTED, "{}", holder.1);
    assert_eq!(w.sms.requests(), 1);
    let stranger = ask("13700000888").await;
    assert_eq!(stranger, holder, "the same answer");
    assert_eq!(w.sms.requests(), 1, "nothing went to the SMS provider");
}

crate::on_both_backends!(
    a_stranger_gets_the_holders_answer_and_the_sms_gateway_hears_nothing,
    a_payment_is_recorded_though_the_cards_view_does_not_know_the_renewal,
    the_manuals_happy_path_runs_on_real_protocols,
    the_manuals_rejection_path_runs_on_real_protocols,
    the_manuals_rejection_path_runs_with_aliyun_sms,
    a_lost_payment_notification_is_recovered_by_payment_check,
    a_payment_racing_a_cancel_is_recorded_and_refunded,
    a_forged_notification_changes_nothing,
);

#[test]
fn production_mode_with_no_settings_exits_2_naming_every_one() {
    let dir = TempDir::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .env_clear()
        .env("PERMIT_LEDGER_MODE", "production")
        .env("PERMIT_LEDGER_DATA_DIR", &dir.0)
        .env("PERMIT_LEDGER_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in [
        "PERMIT_LEDGER_PUBLIC_URL",
        "PERMIT_LEDGER_WECHATPAY_MCHID",
        "PERMIT_LEDGER_WECHATPAY_MERCHANT_KEY_FILE",
        "PERMIT_LEDGER_WECHATPAY_APIV3_KEY_FILE",
        "PERMIT_LEDGER_WECHAT_APP_SECRET_FILE",
        "PERMIT_LEDGER_SMS_PROVIDER",
        "PERMIT_LEDGER_SMS_SECRET_KEY_FILE",
        "PERMIT_LEDGER_SMS_TEMPLATE_CODE",
    ] {
        assert!(stderr.contains(name), "{name} not named:\n{stderr}");
    }
}
