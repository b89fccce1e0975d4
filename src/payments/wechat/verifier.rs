//! Checking an incoming notification: serial, clock, signature, then decryption and parsing.

use super::headers::NotifyHeaders;
use super::notification::{
    Envelope, Notification, PaymentResult, RefundResource, RefundResult, RefundStatus,
    TransactionResource, ORIGINAL_REFUND, ORIGINAL_TRANSACTION, RESOURCE_TYPE, TRANSACTION_SUCCESS,
};
use super::resource::{self, ApiV3Key, DecryptFailure, ALGORITHM};
use super::signature;
use chrono::{DateTime, Utc};
use rsa::pkcs1v15::VerifyingKey;
use rsa::RsaPublicKey;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Why a notification was refused. Every message is safe to log: none holds a key or a
/// decrypted value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required `Wechatpay-*` header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// Signed by a platform key this verifier does not know.
    #[error("unknown platform key serial {0:?}")]
    UnknownSerial(String),
    /// `Wechatpay-Timestamp` is too far from now (a replay, or a badly wrong clock).
    #[error("notification timestamp outside the allowed clock skew")]
    StaleTimestamp,
    /// The signature does not match the body (or is not a signature at all).
    #[error("bad notification signature")]
    BadSignature,
    /// The resource could not be decrypted with the API v3 key.
    #[error("cannot decrypt the notification resource: {}", .0.as_str())]
    Decrypt(DecryptFailure),
    /// Signed, but not the JSON a notification should be.
    #[error("malformed notification: {0}")]
    Malformed(String),
    /// Signed and well formed, but an event type this service does not handle.
    #[error("unsupported notification event type {0:?}")]
    UnsupportedEvent(String),
}

impl VerifyError {
    /// The stable snake_case code, for logs and responses.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "notify_missing_header",
            VerifyError::UnknownSerial(_) => "notify_unknown_serial",
            VerifyError::StaleTimestamp => "notify_stale_timestamp",
            VerifyError::BadSignature => "notify_bad_signature",
            VerifyError::Decrypt(_) => "notify_decrypt_failed",
            VerifyError::Malformed(_) => "notify_malformed",
            VerifyError::UnsupportedEvent(_) => "notify_unsupported_event",
        }
    }
}

/// The platform keys WeChat Pay signs with, by serial: the `PUB_KEY_ID_…` of WeChat Pay
/// public-key mode, or platform-certificate serials (several at once during a rotation). Shared:
/// a refresh is seen by every clone at once.
#[derive(Clone, Default)]
pub struct PlatformKeys(Arc<RwLock<HashMap<String, VerifyingKey<Sha256>>>>);

impl PlatformKeys {
    /// One key.
    pub fn single(serial: impl Into<String>, key: RsaPublicKey) -> Self {
        let keys = PlatformKeys::default();
        keys.insert(serial, key);
        keys
    }

    /// Adds (or replaces) the key with this serial.
    pub fn insert(&self, serial: impl Into<String>, key: RsaPublicKey) {
        self.write().insert(serial.into(), VerifyingKey::new(key));
    }

    /// Keeps only the keys whose serial is in `serials`.
    pub fn retain(&self, serials: &[String]) {
        self.write().retain(|s, _| serials.contains(s));
    }

    /// The serials known, sorted.
    pub fn serials(&self) -> Vec<String> {
        let mut serials: Vec<String> = self.read().keys().cloned().collect();
        serials.sort();
        serials
    }

    fn get(&self, serial: &str) -> Option<VerifyingKey<Sha256>> {
        self.read().get(serial).cloned()
    }

