//! Ed25519 signatures over checkpoints.
//!
//! The signed message is the UTF-8 text
//! `permit-ledger/checkpoint/v1\n{position}\n{event_count}\n{feed_hash}` (decimal integers, the
//! feed hash in lowercase hex, no trailing newline). Signatures and public keys travel as
//! lowercase hex; a key's id is the first 16 hex digits of SHA-256 over its 32 public-key bytes.
//!
//! The key comes from `PERMIT_LEDGER_SIGNING_KEY` (the 32-byte seed in hex). In sandbox mode
//! without it, a key is generated once and kept in `service_secrets`
//! (`checkpoint_signing_key`); production mode never keeps a signing key in the database it
//! protects, so without the variable its checkpoints are unsigned.

use super::AuditError;
use crate::services::Mode;
use crate::store::Db;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

/// The environment variable holding the signing key's seed (64 hex digits).
pub const SIGNING_KEY_ENV: &str = "PERMIT_LEDGER_SIGNING_KEY";

/// The `service_secrets` row of the sandbox's generated key.
pub const SECRET_NAME: &str = "checkpoint_signing_key";

/// The signature algorithm's name in answers and exports.
pub const ALGORITHM: &str = "ed25519";

/// The exact bytes a checkpoint's signature covers.
pub fn message(position: i64, event_count: i64, feed_hash: &str) -> String {
    format!("permit-ledger/checkpoint/v1\n{position}\n{event_count}\n{feed_hash}")
}

fn key_id_of(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..16].to_string()
}

/// The service's signing key. Never printed.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointSigner({})", self.key_id())
    }
}

impl CheckpointSigner {
    /// From a 32-byte seed in hex.
    pub fn from_hex_seed(seed: &str) -> Result<Self, AuditError> {
        let bytes = hex::decode(seed.trim())
            .map_err(|_| AuditError::Key("the signing key must be 64 hex digits".into()))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| {
            AuditError::Key("the signing key must be 32 bytes (64 hex digits)".into())
        })?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The seed in hex (to store or configure; handle as a secret).
    pub fn seed_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> CheckpointKey {
        CheckpointKey {
            key: self.key.verifying_key(),
        }
    }

    /// The key's id.
    pub fn key_id(&self) -> String {
        key_id_of(&self.key.verifying_key())
    }

    /// The hex signature over a checkpoint's message.
    pub fn sign(&self, position: i64, event_count: i64, feed_hash: &str) -> String {
        let signature = self
            .key
            .sign(message(position, event_count, feed_hash).as_bytes());
        hex::encode(signature.to_bytes())
    }
}

/// A public key that checks checkpoint signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointKey {
    key: VerifyingKey,
}

impl CheckpointKey {
    /// From 32 public-key bytes in hex.
    pub fn from_hex(public: &str) -> Result<Self, AuditError> {
        let bytes = hex::decode(public.trim())
            .map_err(|_| AuditError::Key("the public key must be 64 hex digits".into()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            AuditError::Key("the public key must be 32 bytes (64 hex digits)".into())
        })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| AuditError::Key("not an Ed25519 public key".into()))?;
        Ok(Self { key })
    }

    /// The public key in hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// The key's id.
    pub fn key_id(&self) -> String {
        key_id_of(&self.key)
    }

    /// Whether `signature` (hex) signs this checkpoint under this key.
    pub fn verify(
        &self,
        position: i64,
        event_count: i64,
        feed_hash: &str,
        signature: &str,
    ) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        self.key
            .verify(
                message(position, event_count, feed_hash).as_bytes(),
                &signature,
            )
            .is_ok()
    }
}

/// The signing key this service uses: `PERMIT_LEDGER_SIGNING_KEY` if set; otherwise, in sandbox
/// mode, the key kept in `service_secrets`, generated first when `create` is true. `None` when
/// checkpoints go unsigned (production without the variable, or nothing stored yet).
pub async fn load(
    db: &Db,
    mode: Mode,
    create: bool,
) -> Result<Option<CheckpointSigner>, AuditError> {
    if let Ok(seed) = std::env::var(SIGNING_KEY_ENV) {
        if !seed.trim().is_empty() {
            return CheckpointSigner::from_hex_seed(&seed).map(Some);
        }
    }
    if mode != Mode::Sandbox {
        return Ok(None);
    }
    if create {
        sqlx::query(
            "INSERT INTO service_secrets (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(SECRET_NAME)
        .bind(CheckpointSigner::generate().seed_hex())
        .execute(&db.write)
        .await?;
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT value FROM service_secrets WHERE name = $1")
            .bind(SECRET_NAME)
            .fetch_optional(&db.write)
            .await?;
    stored
        .map(|seed| CheckpointSigner::from_hex_seed(&seed))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_checkpoint_and_key() {
        let signer = CheckpointSigner::from_hex_seed(&"07".repeat(32)).unwrap();
        let hash = "ab".repeat(32);
        let sig = signer.sign(65537, 3, &hash);
        let public = CheckpointKey::from_hex(&signer.public().to_hex()).unwrap();
        assert!(public.verify(65537, 3, &hash, &sig));
        assert!(!public.verify(65537, 4, &hash, &sig));
        assert!(!public.verify(65538, 3, &hash, &sig));
        let other = CheckpointSigner::generate().public();
        assert!(!other.verify(65537, 3, &hash, &sig));
        assert_eq!(signer.key_id().len(), 16);
        assert_eq!(signer.key_id(), public.key_id());
        assert!(!format!("{signer:?}").contains(&signer.seed_hex()));
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(CheckpointSigner::from_hex_seed("zz").is_err());
        assert!(CheckpointSigner::from_hex_seed(&"00".repeat(31)).is_err());
        assert!(CheckpointKey::from_hex(&"00".repeat(33)).is_err());
    }
}
