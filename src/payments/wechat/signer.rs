//! Making signed notifications, as the WeChat Pay platform does (used by the sandbox and tests).

use super::headers::NotifyHeaders;
use super::notification::{
    wechat_time, ORIGINAL_REFUND, ORIGINAL_TRANSACTION, REFUND_ABNORMAL, REFUND_CLOSED,
    REFUND_SUCCESS, RESOURCE_TYPE, TRANSACTION_SUCCESS,
};
use super::resource::{self, ApiV3Key, ALGORITHM};
use super::signature;
use super::verifier::Verifier;
use chrono::{DateTime, Utc};
use rand::distributions::{Alphanumeric, DistString};
use rsa::pkcs1v15::SigningKey;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// Holds the platform's private key, its serial and the merchant's API v3 key, and signs
/// notifications with them. Its `Debug` shows only the serial.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey<Sha256>,
    public_key: RsaPublicKey,
    serial: String,
    api_v3_key: ApiV3Key,
}

impl Signer {
    /// A signer. The private key should be RSA-2048 (at least 2048 bits).
    pub fn new(
        private_key: RsaPrivateKey,
        serial: impl Into<String>,
        api_v3_key: ApiV3Key,
    ) -> Self {
        Signer {
            public_key: private_key.to_public_key(),
            key: SigningKey::new(private_key),
            serial: serial.into(),
            api_v3_key,
        }
    }

    /// The platform key serial it signs as.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The public half of the platform key.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public_key
    }

    /// A verifier that accepts this signer's notifications.
    pub fn verifier(&self) -> Verifier {
        Verifier::new(
            self.public_key.clone(),
            self.serial.clone(),
            self.api_v3_key.clone(),
        )
    }

    /// A signed notification of `event_type` carrying `resource` (encrypted), with a random
    /// id and random nonces, signed at `now`.
    pub fn notification(
        &self,
        event_type: &str,
        resource: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> (NotifyHeaders, Vec<u8>) {
        let id = uuid::Uuid::new_v4().to_string();
        let body = self.seal(&id, event_type, resource, now);
        (self.sign(&body, now), body)
    }

    /// The notification body (not yet signed): the envelope with `resource` encrypted.
    pub fn seal(
        &self,
        id: &str,
        event_type: &str,
        resource: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Vec<u8> {
        let original_type = if event_type.starts_with("REFUND.") {
            ORIGINAL_REFUND
        } else {
            ORIGINAL_TRANSACTION
        };
        let nonce = resource::random_nonce();
        let ciphertext = resource::encrypt(
            &self.api_v3_key,
            &nonce,
            original_type,
            resource.to_string().as_bytes(),
        );
        serde_json::json!({
            "id": id,
            "create_time": wechat_time(now),
            "resource_type": RESOURCE_TYPE,
            "event_type": event_type,
            "summary": summary(event_type),
            "resource": {
                "original_type": original_type,
                "algorithm": ALGORITHM,
                "ciphertext": ciphertext,
                "associated_data": original_type,
                "nonce": String::from_utf8_lossy(&nonce),
            }
        })
        .to_string()
        .into_bytes()
    }

    /// Fresh signature headers for `body` at `now` (a redelivery is signed anew each time).
    pub fn sign(&self, body: &[u8], now: DateTime<Utc>) -> NotifyHeaders {
        let timestamp = now.timestamp().to_string();
        let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let signature = signature::sign(&self.key, &timestamp, &nonce, body);
        NotifyHeaders {
            timestamp,
            nonce,
            signature,
            serial: self.serial.clone(),
        }
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

fn summary(event_type: &str) -> &'static str {
    match event_type {
        TRANSACTION_SUCCESS => "支付成功",
        REFUND_SUCCESS => "退款成功",
        REFUND_CLOSED => "退款关闭",
        REFUND_ABNORMAL => "退款异常",
        _ => "通知",
    }
}
