//! JSON command bodies at every JSON endpoint: never a 5xx, never a panic.
#![no_main]

#[path = "harness.rs"]
mod harness;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = &*harness::HARNESS;
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (uri, token): (String, Option<&str>) = match selector % 9 {
        0 => (format!("/api/v1/lots/{}/codes", h.lot), None),
        1 => (format!("/api/v1/lots/{}/sessions", h.lot), None),
        2 => ("/api/v1/vehicles".into(), Some(&h.owner)),
        3 => ("/api/v1/admin/lots".into(), Some(&h.admin)),
        4 => ("/api/v1/admin/permits".into(), Some(&h.admin)),
        5 => (format!("/api/v1/admin/permits/{}/holder", h.permit), Some(&h.admin)),
        6 => (format!("/api/v1/admin/permits/{}/vehicle", h.permit), Some(&h.admin)),
        7 => (format!("/api/v1/review/renewals/{}/reject", h.permit), Some(&h.admin)),
        _ => ("/sandbox/clock".into(), None),
    };
    let mut req = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    h.send(req.body(Body::from(body.to_vec())).unwrap());
});
