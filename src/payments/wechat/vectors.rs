//! The published examples of WeChat Pay's API v3 documentation, byte for byte.
//!
//! - Request signature: the JSAPI order example of "签名生成" (request signature),
//!   <https://pay.weixin.qq.com/doc/v3/merchant/4012365336>, signed with the test merchant key
//!   printed on the JSAPI pay-signature page (its "apiclient_test_key.pem", which the docs say is
//!   a sample and not usable for real).
//! - JSAPI `paySign`: "JSAPI调起支付签名", <https://pay.weixin.qq.com/doc/v3/merchant/4012365339>.
//! - Response verification in WeChat Pay public-key mode: "如何使用微信支付公钥验签",
//!   <https://pay.weixin.qq.com/docs/merchant/development/interface-rules/build-verify-sign-src.html>
//!   (the Native order answer `{"code_url":…}` signed by `PUB_KEY_ID_0000000000000024101100397200000006`).

use super::headers::NotifyHeaders;
use super::merchant::{AuthorizationParts, MerchantKey};
use super::resource::ApiV3Key;
use super::verifier::{Verifier, VerifyError};
use chrono::{TimeZone, Utc};
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;

const TEST_KEY: &str = include_str!("testdata/doc_test_key.pem");
const WECHATPAY_PUBLIC_KEY: &str = include_str!("testdata/doc_wechatpay_public_key.pem");

const JSAPI_BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}"#;
const JSAPI_SIGNATURE: &str = "gEuexJ547PHFV77TQ6eiE4tphVYfWfUe1Wc2dBmVnoMYU2rl/M4zhw+b3vBhuMw6AC7pteNkryLA7UWU2h+umo0OdSuuLm1++O3NckQPCSfm6dypsjn4GYm84KMqXWFrhFmyxEwIdEJDr3w1UYfxOcu55OQupfLkrt/ZzuOspnliJFrPzGQFUk7lGqMMtpz3EfbDUNxnVsHblORg3hVmuYNmbGWnS2ovU30Y2Q+iKFDxzkaXBk8LTy6HzvxizRo6Q+J4SVM7O0hKXfgo1QdI68kpzNULb3EVBXlhTyPUzhkHzzLxECL1qHl3HH2hEv8++C+4wBlsagF3j/O6PABojA==";

fn merchant() -> MerchantKey {
    MerchantKey::from_pem(
        "1230000109",
        "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
        TEST_KEY,
    )
    .expect("the documentation's test key reads")
}

#[test]
fn the_jsapi_order_request_is_signed_as_the_documentation_shows() {
    let signature = merchant().sign_request(
        "POST",
        "/v3/pay/transactions/jsapi",
        JSAPI_BODY.as_bytes(),
        "1554208460",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    );
    assert_eq!(signature, JSAPI_SIGNATURE);
}

#[test]
fn the_request_body_example_of_merchant_1900007291_is_signed_as_published() {
    let body = JSAPI_BODY.replace("1230000109", "1900007291");
    let signature = merchant().sign_request(
        "POST",
        "/v3/pay/transactions/jsapi",
        body.as_bytes(),
        "1554208460",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    );
    assert_eq!(signature, "jnks4dlrPw3ZX+ozVvSK39oa0t7OMBsg83BHAwd8BRdUFiVaQNTLTvci+wURgP1OQBbKYhFGvt7iqYpDSTQkp7Uq1sltaQKyncCyrA1g88m5bsKERQfPyT0ahSwKTYJ1CAn9QiJuSJRq1QsQs07eehbU/k9BCS51jTyc1Jpsi2H77HF9f/BnjXAOP3/sPObg6V5Ee4EzwLox684hhuMuIwHo7D8KFk3LIHOKDcNI4It1aCXydFWNpNK+SG86VUDe5kwoDpw4Ulqfu9z8OFDGbDs9TCxEv8iqQzbpxOlEVoOe2kalSYM5kApQb3nZcxdUtoE0liJGW3RGUNE0t4v01A==");
}

#[test]
fn the_authorization_header_carries_the_five_fields_and_parses_back() {
    let header = merchant().authorization(
        "POST",
        "/v3/pay/transactions/jsapi",
        JSAPI_BODY.as_bytes(),
        "1554208460",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    );
    assert!(header.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1230000109\","));
    let parts = AuthorizationParts::parse(&header).expect("parses");
    assert_eq!(parts.mchid, "1230000109");
    assert_eq!(parts.serial_no, "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB");
    assert_eq!(parts.nonce_str, "593BEC0C930BF1AFEB40B4A08C8FB242");
    assert_eq!(parts.timestamp, "1554208460");
    assert_eq!(parts.signature, JSAPI_SIGNATURE);
}

