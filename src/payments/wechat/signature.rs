//! The notification signature: RSA, SHA-256, PKCS#1 v1.5 over
//! `"{timestamp}\n{nonce}\n{body}\n"`, base64.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier as _};
use sha2::Sha256;

/// The signed message: `"{timestamp}\n{nonce}\n{body}\n"`.
pub fn message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    for part in [timestamp.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// Signs the message; returns the base64 signature.
///
/// The key must be at least 2048 bits (then signing cannot fail).
pub fn sign(key: &SigningKey<Sha256>, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    let signature = key.sign_with_rng(&mut rand::thread_rng(), &message(timestamp, nonce, body));
    BASE64.encode(signature.to_bytes())
}

/// Whether `signature` (base64) is the key's signature of the message.
pub fn verify(
    key: &VerifyingKey<Sha256>,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let Ok(bytes) = BASE64.decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    key.verify(&message(timestamp, nonce, body), &signature)
        .is_ok()
}
