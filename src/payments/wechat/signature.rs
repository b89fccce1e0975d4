//! The API v3 signatures: RSA, SHA-256, PKCS#1 v1.5 over lines each ended by `\n`, base64.
//!
//! - Notifications and responses (signed by WeChat Pay): `timestamp`, `nonce`, `body`.
//! - Requests (signed by the merchant): `method`, `url` (path and query), `timestamp`, `nonce`,
//!   `body` ([`request_message`]).
//! - JSAPI pay parameters (signed by the merchant): `appId`, `timeStamp`, `nonceStr`, `package`
//!   ([`pay_sign_message`]).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer as _, Verifier as _};
use sha2::Sha256;

/// The parts, each followed by `\n`.
pub fn lines(parts: &[&[u8]]) -> Vec<u8> {
    let mut message = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// The signed message of a notification or a response: `"{timestamp}\n{nonce}\n{body}\n"`.
pub fn message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    lines(&[timestamp.as_bytes(), nonce.as_bytes(), body])
}

/// The signed message of a request: `"{METHOD}\n{path?query}\n{timestamp}\n{nonce}\n{body}\n"`
/// (the body is empty for a GET).
pub fn request_message(
    method: &str,
    url: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    lines(&[
        method.as_bytes(),
        url.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        body,
    ])
}

/// The signed message of JSAPI pay parameters: `"{appId}\n{timeStamp}\n{nonceStr}\n{package}\n"`.
pub fn pay_sign_message(app_id: &str, timestamp: &str, nonce: &str, package: &str) -> Vec<u8> {
    lines(&[
        app_id.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        package.as_bytes(),
    ])
}

/// Signs a message; returns the base64 signature. PKCS#1 v1.5 is deterministic: the same key
/// and message always give the same signature (which is what lets the published examples pin it).
///
/// The key must be at least 2048 bits (then signing cannot fail).
pub fn sign_message(key: &SigningKey<Sha256>, message: &[u8]) -> String {
    BASE64.encode(key.sign(message).to_bytes())
}

/// Whether `signature` (base64) is the key's signature of the message.
pub fn verify_message(key: &VerifyingKey<Sha256>, message: &[u8], signature: &str) -> bool {
    let Ok(bytes) = BASE64.decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// Signs a notification or response message; returns the base64 signature.
pub fn sign(key: &SigningKey<Sha256>, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    sign_message(key, &message(timestamp, nonce, body))
}

/// Whether `signature` (base64) is the key's signature of a notification or response.
pub fn verify(
    key: &VerifyingKey<Sha256>,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    verify_message(key, &message(timestamp, nonce, body), signature)
}
