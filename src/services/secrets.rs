//! The service's keyed hashes: phones in ids and metadata, and SMS codes in the ledger.
//!
//! Both are HMAC-SHA256 under one secret key, so a leaked ledger reveals neither phones (from
//! actor ids) nor codes (a 6-digit code's plain hash would be reversed in microseconds).

use crate::store::{Db, StoreError};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;

/// The HMAC key. Never printed.
#[derive(Clone)]
pub struct Secrets {
    key: Vec<u8>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    /// From a configured key (hex or any text of at least 32 bytes).
    pub fn from_key(key: &str) -> Option<Self> {
        let bytes = hex::decode(key).unwrap_or_else(|_| key.as_bytes().to_vec());
        (bytes.len() >= 32).then_some(Self { key: bytes })
    }

    /// The key stored in the database, generated on first use (sandbox and single-office use).
    pub async fn load_or_create(db: &Db) -> Result<Self, StoreError> {
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        sqlx::query(
            "INSERT INTO service_secrets (name, value) VALUES ('hmac_key', $1)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(hex::encode(fresh))
        .execute(&db.write)
        .await?;
        let stored: String =
            sqlx::query_scalar("SELECT value FROM service_secrets WHERE name = 'hmac_key'")
                .fetch_one(&db.write)
                .await?;
        Self::from_key(&stored).ok_or_else(|| StoreError::Malformed("hmac_key".into()))
    }

    fn mac(&self, parts: &[&str]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(b"\x1f");
            }
            mac.update(part.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The keyed hash identifying a phone in ids and metadata.
    pub fn phone_hash(&self, phone: &str) -> String {
        self.mac(&["phone", phone])[..32].to_string()
    }

    /// The keyed digest of a code sent to a phone.
    pub fn code_digest(&self, phone: &str, code: &str) -> String {
        self.mac(&["code", phone, code])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_the_key_the_phone_and_the_code() {
        let a = Secrets::from_key(&"ab".repeat(32)).unwrap();
        let b = Secrets::from_key(&"cd".repeat(32)).unwrap();
        assert_eq!(
            a.code_digest("139", "123456"),
            a.code_digest("139", "123456")
        );
        assert_ne!(
            a.code_digest("139", "123456"),
            a.code_digest("138", "123456")
        );
        assert_ne!(
            a.code_digest("139", "123456"),
            b.code_digest("139", "123456")
        );
        assert_ne!(a.phone_hash("13912345678"), b.phone_hash("13912345678"));
        assert!(!a.phone_hash("13912345678").contains("13912345678"));
    }

    #[test]
    fn short_keys_are_refused_and_never_printed() {
        assert!(Secrets::from_key("short").is_none());
        let s = Secrets::from_key(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{s:?}"), "Secrets(..)");
    }
}