#[test]
fn the_jsapi_pay_sign_is_the_documentation_s() {
    let params = merchant().pay_params(
        "wx2421b1c4370ec43b",
        "wx201410272009395522657a690389285100",
        "1554208460",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    );
    assert_eq!(
        params.package,
        "prepay_id=wx201410272009395522657a690389285100"
    );
    assert_eq!(params.sign_type, "RSA");
    assert_eq!(
        params.pay_sign,
        "mI35pfNEQV6777ke/1T+LJLQDNTm7yeoUJH+j/adPGhmCCi0PbgkvYQTRcXH0uibcLVtvFLdGLpmoYO9FV6lBBsTAjuhh5YOvQi0e2g3e0yytitiNET9FEuqM0pjnKfRW4K6LIZDdbWJv9KhZUx3DrJa5TL7OJ7VdADVivxVySIlPVKjGwuCXzuXSJes0UcILgWQUMyha5/3nYofuHtS7r+KYyMuxD+oJ9VM1Qdxk4UIG59CP5Y3wtYIFybyF3bdu1caHTRRX+DLyMXyYA/IrTmiW01c4RPjpHBX5Dk1sZyY1zVsWNsvMHr2e1NTWtBxKJ+qk5N61J7caYoepHFaxw=="
    );
    let json = serde_json::to_value(&params).expect("serialises");
    for field in [
        "appId",
        "timeStamp",
        "nonceStr",
        "package",
        "signType",
        "paySign",
    ] {
        assert!(
            json.get(field).is_some(),
            "{field} is sent as WeixinJSBridge expects"
        );
    }
}

fn doc_response() -> (NotifyHeaders, &'static [u8]) {
    (
        NotifyHeaders {
            timestamp: "1722850421".into(),
            nonce: "d824f2e086d3c1df967785d13fcd22ef".into(),
            signature: "mfI1CPqvBrgcXfgXMFjdNIhBf27ACE2YyeWsWV9ZI7T7RU0vHvbQpu9Z32ogzc+k8ZC5n3kz7h70eWKjgqNdKQF0eRp8mVKlmfzMLBVHbssB9jEZEDXThOX1XFqX7s7ymia1hoHQxQagPGzkdWxtlZPZ4ZPvr1RiqkgAu6Is8MZgXXrRoBKqjmSdrP1N7uxzJ/cjfSiis9FiLjuADoqmQ1P7p2N876YPAol7Rn0+GswwAwxldbdLrmVSjfytfSBJFqTMHn4itojgxSWWN1byuckQt8hSTEv/Lg97QoeGniYP17T80pJeQyL3b+295FPHSO2AtvCgyIbKMZ0BALilAA==".into(),
            serial: "PUB_KEY_ID_0000000000000024101100397200000006".into(),
        },
        br#"{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}"#,
    )
}

fn doc_verifier() -> Verifier {
    let key = RsaPublicKey::from_public_key_pem(WECHATPAY_PUBLIC_KEY).expect("public key reads");
    Verifier::new(
        key,
        "PUB_KEY_ID_0000000000000024101100397200000006",
        ApiV3Key::new([b'0'; 32]),
    )
}

#[test]
fn the_documentation_s_response_verifies_with_the_wechatpay_public_key() {
    let (headers, body) = doc_response();
    let signed_at = Utc.timestamp_opt(1_722_850_421, 0).single().expect("time");
    assert_eq!(
        doc_verifier().verify_signature(&headers, body, signed_at),
        Ok(())
    );
}

#[test]
fn the_documentation_s_response_with_one_byte_changed_is_refused() {
    let (headers, _) = doc_response();
    let signed_at = Utc.timestamp_opt(1_722_850_421, 0).single().expect("time");
    let tampered = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz2"}"#;
    assert_eq!(
        doc_verifier().verify_signature(&headers, tampered, signed_at),
        Err(VerifyError::BadSignature)
    );
    let mut other_serial = headers.clone();
    other_serial.serial = "PUB_KEY_ID_0000000000000024101100397200000007".into();
    assert!(matches!(
        doc_verifier().verify_signature(&other_serial, doc_response().1, signed_at),
        Err(VerifyError::UnknownSerial(_))
    ));
}