    /// The key with this serial.
    pub fn key(&self, serial: &str) -> Option<RsaPublicKey> {
        self.get(serial).map(|k| k.as_ref().clone())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, VerifyingKey<Sha256>>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, VerifyingKey<Sha256>>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Checks what WeChat Pay signs (notifications and API responses) with its platform keys, and
/// decrypts notifications under the merchant's API v3 key.
#[derive(Clone)]
pub struct Verifier {
    keys: PlatformKeys,
    api_v3_key: ApiV3Key,
    max_skew: Duration,
    /// The merchant id and AppID notifications must name (production).
    expect: Option<(String, String)>,
}

impl Verifier {
    /// The default tolerance between `Wechatpay-Timestamp` and now: 5 minutes.
    pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(5 * 60);

    /// A verifier for the platform key with this serial, decrypting with `api_v3_key`, and
    /// allowing [`Verifier::DEFAULT_MAX_SKEW`].
    pub fn new(
        platform_key: RsaPublicKey,
        serial: impl Into<String>,
        api_v3_key: ApiV3Key,
    ) -> Self {
        Self::with_keys(PlatformKeys::single(serial, platform_key), api_v3_key)
    }

    /// A verifier over a (possibly refreshed) set of platform keys.
    pub fn with_keys(keys: PlatformKeys, api_v3_key: ApiV3Key) -> Self {
        Verifier {
            keys,
            api_v3_key,
            max_skew: Self::DEFAULT_MAX_SKEW,
            expect: None,
        }
    }

    /// The same verifier refusing notifications that name another merchant id or AppID (a
    /// genuine notification for another merchant sharing the platform key is not ours).
    pub fn expecting(mut self, mchid: impl Into<String>, appid: impl Into<String>) -> Self {
        self.expect = Some((mchid.into(), appid.into()));
        self
    }

    /// The same verifier allowing a different clock skew (either way).
    pub fn with_max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// The first platform key serial it accepts (the only one outside a rotation).
    pub fn serial(&self) -> String {
        self.keys.serials().into_iter().next().unwrap_or_default()
    }

    /// The platform keys it accepts.
    pub fn keys(&self) -> &PlatformKeys {
        &self.keys
    }

    /// The APIv3 key it opens sealed resources with.
    pub(crate) fn api_v3_key(&self) -> &ApiV3Key {
        &self.api_v3_key
    }

    /// Checks a notification and returns what it says.
    ///
    /// In order: the serial, the timestamp (within the skew of `now`, either way), the
    /// signature over the exact body bytes, and only then the envelope, the event type, the
    /// decryption and the resource.
    pub fn verify(
        &self,
        headers: &NotifyHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Notification, VerifyError> {
        self.verify_signature(headers, body, now)?;
        self.open(body)
    }

    /// Checks that `body` was signed by a known platform key within the allowed skew of `now`
    /// (the check every notification and every API response must pass before it is believed).
    pub fn verify_signature(
        &self,
        headers: &NotifyHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let Some(key) = self.keys.get(&headers.serial) else {
            // Unauthenticated input: keep what goes into logs short.
            let shown = headers.serial.chars().take(64).collect();
            return Err(VerifyError::UnknownSerial(shown));
        };
        let timestamp: i64 = headers.timestamp.trim().parse().map_err(|_| {
            VerifyError::Malformed("Wechatpay-Timestamp is not unix seconds".into())
        })?;
        if now.timestamp().abs_diff(timestamp) > self.max_skew.as_secs() {
            return Err(VerifyError::StaleTimestamp);
        }
        if !signature::verify(
            &key,
            &headers.timestamp,
            &headers.nonce,
            body,
            &headers.signature,
        ) {
            return Err(VerifyError::BadSignature);
        }
        Ok(())
    }

    /// Parses, decrypts and reads a body whose signature has been checked.
    pub(crate) fn open(&self, body: &[u8]) -> Result<Notification, VerifyError> {
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|e| VerifyError::Malformed(format!("envelope: {e}")))?;
        let refund_status = RefundStatus::from_event_type(&envelope.event_type);
        let expected_type = match refund_status {
            Some(_) => ORIGINAL_REFUND,
            None if envelope.event_type == TRANSACTION_SUCCESS => ORIGINAL_TRANSACTION,
            None => return Err(VerifyError::UnsupportedEvent(envelope.event_type)),
        };
        if envelope.resource_type != RESOURCE_TYPE {
            return Err(VerifyError::Malformed(format!(
                "resource_type is {:?}, not {RESOURCE_TYPE}",
                envelope.resource_type
            )));
        }
        let sealed = &envelope.resource;
        if sealed.original_type != expected_type {
            return Err(VerifyError::Malformed(format!(
                "{} carries a {:?} resource",
                envelope.event_type, sealed.original_type
            )));
        }
        if sealed.algorithm != ALGORITHM {
            return Err(VerifyError::Decrypt(DecryptFailure::UnsupportedAlgorithm));
        }
        let plaintext = resource::decrypt(
            &self.api_v3_key,
            &sealed.nonce,
            &sealed.associated_data,
            &sealed.ciphertext,
        )
        .map_err(VerifyError::Decrypt)?;
        match refund_status {
            None => {
                let resource: TransactionResource = read_resource(&plaintext)?;
                self.check_party(resource.mchid.as_deref(), resource.appid.as_deref())?;
                payment(envelope.id, resource).map(Notification::Payment)
            }
            Some(status) => {
                let resource: RefundResource = read_resource(&plaintext)?;
                self.check_party(resource.mchid.as_deref(), None)?;
                refund(envelope.id, status, resource).map(Notification::Refund)
            }
        }
    }
}

impl Verifier {
    fn check_party(&self, mchid: Option<&str>, appid: Option<&str>) -> Result<(), VerifyError> {
        let Some((our_mchid, our_appid)) = &self.expect else {
            return Ok(());
        };
        if mchid != Some(our_mchid.as_str()) {
            return Err(VerifyError::Malformed(
                "the notification names another merchant id".into(),
            ));
        }
        if appid.is_some_and(|a| a != our_appid) {
            return Err(VerifyError::Malformed(
                "the notification names another AppID".into(),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("serials", &self.keys.serials())
            .field("max_skew", &self.max_skew)
            .finish_non_exhaustive()
    }
}

/// Parses a decrypted resource. The error names the position, never the (personal) values.
fn read_resource<T: DeserializeOwned>(plaintext: &[u8]) -> Result<T, VerifyError> {
    serde_json::from_slice(plaintext).map_err(|e| {
        VerifyError::Malformed(format!(
            "resource: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

fn payment(id: String, resource: TransactionResource) -> Result<PaymentResult, VerifyError> {
    if resource.amount.total < 0 {
        return Err(VerifyError::Malformed("negative amount".into()));
    }
    Ok(PaymentResult {
        notification_id: id,
        out_trade_no: resource.out_trade_no,
        transaction_id: resource.transaction_id,
        trade_state: resource.trade_state,
        amount_total_fen: resource.amount.total,
        success_time: resource.success_time,
    })
}

fn refund(
    id: String,
    announced: RefundStatus,
    resource: RefundResource,
) -> Result<RefundResult, VerifyError> {
    if resource.refund_status != announced {
        return Err(VerifyError::Malformed(format!(
            "{} carries refund_status {}",
            announced.event_type(),
            resource.refund_status.as_str()
        )));
    }
    if resource.amount.refund < 0 {
        return Err(VerifyError::Malformed("negative amount".into()));
    }
    Ok(RefundResult {
        notification_id: id,
        out_trade_no: resource.out_trade_no,
        out_refund_no: resource.out_refund_no,
        refund_id: resource.refund_id,
        status: resource.refund_status,
        refund_fen: resource.amount.refund,
        success_time: resource.success_time,
    })
}
