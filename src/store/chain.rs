//! The tamper-evident chain: each event's hash covers its canonical encoding and the previous
//! event's hash in its stream. docs/audit.md specifies the encoding for outside verifiers.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of a stream's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An instant as it is hashed and stored: RFC 3339, UTC, exactly six fractional digits.
pub fn canonical_time(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(6)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Now, truncated to what the stores keep (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The fields an event's hash covers.
#[derive(Debug, Clone, Copy)]
pub struct Hashed<'a> {
    /// Aggregate type.
    pub aggregate_type: &'a str,
    /// Aggregate id.
    pub aggregate_id: &'a str,
    /// Sequence in the stream.
    pub sequence: i64,
    /// Event type.
    pub event_type: &'a str,
    /// Event version.
    pub event_version: &'a str,
    /// Payload.
    pub payload: &'a Value,
    /// Metadata.
    pub metadata: &'a Value,
    /// Append time.
    pub recorded_at: DateTime<Utc>,
    /// The previous event's hash in the stream.
    pub prev_hash: &'a str,
}

/// SHA-256 (hex) of the canonical encoding: fields joined by `\n` after the domain tag
/// `permit-ledger/event/v1`, JSON with sorted keys and no whitespace.
pub fn event_hash(e: &Hashed<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        "permit-ledger/event/v1",
        e.aggregate_type,
        e.aggregate_id,
        &e.sequence.to_string(),
        e.event_type,
        e.event_version,
        &canonical_json(e.payload),
        &canonical_json(e.metadata),
        &canonical_time(e.recorded_at),
        e.prev_hash,
    ] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// JSON with object keys sorted and no insignificant whitespace (serde_json's maps are sorted).
pub fn canonical_json(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(payload: &Value) -> String {
        event_hash(&Hashed {
            aggregate_type: "permit",
            aggregate_id: "p1",
            sequence: 1,
            event_type: "Paid",
            event_version: "1",
            payload,
            metadata: &json!({"role": "owner", "actor": "owner:ab"}),
            recorded_at: "2022-05-20T02:00:00.123456Z".parse().unwrap(),
            prev_hash: GENESIS,
        })
    }

    #[test]
    fn the_hash_changes_with_any_field_and_not_with_key_order() {
        let a = sample(&json!({"Paid": {"amount": 36000, "renewal_id": "r"}}));
        let b =
            sample(&serde_json::from_str(r#"{"Paid":{"renewal_id":"r","amount":36000}}"#).unwrap());
        assert_eq!(a, b, "key order does not matter");
        assert_ne!(
            a,
            sample(&json!({"Paid": {"amount": 36001, "renewal_id": "r"}}))
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn canonical_time_has_six_fractional_digits() {
        let t: DateTime<Utc> = "2022-05-20T02:00:00.1234567Z".parse().unwrap();
        assert_eq!(canonical_time(t), "2022-05-20T02:00:00.123456Z");
        let t: DateTime<Utc> = "2022-05-20T02:00:00Z".parse().unwrap();
        assert_eq!(canonical_time(t), "2022-05-20T02:00:00.000000Z");
    }

    #[test]
    fn canonical_json_sorts_keys_and_keeps_unicode() {
        let v: Value = serde_json::from_str(r#"{ "b": 1, "a": "京A66666" }"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":"京A66666","b":1}"#);
    }
}
