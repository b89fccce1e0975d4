//! The real SMS clients against local fakes of Tencent Cloud SMS and Aliyun dysmsapi (see
//! `fakes/`): configured as production would be (`SmsConfig::from_env` over a key file), they
//! must get a code to the phone with the right template and parameters, survive throttling,
//! and report refusals (unapproved template, bad secret) as permanent, which the outbox gives
//! up at once.

use crate::app::{spawn_app_with_sms, TestApp, HOLDER_PHONE};
use crate::fakes::aliyun_sms::{self, FakeAliyunSms};
use crate::fakes::tencent_sms::{self, FakeTencentSms};
use crate::helpers::{TempDir, TestStore};
use permit_ledger::services::{Services, Settings};
use permit_ledger::sms::{SmsConfig, SmsError, SmsGateway, SmsMessage, SmsTemplate};
use permit_ledger::store::Backend;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const SECRET_ID: &str = "AKIDfakeTencentId";
const SECRET_KEY: &str = "fake-secret-key-of-the-test";
const APP_ID: &str = "1400006666";
const TENCENT_TEMPLATES: [&str; 4] = ["1001", "1002", "1003", "1004"];
const ALIYUN_TEMPLATES: [&str; 4] = ["SMS_1001", "SMS_1002", "SMS_1003", "SMS_1004"];

