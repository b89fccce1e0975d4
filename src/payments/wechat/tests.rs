use super::headers::{self, NotifyHeaders};
use super::notification::{wechat_time, TRANSACTION_SUCCESS};
use super::resource::DecryptFailure;
use super::*;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rsa::RsaPrivateKey;
use serde_json::json;
use std::sync::OnceLock;

const SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

fn platform_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("keygen"))
}

fn other_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("keygen"))
}

fn api_key() -> ApiV3Key {
    ApiV3Key::new(*b"0123456789abcdefghijABCDEFGHIJ01")
}

fn signer() -> Signer {
    Signer::new(platform_key().clone(), SERIAL, api_key())
}

fn verifier() -> Verifier {
    Verifier::new(platform_key().to_public_key(), SERIAL, api_key())
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 2, 3, 4)
        .single()
        .expect("valid time")
}

fn payment_resource() -> serde_json::Value {
    json!({
        "mchid": "1900000109",
        "appid": "wxd678efh567hg6787",
        "out_trade_no": "PL20250301000001",
        "transaction_id": "4200000000202503011234567890",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "success_time": "2025-03-01T10:03:00+08:00",
        "amount": {"total": 36000, "payer_total": 36000, "currency": "CNY", "payer_currency": "CNY"}
    })
}

fn refund_resource(status: &str, success_time: Option<&str>) -> serde_json::Value {
    let mut resource = json!({
        "mchid": "1900000109",
        "out_trade_no": "PL20250301000001",
        "transaction_id": "4200000000202503011234567890",
        "out_refund_no": "RF20250301000001",
        "refund_id": "50000000382019052709732678859",
        "refund_status": status,
        "amount": {"total": 36000, "refund": 36000, "payer_total": 36000, "payer_refund": 36000}
    });
    if let Some(time) = success_time {
        resource["success_time"] = json!(time);
    }
    resource
}

fn header_map(headers: &NotifyHeaders) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers.pairs() {
        map.insert(
            HeaderName::try_from(name).expect("name"),
            HeaderValue::try_from(value).expect("value"),
        );
    }
    map
}

