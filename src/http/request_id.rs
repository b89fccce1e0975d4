//! The request id: the client's `x-request-id` when it is a plausible id, else a new UUID.
//!
//! It goes into every log line of the request and into the metadata of every event the request
//! appends, so a client may not put anything there: at most 64 visible ASCII characters, no
//! spaces. Another value is replaced (by the `SetRequestIdLayer` after this).

use axum::extract::Request;
use axum::http::HeaderValue;

/// The longest request id kept.
pub const MAX_LEN: usize = 64;

/// Whether a client's request id is kept as it is.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(u8::is_ascii_graphic)
}

/// Drops an `x-request-id` that is not acceptable, so that a fresh one is set.
pub(super) async fn drop_unacceptable(mut req: Request) -> Request {
    let headers = req.headers_mut();
    let all_fine = headers.get_all(super::REQUEST_ID).iter().all(acceptable);
    let count = headers.get_all(super::REQUEST_ID).iter().count();
    if !all_fine || count > 1 {
        headers.remove(super::REQUEST_ID);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        let ok = |s: &str| acceptable(&HeaderValue::from_str(s).unwrap());
        assert!(ok("3f0c2a1e-7b5d-4c9a-8e2f-1a2b3c4d5e6f"));
        assert!(ok("req_42:trace=abc"));
        assert!(ok(&"a".repeat(MAX_LEN)));
        assert!(!ok(&"a".repeat(MAX_LEN + 1)));
        assert!(!ok("two words"));
        assert!(!ok(""));
        assert!(!acceptable(
            &HeaderValue::from_bytes("编号".as_bytes()).unwrap()
        ));
        assert!(!acceptable(&HeaderValue::from_bytes(b"a\tb").unwrap()));
    }
}
