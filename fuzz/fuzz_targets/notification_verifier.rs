//! Payment and refund notifications with fuzzed headers and bodies: the verifier never panics,
//! and the callback routes never answer 5xx to something that is not genuine.
#![no_main]

#[path = "harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = &*harness::HARNESS;
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\n');
    let timestamp = parts.next().unwrap_or_default().to_string();
    let nonce = parts.next().unwrap_or_default().to_string();
    let signature = parts.next().unwrap_or_default().to_string();
    let serial = parts.next().unwrap_or_default().to_string();
    let body = parts.next().unwrap_or_default().as_bytes().to_vec();
    let headers = permit_ledger::payments::NotifyHeaders {
        timestamp: timestamp.clone(),
        nonce: nonce.clone(),
        signature: signature.clone(),
        serial: serial.clone(),
    };
    let _ = h
        .services
        .payments
        .verifier()
        .verify(&headers, &body, chrono::Utc::now());
    for uri in ["/api/v1/payments/wechat/notify", "/api/v1/refunds/wechat/notify"] {
        let mut req = Request::post(uri).header("content-type", "application/json");
        for (name, value) in [
            ("wechatpay-timestamp", &timestamp),
            ("wechatpay-nonce", &nonce),
            ("wechatpay-signature", &signature),
            ("wechatpay-serial", &serial),
        ] {
            if axum::http::HeaderValue::from_str(value).is_ok() {
                req = req.header(name, value.as_str());
            }
        }
        h.send(req.body(Body::from(body.clone())).unwrap());
    }
});
