//! The encrypted `resource` of a notification: AEAD_AES_256_GCM under the API v3 key.
//!
//! The nonce is a 12-character ASCII string, the associated data a string (possibly empty),
//! and `ciphertext` is base64 of the ciphertext followed by the 16-byte tag.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;

/// The only resource algorithm API v3 uses.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// Length of the resource nonce, in bytes (ASCII characters).
pub const NONCE_LEN: usize = 12;

/// The merchant's 32-byte API v3 key, which encrypts notification resources.
///
/// Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiV3Key([u8; 32]);

/// A key of the wrong length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an API v3 key is 32 bytes, got {0}")]
pub struct InvalidKeyLength(pub usize);

impl ApiV3Key {
    /// A key from its 32 bytes (in WeChat's merchant console, a 32-character ASCII string).
    pub fn new(bytes: [u8; 32]) -> Self {
        ApiV3Key(bytes)
    }

    /// A fresh random key of 32 ASCII letters and digits, as WeChat's console makes them.
    pub fn random() -> Self {
        let text = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(text.as_bytes());
        ApiV3Key(bytes)
    }

    /// The key's bytes (for storing it; never log them).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl TryFrom<&[u8]> for ApiV3Key {
    type Error = InvalidKeyLength;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(bytes)
            .map(ApiV3Key)
            .map_err(|_| InvalidKeyLength(bytes.len()))
    }
}

impl std::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiV3Key(..)")
    }
}

/// Why a resource could not be decrypted (safe to log: it names no key or plaintext).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptFailure {
    /// `algorithm` is not AEAD_AES_256_GCM.
    UnsupportedAlgorithm,
    /// `ciphertext` is not base64.
    NotBase64,
    /// `nonce` is not 12 bytes.
    BadNonce,
    /// The tag did not match: wrong key, or tampered ciphertext, nonce or associated data.
    Authentication,
}

impl DecryptFailure {
    /// Human text.
    pub fn as_str(self) -> &'static str {
        match self {
            DecryptFailure::UnsupportedAlgorithm => "unsupported resource algorithm",
            DecryptFailure::NotBase64 => "ciphertext is not base64",
            DecryptFailure::BadNonce => "nonce is not 12 bytes",
            DecryptFailure::Authentication => "authentication failed",
        }
    }
}

/// A fresh random nonce of 12 ASCII letters and digits, as WeChat makes them.
pub fn random_nonce() -> [u8; NONCE_LEN] {
    let mut rng = rand::thread_rng();
    std::array::from_fn(|_| rng.sample(Alphanumeric))
}

/// Encrypts `plaintext`; returns base64(ciphertext || tag).
pub fn encrypt(
    key: &ApiV3Key,
    nonce: &[u8; NONCE_LEN],
    associated_data: &str,
    plaintext: &[u8],
) -> String {
    let payload = Payload {
        msg: plaintext,
        aad: associated_data.as_bytes(),
    };
    let sealed = key
        .cipher()
        .encrypt(Nonce::<U12>::from_slice(nonce), payload)
        // AES-GCM refuses only messages over 64 GiB, which no notification comes near.
        .expect("AES-GCM encrypts any message under 64 GiB");
    BASE64.encode(sealed)
}

/// Decrypts base64(ciphertext || tag) and checks its tag.
pub fn decrypt(
    key: &ApiV3Key,
    nonce: &str,
    associated_data: &str,
    ciphertext: &str,
) -> Result<Vec<u8>, DecryptFailure> {
    let nonce = nonce_of(nonce)?;
    let sealed = BASE64
        .decode(ciphertext)
        .map_err(|_| DecryptFailure::NotBase64)?;
    let payload = Payload {
        msg: &sealed,
        aad: associated_data.as_bytes(),
    };
    key.cipher()
        .decrypt(nonce, payload)
        .map_err(|_| DecryptFailure::Authentication)
}

fn nonce_of(nonce: &str) -> Result<&Nonce<U12>, DecryptFailure> {
    if nonce.len() != NONCE_LEN {
        return Err(DecryptFailure::BadNonce);
    }
    Ok(Nonce::from_slice(nonce.as_bytes()))
}
