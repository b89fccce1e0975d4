//! The multipart renewal upload and the photo checks: never a 5xx, never a panic.
#![no_main]

#[path = "harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = &*harness::HARNESS;
    // The photo checks on their own.
    let _ = permit_ledger::app::photos::check(data.to_vec(), 64 * 1024);
    // A well-formed envelope around fuzzed parts, and the raw bytes as a whole body.
    let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"consent_version\"\r\n\r\n2021-01\r\n--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\r\n".to_vec();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    for bytes in [body, data.to_vec()] {
        let req = Request::post(format!("/api/v1/permits/{}/renewals", h.permit))
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .header("authorization", format!("Bearer {}", h.owner))
            .body(Body::from(bytes))
            .unwrap();
        h.send(req);
    }
});
