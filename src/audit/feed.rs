//! The feed hash: one running SHA-256 over every event's hash in global feed order.
//!
//! `feed_hash_0` is 64 zeros; `feed_hash_n = hex(SHA-256("permit-ledger/feed/v1\n" ||
//! feed_hash_{n-1} || "\n" || hash_n))`, where `hash_n` is the n-th event's stored `hash`
//! (64 lowercase hex digits). A checkpoint seals `(position, n, feed_hash_n)`.

use sha2::{Digest, Sha256};

/// The feed hash before the first event.
pub const FEED_START: &str = crate::store::GENESIS;

/// The feed hash after one more event whose hash is `event_hash`.
pub fn feed_step(prev: &str, event_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"permit-ledger/feed/v1\n");
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(event_hash.as_bytes());
    hex::encode(h.finalize())
}

/// The feed hash after `hashes`, starting from `start`.
pub fn fold<'a>(start: &str, hashes: impl IntoIterator<Item = &'a str>) -> String {
    let mut acc = start.to_string();
    for h in hashes {
        acc = feed_step(&acc, h);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_hash_depends_on_every_hash_and_their_order() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let ab = fold(FEED_START, [a.as_str(), b.as_str()]);
        let ba = fold(FEED_START, [b.as_str(), a.as_str()]);
        assert_ne!(ab, ba);
        assert_ne!(ab, fold(FEED_START, [a.as_str()]));
        assert_eq!(ab, feed_step(&feed_step(FEED_START, &a), &b));
        assert_eq!(ab.len(), 64);
    }

    #[test]
    fn the_first_step_matches_the_documented_formula() {
        let e = "1".repeat(64);
        let text = format!("permit-ledger/feed/v1\n{FEED_START}\n{e}");
        assert_eq!(
            feed_step(FEED_START, &e),
            hex::encode(Sha256::digest(text.as_bytes()))
        );
    }
}