/// Production settings for `provider`, its secret in a file, pointed at `endpoint`.
fn config(
    provider: &str,
    endpoint: &str,
    secret: &str,
    templates: [&str; 4],
) -> (SmsConfig, TempDir) {
    let dir = TempDir::new();
    let key = dir.0.join("sms-secret");
    std::fs::write(&key, format!("{secret}\n")).unwrap();
    let env: HashMap<String, String> = [
        ("PROVIDER", provider),
        ("SECRET_ID", SECRET_ID),
        ("SECRET_KEY_FILE", key.to_str().unwrap()),
        ("SIGN_NAME", "北京大学医学部"),
        ("APP_ID", APP_ID),
        ("TEMPLATE_CODE", templates[0]),
        ("TEMPLATE_APPROVED", templates[1]),
        ("TEMPLATE_REJECTED", templates[2]),
        ("TEMPLATE_REFUNDED", templates[3]),
        ("ENDPOINT", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (format!("PERMIT_LEDGER_SMS_{k}"), v.to_string()))
    .collect();
    let config = SmsConfig::from_env(&|k| env.get(k).cloned()).expect("complete settings");
    (config, dir)
}

fn code_message(id: &str, phone: &str) -> SmsMessage {
    SmsMessage {
        id: id.into(),
        phone: phone.into(),
        template: SmsTemplate::Code,
        params: projections::texts::params::code("042137", 5),
        text: projections::texts::code("北京大学医学部", "042137", 5),
        code: Some("042137".into()),
    }
}

fn permanent_code(e: SmsError) -> String {
    match e {
        SmsError::Permanent { code, .. } => code,
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

// ---- the outbox, over an embedded store, with a real gateway ----

struct Outbox {
    svc: Arc<Services>,
    _t: TestStore,
    _dir: TempDir,
}

impl Outbox {
    async fn with(sms: Arc<dyn SmsGateway>) -> Self {
        let t = TestStore::new(Backend::Sqlite).await;
        let dir = TempDir::new();
        let built = Services::build(t.store.clone(), Settings::default(), &dir.0, None)
            .await
            .unwrap();
        let built = Arc::try_unwrap(built).ok().expect("sole owner");
        Self {
            svc: Arc::new(Services {
                sms,
                sandbox_sms: None,
                ..built
            }),
            _t: t,
            _dir: dir,
        }
    }

    /// Enqueues an approval notice as the `sms_notices` projection does.
    async fn enqueue_approval(&self, id: &str) {
        let payload = json!({"phone": HOLDER_PHONE, "text": "【北京大学医学部】…已通过审核",
                             "notice": "approved", "template": "approved",
                             "params": ["京A66666", "2022-06-01", "2023-05-31"]});
        sqlx::query(
            "INSERT INTO outbox (id, kind, payload, status, attempts, next_attempt_at, created_at)
             VALUES ($1, 'sms', $2, 'pending', 0, '2000-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z')",
        )
        .bind(id)
        .bind(payload.to_string())
        .execute(&self.svc.store.db.write)
        .await
        .unwrap();
    }

    /// Makes every pending row due now (skips the backoff).
    async fn skip_backoff(&self) {
        sqlx::query("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE status = 'pending'")
            .execute(&self.svc.store.db.write)
            .await
            .unwrap();
    }

    async fn dispatch(&self) -> usize {
        permit_ledger::workers::dispatch_due(&self.svc)
            .await
            .unwrap()
    }

    /// (status, attempts, last_error) of a row.
    async fn row(&self, id: &str) -> (String, i32, Option<String>) {
        sqlx::query_as("SELECT status, attempts, last_error FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&self.svc.store.db.read)
            .await
            .unwrap()
    }
}

// ---- the owner's sign-in and a notice, end to end over HTTP ----

/// A card holder asks for a code; the code that reached the phone through the provider signs
/// in; `code_params` reads the provider's record of the code message.
async fn sign_in_with_the_code_that_arrived(
    app: &TestApp,
    code_params: impl Fn() -> Option<Vec<String>>,
) -> (String, String, String) {
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let (permit, _) = app.card(&admin, &lot, "京A66666", HOLDER_PHONE).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/lots/{lot}/codes"),
            None,
            json!({"phone": HOLDER_PHONE}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let params = code_params().expect("the code SMS reached the provider");
    let minutes = body["expires_in_s"].as_i64().unwrap() / 60;
    assert_eq!(params.len(), 2, "{params:?}");
    assert_eq!(
        params[1],
        minutes.to_string(),
        "the second parameter is the minutes valid"
    );
    assert_eq!(params[0].len(), 6);
    let (status, body) = app
        .post(
            &format!("/api/v1/lots/{lot}/sessions"),
            None,
            json!({"phone": HOLDER_PHONE, "code": params[0]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the code that arrived signs in: {body}"
    );
    (lot, permit, body["token"].as_str().unwrap().to_string())
}

/// Renews, pays and has the renewal approved; returns when the approval is recorded.
async fn renew_and_approve(app: &TestApp, owner: &str, permit: &str) {
    let (status, body) = app.submit(owner, permit).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewal = body["renewal_id"].as_str().unwrap().to_string();
    let order = body["payment"]["order_id"].as_str().unwrap().to_string();
    app.pay_and_wait(owner, &order, &renewal).await;
    let reviewer = app.reviewer().await;
    let (status, body) = app
        .post(
            &format!("/api/v1/review/renewals/{renewal}/approve"),
            Some(&reviewer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn eventually<T>(what: &str, f: impl Fn() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

// ================= Tencent Cloud SMS =================

async fn tencent() -> FakeTencentSms {
    FakeTencentSms::start(SECRET_ID, SECRET_KEY, APP_ID, &TENCENT_TEMPLATES).await
}

#[test]
fn tencent_sms_fake_checks_signatures_as_the_documentation_computes_them() {
    // The fake's own check against the documentation's worked example
    // (https://cloud.tencent.com/document/product/213/30654).
    let header = |name: &str| match name {
        "content-type" => "application/json; charset=utf-8".to_string(),
        "host" => "cvm.tencentcloudapi.com".to_string(),
        _ => String::new(),
    };
    let body =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    assert_eq!(
        tencent_sms::expected_signature(
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "cvm",
            1551113065,
            "content-type;host",
            &header,
            body.as_bytes(),
        ),
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    );
}

#[tokio::test]
async fn tencent_sms_a_code_arrives_with_the_code_template_its_parameters_and_a_valid_signature() {
    let fake = tencent().await;
    let (config, _dir) = config("tencent", &fake.url, SECRET_KEY, TENCENT_TEMPLATES);
    config
        .gateway()
        .send(code_message("code:17", HOLDER_PHONE))
        .await
        .unwrap();
    let got = fake.received();
    assert_eq!(got.len(), 1, "one request, signature accepted");
    assert_eq!(got[0].phone, "+8613912345678");
    assert_eq!(got[0].template_id, "1001");
    assert_eq!(got[0].params, ["042137", "5"]);
    assert_eq!(got[0].session_context, "code:17");
    assert_eq!(got[0].app_id, APP_ID);
    assert_eq!(got[0].sign_name, "北京大学医学部");
}

#[tokio::test]
async fn tencent_sms_an_owner_signs_in_with_the_code_and_hears_of_the_approval() {
    let fake = Arc::new(tencent().await);
    let (config, _dir) = config("tencent", &fake.url, SECRET_KEY, TENCENT_TEMPLATES);
    let app = spawn_app_with_sms(Backend::Postgres, config.gateway()).await;
    let seen = fake.clone();
    let (_lot, permit, owner) = sign_in_with_the_code_that_arrived(&app, || {
        seen.received()
            .into_iter()
            .find(|m| m.template_id == "1001")
            .map(|m| m.params)
    })
    .await;
    renew_and_approve(&app, &owner, &permit).await;
    let notice = eventually("the approval SMS", || {
        fake.received()
            .into_iter()
            .find(|m| m.template_id == "1002")
    })
    .await;
    assert_eq!(notice.phone, "+8613912345678");
    assert_eq!(notice.params, ["京A66666", "2022-06-01", "2023-05-31"]);
    assert!(
        notice.session_context.starts_with("sms:"),
        "{}",
        notice.session_context
    );
}

#[tokio::test]
async fn tencent_sms_throttling_delays_a_notice_that_then_arrives_once() {
    let fake = Arc::new(tencent().await);
    let (config, _dir) = config("tencent", &fake.url, SECRET_KEY, TENCENT_TEMPLATES);
    let direct = config.gateway();
    fake.fail_transiently(1);
    let e = direct
        .send(code_message("code:1", HOLDER_PHONE))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SmsError::Transient(t) if t.contains("RequestLimitExceeded")),
        "{e:?}"
    );

    let outbox = Outbox::with(config.gateway()).await;
    outbox.enqueue_approval("sms:41").await;
    fake.fail_transiently(1);
    assert_eq!(outbox.dispatch().await, 0);
    let (status, attempts, error) = outbox.row("sms:41").await;
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(error.unwrap().contains("RequestLimitExceeded"));
    assert!(fake.received().is_empty());
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 1);
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 0, "done work is not done again");
    assert_eq!(outbox.row("sms:41").await.0, "done");
    let got = fake.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].template_id, "1002");
    assert_eq!(got[0].params, ["京A66666", "2022-06-01", "2023-05-31"]);
    assert_eq!(got[0].session_context, "sms:41");
}

#[tokio::test]
async fn tencent_sms_an_unapproved_template_fails_permanently_and_is_not_retried() {
    let fake = tencent().await;
    // The approval template id is one the provider never approved.
    let (config, _dir) = config(
        "tencent",
        &fake.url,
        SECRET_KEY,
        ["1001", "9999", "1003", "1004"],
    );
    let outbox = Outbox::with(config.gateway()).await;
    outbox.enqueue_approval("sms:42").await;
    assert_eq!(outbox.dispatch().await, 0);
    let (status, attempts, error) = outbox.row("sms:42").await;
    assert_eq!(
        (status.as_str(), attempts),
        ("failed", 1),
        "given up at once"
    );
    let error = error.unwrap();
    assert!(
        error.contains("FailedOperation.TemplateIncorrectOrUnapproved"),
        "{error}"
    );
    assert!(!error.contains(HOLDER_PHONE), "{error}");
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 0);
    assert_eq!(fake.requests(), 1, "not retried");

    // A bad number, refused in the number's own status.
    let e = config
        .gateway()
        .send(code_message("code:2", "1391234"))
        .await
        .unwrap_err();
    assert_eq!(
        permanent_code(e),
        "InvalidParameterValue.IncorrectPhoneNumber"
    );
    // A provider-side refusal of every request (e.g. the signature was withdrawn).
    fake.fail_permanently("FailedOperation.SignatureIncorrectOrUnapproved");
    let e = config
        .gateway()
        .send(code_message("code:3", HOLDER_PHONE))
        .await
        .unwrap_err();
    assert_eq!(
        permanent_code(e),
        "FailedOperation.SignatureIncorrectOrUnapproved"
    );
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn tencent_sms_a_wrong_secret_is_refused_as_an_auth_failure() {
    let fake = tencent().await;
    let (config, _dir) = config("tencent", &fake.url, "not-the-secret", TENCENT_TEMPLATES);
    let e = config
        .gateway()
        .send(code_message("code:5", HOLDER_PHONE))
        .await
        .unwrap_err();
    assert_eq!(permanent_code(e), "AuthFailure.SignatureFailure");
    assert!(fake.received().is_empty());
    assert_eq!(fake.requests(), 1);
}

// ================= Aliyun dysmsapi =================

async fn aliyun() -> FakeAliyunSms {
    FakeAliyunSms::start(SECRET_ID, SECRET_KEY, &ALIYUN_TEMPLATES).await
}

#[test]
fn aliyun_sms_fake_checks_signatures_as_the_documentation_computes_them() {
    // The fake's own signer against the documentation's SendSms example
    // (https://help.aliyun.com/document_detail/56189.html).
    let params: BTreeMap<String, String> = [
        ("AccessKeyId", "testId"),
        ("Action", "SendSms"),
        ("Format", "XML"),
        ("OutId", "123"),
        ("PhoneNumbers", "15300000001"),
        ("RegionId", "cn-hangzhou"),
        ("SignName", "阿里云短信测试专用"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
        ("SignatureVersion", "1.0"),
        ("TemplateCode", "SMS_71390007"),
        ("TemplateParam", r#"{"customer":"test"}"#),
        ("Timestamp", "2017-07-12T02:42:19Z"),
        ("Version", "2017-05-25"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        aliyun_sms::expected_signature("GET", &params, "testSecret"),
        "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    );
}

#[tokio::test]
async fn aliyun_sms_a_code_arrives_with_the_code_template_its_parameters_and_a_valid_signature() {
    let fake = aliyun().await;
    let (config, _dir) = config("aliyun", &fake.url, SECRET_KEY, ALIYUN_TEMPLATES);
    config
        .gateway()
        .send(code_message("code:17", HOLDER_PHONE))
        .await
        .unwrap();
    let got = fake.received();
    assert_eq!(got.len(), 1, "one request, signature accepted");
    assert_eq!(got[0].phone, HOLDER_PHONE);
    assert_eq!(got[0].template_code, "SMS_1001");
    assert_eq!(got[0].params, json!({"code": "042137", "minutes": "5"}));
    assert_eq!(got[0].out_id, "code:17");
    assert_eq!(got[0].sign_name, "北京大学医学部");
}

#[tokio::test]
async fn aliyun_sms_an_owner_signs_in_with_the_code_and_hears_of_the_approval() {
    let fake = Arc::new(aliyun().await);
    let (config, _dir) = config("aliyun", &fake.url, SECRET_KEY, ALIYUN_TEMPLATES);
    let app = spawn_app_with_sms(Backend::Sqlite, config.gateway()).await;
    let seen = fake.clone();
    let (_lot, permit, owner) = sign_in_with_the_code_that_arrived(&app, || {
        let m = seen
            .received()
            .into_iter()
            .find(|m| m.template_code == "SMS_1001")?;
        Some(vec![
            m.params["code"].as_str()?.to_string(),
            m.params["minutes"].as_str()?.to_string(),
        ])
    })
    .await;
    renew_and_approve(&app, &owner, &permit).await;
    let notice = eventually("the approval SMS", || {
        fake.received()
            .into_iter()
            .find(|m| m.template_code == "SMS_1002")
    })
    .await;
    assert_eq!(notice.phone, HOLDER_PHONE);
    assert_eq!(
        notice.params,
        json!({"plate": "京A66666", "from": "2022-06-01", "to": "2023-05-31"})
    );
    assert!(notice.out_id.starts_with("sms:"), "{}", notice.out_id);
}

#[tokio::test]
async fn aliyun_sms_throttling_delays_a_notice_that_then_arrives_once() {
    let fake = Arc::new(aliyun().await);
    let (config, _dir) = config("aliyun", &fake.url, SECRET_KEY, ALIYUN_TEMPLATES);
    fake.fail_transiently(1);
    let e = config
        .gateway()
        .send(code_message("code:1", HOLDER_PHONE))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SmsError::Transient(t) if t.contains("isv.BUSINESS_LIMIT_CONTROL")),
        "{e:?}"
    );

    let outbox = Outbox::with(config.gateway()).await;
    outbox.enqueue_approval("sms:41").await;
    fake.fail_transiently(2);
    assert_eq!(outbox.dispatch().await, 0);
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 0);
    let (status, attempts, error) = outbox.row("sms:41").await;
    assert_eq!((status.as_str(), attempts), ("pending", 2));
    assert!(error.unwrap().contains("isv.BUSINESS_LIMIT_CONTROL"));
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 1);
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 0);
    let got = fake.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].template_code, "SMS_1002");
    assert_eq!(got[0].out_id, "sms:41");
    assert_eq!(
        got[0].params,
        json!({"plate": "京A66666", "from": "2022-06-01", "to": "2023-05-31"})
    );
}

#[tokio::test]
async fn aliyun_sms_an_unapproved_template_fails_permanently_and_is_not_retried() {
    let fake = aliyun().await;
    let (config, _dir) = config(
        "aliyun",
        &fake.url,
        SECRET_KEY,
        ["SMS_1001", "SMS_9999", "SMS_1003", "SMS_1004"],
    );
    let outbox = Outbox::with(config.gateway()).await;
    outbox.enqueue_approval("sms:42").await;
    assert_eq!(outbox.dispatch().await, 0);
    let (status, attempts, error) = outbox.row("sms:42").await;
    assert_eq!(
        (status.as_str(), attempts),
        ("failed", 1),
        "given up at once"
    );
    let error = error.unwrap();
    assert!(error.contains("isv.SMS_TEMPLATE_ILLEGAL"), "{error}");
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 0);
    assert_eq!(fake.requests(), 1, "not retried");

    let e = config
        .gateway()
        .send(code_message("code:2", "1391234"))
        .await
        .unwrap_err();
    assert_eq!(permanent_code(e.clone()), "isv.MOBILE_NUMBER_ILLEGAL");
    assert!(!e.to_string().contains("1391234"), "{e}");
    // A provider-side refusal of every request (the account is out of credit).
    fake.fail_permanently("isv.AMOUNT_NOT_ENOUGH");
    let e = config
        .gateway()
        .send(code_message("code:3", HOLDER_PHONE))
        .await
        .unwrap_err();
    assert_eq!(permanent_code(e), "isv.AMOUNT_NOT_ENOUGH");
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn aliyun_sms_a_wrong_secret_is_refused_as_an_auth_failure() {
    let fake = aliyun().await;
    let (config, _dir) = config("aliyun", &fake.url, "not-the-secret", ALIYUN_TEMPLATES);
    let e = config
        .gateway()
        .send(code_message("code:5", HOLDER_PHONE))
        .await
        .unwrap_err();
    assert_eq!(permanent_code(e), "SignatureDoesNotMatch");
    assert!(fake.received().is_empty());
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn tencent_sms_a_notice_whose_answer_was_lost_is_held_until_a_resend_is_recorded() {
    use permit_ledger::app::given_up::{self, ResendError};
    let fake = tencent().await;
    let (config, _dir) = config("tencent", &fake.url, SECRET_KEY, TENCENT_TEMPLATES);
    let outbox = Outbox::with(config.gateway_waiting(std::time::Duration::from_millis(300))).await;
    let db = &outbox.svc.store.db;
    outbox.enqueue_approval("sms:51").await;
    // The provider sends the message but its answer comes after the client stopped waiting.
    fake.answer_late(1, std::time::Duration::from_secs(2));
    assert_eq!(outbox.dispatch().await, 0);
    let (status, _, error) = outbox.row("sms:51").await;
    assert_eq!(status, "failed", "held, not retried");
    assert!(error.unwrap().contains("answer lost"));
    assert_eq!(
        fake.received().len(),
        1,
        "the message did reach the provider"
    );
    outbox.skip_backoff().await;
    assert_eq!(outbox.dispatch().await, 0);
    assert_eq!(fake.requests(), 1, "not sent a second time");

    let failed = given_up::list(db).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, "sms:51");
    let outcomes: Vec<_> = failed[0]
        .sms_attempts
        .iter()
        .map(|a| a.outcome.clone())
        .collect();
    assert_eq!(outcomes, [Some("answer_lost".to_string())]);

    assert!(matches!(
        given_up::resend(db, "sms:51", "  ").await,
        Err(ResendError::NoReason)
    ));
    assert!(matches!(
        given_up::resend(db, "sms:404", "checked").await,
        Err(ResendError::NotFound(_))
    ));
    given_up::resend(db, "sms:51", "the provider's console shows it undelivered")
        .await
        .unwrap();
    assert_eq!(outbox.dispatch().await, 1);
    assert_eq!(outbox.row("sms:51").await.0, "done");
    assert_eq!(
        fake.requests(),
        2,
        "sent once more, with the reason on record"
    );
    let attempts = permit_ledger::sms::attempts::list(db, "sms:51")
        .await
        .unwrap();
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| (a.outcome.clone().unwrap_or_default(), a.provider.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("answer_lost".to_string(), "tencent".to_string()),
            ("resend_authorised".to_string(), "staff".to_string()),
            ("sent".to_string(), "tencent".to_string()),
        ]
    );
    assert_eq!(
        attempts[1].detail.as_deref(),
        Some("the provider's console shows it undelivered")
    );
    assert!(
        attempts[2].detail.as_deref().is_some_and(|d| !d.is_empty()),
        "the provider's serial number is kept: {:?}",
        attempts[2]
    );
}

#[tokio::test]
async fn tencent_sms_a_notice_whose_attempt_never_got_an_answer_recorded_is_held() {
    let fake = tencent().await;
    let (config, _dir) = config("tencent", &fake.url, SECRET_KEY, TENCENT_TEMPLATES);
    let outbox = Outbox::with(config.gateway()).await;
    outbox.enqueue_approval("sms:52").await;
    // What a process killed between recording the attempt and reading the answer leaves.
    sqlx::query(
        "INSERT INTO sms_attempts (message_id, attempt, provider, template, started_at)
         VALUES ('sms:52', 1, 'tencent', 'approved', '2022-05-20T02:00:00.000Z')",
    )
    .execute(&outbox.svc.store.db.write)
    .await
    .unwrap();
    assert_eq!(outbox.dispatch().await, 0);
    let (status, _, error) = outbox.row("sms:52").await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("never answered"));
    assert_eq!(fake.requests(), 0, "nothing sent");
}

#[tokio::test]
async fn tencent_sms_a_notice_sent_before_the_process_stopped_is_not_sent_again() {
    let fake = tencent().await;
    let (config, _dir) = config("tencent", &fake.url, SECRET_KEY, TENCENT_TEMPLATES);
    let outbox = Outbox::with(config.gateway()).await;
    outbox.enqueue_approval("sms:53").await;
    // What a process killed after the provider accepted the notice, before the row was marked
    // done, leaves: a sent attempt and a pending row.
    sqlx::query(
        "INSERT INTO sms_attempts (message_id, attempt, provider, template, started_at,
                                   finished_at, outcome, provider_code, detail)
         VALUES ('sms:53', 1, 'tencent', 'approved', '2022-05-20T02:00:00.000Z',
                 '2022-05-20T02:00:00.100Z', 'sent', 'ok', 'serial-1')",
    )
    .execute(&outbox.svc.store.db.write)
    .await
    .unwrap();
    assert_eq!(outbox.dispatch().await, 1);
    assert_eq!(outbox.row("sms:53").await.0, "done");
    assert_eq!(fake.requests(), 0, "not sent a second time");
}