#[test]
fn payment_notification_round_trips() {
    let (headers, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let parsed = NotifyHeaders::from_http(&header_map(&headers)).expect("headers");
    assert_eq!(parsed, headers);
    let note = verifier().verify(&parsed, &body, now()).expect("verifies");
    let Notification::Payment(payment) = &note else {
        panic!("expected a payment, got {note:?}");
    };
    assert_eq!(payment.out_trade_no, "PL20250301000001");
    assert_eq!(payment.transaction_id, "4200000000202503011234567890");
    assert_eq!(payment.trade_state, "SUCCESS");
    assert_eq!(payment.amount_total_fen, 36000);
    assert_eq!(
        payment.success_time,
        Utc.with_ymd_and_hms(2025, 3, 1, 2, 3, 0)
            .single()
            .expect("time")
    );
    assert!(!note.id().is_empty());
    assert_eq!(note.out_trade_no(), "PL20250301000001");

    let envelope: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(envelope["resource_type"], "encrypt-resource");
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(envelope["resource"]["original_type"], "transaction");
    assert_eq!(
        envelope["resource"]["nonce"].as_str().map(str::len),
        Some(12)
    );
    assert_eq!(envelope["create_time"], "2025-03-01T10:03:04+08:00");
}

#[test]
fn a_fresh_signature_of_the_same_body_verifies() {
    let (_, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let later = now() + Duration::hours(3);
    let headers = signer().sign(&body, later);
    assert!(verifier().verify(&headers, &body, later).is_ok());
}

#[test]
fn missing_headers_are_named() {
    let (headers, _) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    for name in [
        headers::TIMESTAMP,
        headers::NONCE,
        headers::SIGNATURE,
        headers::SERIAL,
    ] {
        let mut map = header_map(&headers);
        map.remove(name);
        assert_eq!(
            NotifyHeaders::from_http(&map),
            Err(VerifyError::MissingHeader(name))
        );
    }
    let mut map = header_map(&headers);
    map.remove(headers::SIGNATURE_TYPE);
    assert!(
        NotifyHeaders::from_http(&map).is_ok(),
        "the type header is optional"
    );
}

#[test]
fn another_signature_type_is_refused() {
    let (headers, _) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let mut map = header_map(&headers);
    map.insert(
        HeaderName::from_static("wechatpay-signature-type"),
        HeaderValue::from_static("WECHATPAY2-SM2-WITH-SM3"),
    );
    assert_eq!(
        NotifyHeaders::from_http(&map),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn a_tampered_body_is_a_bad_signature() {
    let (headers, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert_eq!(
        verifier().verify(&headers, &tampered, now()),
        Err(VerifyError::BadSignature)
    );
    let mut extended = body;
    extended.push(b' ');
    assert_eq!(
        verifier().verify(&headers, &extended, now()),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn tampered_headers_are_a_bad_signature() {
    let (headers, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let other_nonce = NotifyHeaders {
        nonce: format!("{}x", headers.nonce),
        ..headers.clone()
    };
    assert_eq!(
        verifier().verify(&other_nonce, &body, now()),
        Err(VerifyError::BadSignature)
    );
    let other_time = NotifyHeaders {
        timestamp: (now().timestamp() + 1).to_string(),
        ..headers.clone()
    };
    assert_eq!(
        verifier().verify(&other_time, &body, now()),
        Err(VerifyError::BadSignature)
    );
    let not_base64 = NotifyHeaders {
        signature: "%%%".into(),
        ..headers
    };
    assert_eq!(
        verifier().verify(&not_base64, &body, now()),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn another_key_is_a_bad_signature() {
    let impostor = Signer::new(other_key().clone(), SERIAL, api_key());
    let (headers, body) = impostor.notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    assert_eq!(
        verifier().verify(&headers, &body, now()),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn old_and_future_timestamps_are_stale() {
    let (_, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    for offset in [-301, 301, -86_400, 86_400] {
        let headers = signer().sign(&body, now() + Duration::seconds(offset));
        assert_eq!(
            verifier().verify(&headers, &body, now()),
            Err(VerifyError::StaleTimestamp),
            "offset {offset}"
        );
    }
    for offset in [-300, -1, 0, 1, 300] {
        let headers = signer().sign(&body, now() + Duration::seconds(offset));
        assert!(
            verifier().verify(&headers, &body, now()).is_ok(),
            "offset {offset}"
        );
    }
    let strict = verifier().with_max_skew(std::time::Duration::from_secs(10));
    let headers = signer().sign(&body, now() - Duration::seconds(11));
    assert_eq!(
        strict.verify(&headers, &body, now()),
        Err(VerifyError::StaleTimestamp)
    );
}

#[test]
fn a_timestamp_that_is_not_a_number_is_malformed() {
    let (headers, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let headers = NotifyHeaders {
        timestamp: "yesterday".into(),
        ..headers
    };
    let err = verifier()
        .verify(&headers, &body, now())
        .expect_err("refused");
    assert_eq!(err.code(), "notify_malformed");
}

#[test]
fn an_unknown_serial_is_refused_before_anything_else() {
    let (headers, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let headers = NotifyHeaders {
        serial: "0000".into(),
        timestamp: "0".into(),
        ..headers
    };
    assert_eq!(
        verifier().verify(&headers, &body, now()),
        Err(VerifyError::UnknownSerial("0000".into()))
    );
}

#[test]
fn another_api_v3_key_cannot_decrypt() {
    let (headers, body) = signer().notification(TRANSACTION_SUCCESS, &payment_resource(), now());
    let verifier = Verifier::new(
        platform_key().to_public_key(),
        SERIAL,
        ApiV3Key::new([7; 32]),
    );
    assert_eq!(
        verifier.verify(&headers, &body, now()),
        Err(VerifyError::Decrypt(DecryptFailure::Authentication))
    );
}

#[test]
fn signed_garbage_is_malformed() {
    let body = b"{not json";
    let headers = signer().sign(body, now());
    let err = verifier()
        .verify(&headers, body, now())
        .expect_err("refused");
    assert!(matches!(err, VerifyError::Malformed(_)), "{err:?}");
}

#[test]
fn a_resource_missing_fields_is_malformed_without_its_values() {
    let resource = json!({"out_trade_no": "PL-SECRET-VALUE", "amount": {"total": 1}});
    let (headers, body) = signer().notification(TRANSACTION_SUCCESS, &resource, now());
    let err = verifier()
        .verify(&headers, &body, now())
        .expect_err("refused");
    assert!(matches!(err, VerifyError::Malformed(_)), "{err:?}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

#[test]
fn an_unhandled_event_type_is_unsupported() {
    let (headers, body) = signer().notification("TRANSACTION.CLOSED", &payment_resource(), now());
    assert_eq!(
        verifier().verify(&headers, &body, now()),
        Err(VerifyError::UnsupportedEvent("TRANSACTION.CLOSED".into()))
    );
}

#[test]
fn refund_notifications_of_every_status_parse() {
    let cases = [
        (
            RefundStatus::Success,
            Some("2025-03-02T09:00:00+08:00"),
            Some(
                Utc.with_ymd_and_hms(2025, 3, 2, 1, 0, 0)
                    .single()
                    .expect("time"),
            ),
        ),
        (RefundStatus::Closed, None, None),
        (RefundStatus::Abnormal, None, None),
    ];
    for (status, wire_time, expected_time) in cases {
        let resource = refund_resource(status.as_str(), wire_time);
        let (headers, body) = signer().notification(status.event_type(), &resource, now());
        let envelope: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(envelope["resource"]["original_type"], "refund");
        let note = verifier().verify(&headers, &body, now()).expect("verifies");
        let Notification::Refund(refund) = &note else {
            panic!("expected a refund, got {note:?}");
        };
        assert_eq!(refund.status, status);
        assert_eq!(refund.out_trade_no, "PL20250301000001");
        assert_eq!(refund.out_refund_no, "RF20250301000001");
        assert_eq!(refund.refund_id, "50000000382019052709732678859");
        assert_eq!(refund.refund_fen, 36000);
        assert_eq!(refund.success_time, expected_time);
    }
}

#[test]
fn a_refund_status_disagreeing_with_the_event_is_malformed() {
    let resource = refund_resource("CLOSED", None);
    let (headers, body) = signer().notification("REFUND.SUCCESS", &resource, now());
    let err = verifier()
        .verify(&headers, &body, now())
        .expect_err("refused");
    assert!(matches!(err, VerifyError::Malformed(_)), "{err:?}");
}

#[test]
fn error_codes_are_distinct() {
    let errors = [
        VerifyError::MissingHeader("x"),
        VerifyError::UnknownSerial("x".into()),
        VerifyError::StaleTimestamp,
        VerifyError::BadSignature,
        VerifyError::Decrypt(DecryptFailure::Authentication),
        VerifyError::Malformed("x".into()),
        VerifyError::UnsupportedEvent("x".into()),
    ];
    let codes: std::collections::HashSet<_> = errors.iter().map(VerifyError::code).collect();
    assert_eq!(codes.len(), errors.len());
}

#[test]
fn keys_stay_out_of_debug_output() {
    let key = api_key();
    let shown = format!("{key:?} {:?} {:?}", signer(), verifier());
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(shown.contains(SERIAL));
}

#[test]
fn wechat_times_are_china_standard_time() {
    assert_eq!(wechat_time(now()), "2025-03-01T10:03:04+08:00");
}

fn any_headers() -> impl Strategy<Value = NotifyHeaders> {
    (
        prop_oneof![Just(SERIAL.to_owned()), ".{0,50}"],
        prop_oneof![
            (-400i64..400).prop_map(|d| (now().timestamp() + d).to_string()),
            ".{0,30}",
        ],
        ".{0,40}",
        prop_oneof!["[A-Za-z0-9+/=]{0,400}", ".{0,100}"],
    )
        .prop_map(|(serial, timestamp, nonce, signature)| NotifyHeaders {
            timestamp,
            nonce,
            signature,
            serial,
        })
}

/// Envelopes that get past JSON parsing, with random contents, to exercise what follows.
fn any_envelope() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just("TRANSACTION.SUCCESS".to_owned()),
            Just("REFUND.SUCCESS".to_owned()),
            Just("REFUND.CLOSED".to_owned()),
            ".{0,20}",
        ],
        prop_oneof![Just("encrypt-resource".to_owned()), ".{0,10}"],
        prop_oneof![Just("AEAD_AES_256_GCM".to_owned()), ".{0,10}"],
        prop_oneof![Just("transaction".to_owned()), Just("refund".to_owned())],
        "[A-Za-z0-9+/=]{0,200}",
        ".{0,20}",
        ".{0,14}",
    )
        .prop_map(|(event, rtype, alg, original, ciphertext, aad, nonce)| {
            json!({
                "id": "EV-1", "create_time": "2025-03-01T10:03:04+08:00",
                "event_type": event, "resource_type": rtype, "summary": "",
                "resource": {"algorithm": alg, "ciphertext": ciphertext,
                    "associated_data": aad, "original_type": original, "nonce": nonce}
            })
            .to_string()
            .into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_input_never_panics_the_verifier(
        headers in any_headers(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        prop_assert!(verifier().verify(&headers, &body, now()).is_err());
    }

    #[test]
    fn signed_random_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let headers = signer().sign(&body, now());
        prop_assert!(verifier().verify(&headers, &body, now()).is_err());
    }

    #[test]
    fn signed_random_envelopes_never_panic(body in any_envelope()) {
        let headers = signer().sign(&body, now());
        prop_assert!(verifier().verify(&headers, &body, now()).is_err());
    }

    #[test]
    fn random_resources_never_panic(
        event in prop_oneof![
            Just("TRANSACTION.SUCCESS"), Just("REFUND.SUCCESS"),
            Just("REFUND.CLOSED"), Just("REFUND.ABNORMAL"),
        ],
        resource in prop_oneof![
            Just(payment_resource()),
            Just(refund_resource("SUCCESS", Some("2025-03-02T09:00:00+08:00"))),
            ".{0,40}".prop_map(serde_json::Value::String),
            any::<i64>().prop_map(|n| json!({"amount": {"total": n, "refund": n}})),
        ],
    ) {
        let (headers, body) = signer().notification(event, &resource, now());
        let _ = verifier().verify(&headers, &body, now());
    }
}
