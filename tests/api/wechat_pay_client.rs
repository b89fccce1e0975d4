//! The WeChat Pay v3 client against the local stand-in: signed requests the stand-in accepts,
//! answers believed only when their signature holds, retries only where they are safe, both
//! ways of trusting the platform, and the OAuth code exchange.

use crate::fakes::wechatpay::{self, FakeWechatPay, Mode};
use chrono::Utc;
use permit_ledger::payments::wechat::client::WechatPayClient;
use permit_ledger::payments::wechat::config::WechatPayConfig;
use permit_ledger::payments::wechat::oauth::{OAuthClient, OAuthError};
use permit_ledger::payments::{CreateOrder, PaymentProvider, ProviderError, RefundRequest};
use permit_ledger::services::production::Problems;
use std::collections::HashMap;

/// The production settings pointing at `fake`, secrets written to `dir`.
pub fn production_env(
    fake: &FakeWechatPay,
    mode: Mode,
    dir: &std::path::Path,
) -> HashMap<String, String> {
    let data = wechatpay::testdata();
    std::fs::write(
        dir.join("apiv3.key"),
        format!("{}\n", wechatpay::API_V3_KEY),
    )
    .unwrap();
    std::fs::write(dir.join("app_secret"), wechatpay::APP_SECRET).unwrap();
    let mut env: HashMap<String, String> = [
        (
            "PERMIT_LEDGER_WECHATPAY_MCHID",
            wechatpay::MCHID.to_string(),
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_APPID",
            wechatpay::APPID.to_string(),
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_MERCHANT_SERIAL",
            wechatpay::MERCHANT_SERIAL.to_string(),
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_MERCHANT_KEY_FILE",
            data.join("merchant_key.pem").display().to_string(),
        ),
        (
            "PERMIT_LEDGER_WECHATPAY_APIV3_KEY_FILE",
            dir.join("apiv3.key").display().to_string(),
        ),
        ("PERMIT_LEDGER_WECHATPAY_BASE_URL", fake.base.clone()),
        ("PERMIT_LEDGER_WECHAT_API_BASE_URL", fake.base.clone()),
        (
            "PERMIT_LEDGER_WECHAT_APP_SECRET_FILE",
            dir.join("app_secret").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if mode == Mode::PublicKey {
        env.insert(
            "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_FILE".into(),
            data.join("platform_public_key.pem").display().to_string(),
        );
        env.insert(
            "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_ID".into(),
            wechatpay::PUBLIC_KEY_ID.into(),
        );
    }
    env
}

async fn client(
    mode: Mode,
) -> (
    FakeWechatPay,
    WechatPayClient,
    OAuthClient,
    crate::helpers::TempDir,
) {
    let fake = FakeWechatPay::start(mode).await;
    let dir = crate::helpers::TempDir::new();
    let env = production_env(&fake, mode, &dir.0);
    let get = |name: &str| env.get(name).cloned();
    let mut problems = Problems::default();
    let config =
        WechatPayConfig::from_env(&get, Some("https://permits.example.edu.cn"), &mut problems)
            .unwrap_or_else(|| panic!("settings refused: {:?}", problems.0));
    let (client, oauth) = config.connect().await.expect("connect");
    (fake, client, oauth, dir)
}

fn order(no: &str) -> CreateOrder {
    CreateOrder {
        out_trade_no: no.into(),
        description: "北京大学医学部通行证 2022-06-01至2023-05-31".into(),
        amount_fen: 36000,
        expires_at: Utc::now() + chrono::Duration::hours(2),
        payer_openid: Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()),
    }
}

async fn an_order_is_created_queried_paid_and_refunded(mode: Mode) {
    let (fake, client, _oauth, _dir) = client(mode).await;
    let created = client
        .create_order(order("a1b2c3d4e5f60718293a4b5c6d7e8f90"))
        .await
        .unwrap();
    let at_fake = fake
        .order("a1b2c3d4e5f60718293a4b5c6d7e8f90")
        .expect("the stand-in has it");
    assert_eq!(at_fake.prepay_id, created.prepay_id);
    assert_eq!(at_fake.total, 36000);
    assert_eq!(at_fake.openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    assert_eq!(
        at_fake.notify_url,
        "https://permits.example.edu.cn/api/v1/payments/wechat/notify"
    );
    assert!(
        at_fake.time_expire.ends_with("+08:00"),
        "{}",
        at_fake.time_expire
    );
    assert_eq!(fake.refused(), 0, "every request's signature was accepted");

    // The same order again gives the same prepay id (a retried submission).
    let again = client
        .create_order(order("a1b2c3d4e5f60718293a4b5c6d7e8f90"))
        .await
        .unwrap();
    assert_eq!(again.prepay_id, created.prepay_id);

    let unpaid = client
        .query_order("a1b2c3d4e5f60718293a4b5c6d7e8f90")
        .await
        .unwrap();
    assert_eq!(unpaid.trade_state, "NOTPAY");
    assert!(!unpaid.is_paid());

    fake.pay("a1b2c3d4e5f60718293a4b5c6d7e8f90", false).await;
    let paid = client
        .query_order("a1b2c3d4e5f60718293a4b5c6d7e8f90")
        .await
        .unwrap();
    assert!(paid.is_paid());
    assert_eq!(paid.amount_total_fen, Some(36000));
    assert!(paid.transaction_id.is_some());

    assert_eq!(
        client
            .create_order(order("a1b2c3d4e5f60718293a4b5c6d7e8f90"))
            .await,
        Err(ProviderError::AlreadyPaid)
    );
    assert_eq!(
        client.close_order("a1b2c3d4e5f60718293a4b5c6d7e8f90").await,
        Err(ProviderError::AlreadyPaid)
    );

    client
        .request_refund(RefundRequest {
            out_trade_no: "a1b2c3d4e5f60718293a4b5c6d7e8f90".into(),
            out_refund_no: "R0001".into(),
            refund_fen: 36000,
            total_fen: 36000,
            reason: "续费审核未通过".into(),
        })
        .await
        .unwrap();
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].refund, 36000);
    assert_eq!(
        refunds[0].notify_url,
        "https://permits.example.edu.cn/api/v1/refunds/wechat/notify"
    );
    assert_eq!(
        client.query_refund("R0001").await.unwrap().status,
        "PROCESSING"
    );

    assert_eq!(
        client.query_order("ffffffffffffffffffffffffffffffff").await,
        Err(ProviderError::UnknownOrder)
    );
    client
        .create_order(order("00000000000000000000000000000002"))
        .await
        .unwrap();
    client
        .close_order("00000000000000000000000000000002")
        .await
        .unwrap();
    assert_eq!(
        client
            .query_order("00000000000000000000000000000002")
            .await
            .unwrap()
            .trade_state,
        "CLOSED"
    );
}

#[tokio::test]
async fn public_key_mode_creates_queries_closes_and_refunds() {
    an_order_is_created_queried_paid_and_refunded(Mode::PublicKey).await;
}

#[tokio::test]
async fn certificate_mode_downloads_the_platform_certificate_and_does_the_same() {
    an_order_is_created_queried_paid_and_refunded(Mode::Certificates).await;
}

#[tokio::test]
async fn an_answer_with_a_bad_signature_is_not_believed() {
    let (fake, client, _oauth, _dir) = client(Mode::PublicKey).await;
    fake.tamper_next_answer();
    let refused = client
        .create_order(order("b1b2c3d4e5f60718293a4b5c6d7e8f90"))
        .await;
    assert!(
        matches!(refused, Err(ProviderError::BadResponse(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn outages_are_retried_and_refusals_are_not() {
    let (fake, client, _oauth, _dir) = client(Mode::PublicKey).await;
    fake.fail_next(2);
    client
        .create_order(order("c1b2c3d4e5f60718293a4b5c6d7e8f90"))
        .await
        .expect("third attempt");
    assert_eq!(fake.calls().len(), 3);

    fake.fail_next(3);
    let down = client
        .create_order(order("c2b2c3d4e5f60718293a4b5c6d7e8f90"))
        .await;
    assert!(
        matches!(down, Err(ProviderError::Unavailable(_))),
        "{down:?}"
    );
    assert_eq!(fake.calls().len(), 6, "three attempts, then it gives up");

    // A business refusal (another amount under the same number) is asked once.
    let mut other = order("c1b2c3d4e5f60718293a4b5c6d7e8f90");
    other.amount_fen = 100;
    let refused = client.create_order(other).await;
    assert!(
        matches!(refused, Err(ProviderError::InvalidRequest(_))),
        "{refused:?}"
    );
    assert_eq!(fake.calls().len(), 7);
}

#[tokio::test]
async fn a_request_signed_with_another_key_is_refused_by_the_stand_in() {
    // The stand-in really checks signatures: a client holding another merchant key is refused.
    let fake = FakeWechatPay::start(Mode::PublicKey).await;
    let dir = crate::helpers::TempDir::new();
    let mut env = production_env(&fake, Mode::PublicKey, &dir.0);
    env.insert(
        "PERMIT_LEDGER_WECHATPAY_MERCHANT_KEY_FILE".into(),
        wechatpay::testdata()
            .join("platform_key.pem")
            .display()
            .to_string(),
    );
    let get = |name: &str| env.get(name).cloned();
    let mut problems = Problems::default();
    let (client, _) = WechatPayConfig::from_env(&get, Some("https://x.example"), &mut problems)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let refused = client
        .create_order(order("d1b2c3d4e5f60718293a4b5c6d7e8f90"))
        .await;
    assert!(
        matches!(refused, Err(ProviderError::MerchantRefused(_))),
        "{refused:?}"
    );
    assert_eq!(fake.refused(), 1);
}

#[tokio::test]
async fn an_oauth_code_gives_the_payers_openid_once() {
    let (fake, _client, oauth, _dir) = client(Mode::PublicKey).await;
    let code = fake.issue_code("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    assert_eq!(
        oauth.openid(&code).await.unwrap(),
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    );
    assert_eq!(oauth.openid(&code).await, Err(OAuthError::BadCode(40029)));
}

#[tokio::test]
async fn every_missing_production_setting_is_named() {
    let get = |_: &str| None;
    let mut problems = Problems::default();
    assert!(WechatPayConfig::from_env(&get, None, &mut problems).is_none());
    let text = problems.0.join("\n");
    for name in [
        "PERMIT_LEDGER_WECHATPAY_MCHID",
        "PERMIT_LEDGER_WECHATPAY_APPID",
        "PERMIT_LEDGER_WECHATPAY_MERCHANT_SERIAL",
        "PERMIT_LEDGER_WECHATPAY_MERCHANT_KEY_FILE",
        "PERMIT_LEDGER_WECHATPAY_APIV3_KEY_FILE",
        "PERMIT_LEDGER_WECHAT_APP_SECRET_FILE",
    ] {
        assert!(text.contains(name), "{name} not named in:\n{text}");
    }
}
