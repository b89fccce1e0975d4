//! The merchant's side of the protocol: signing API requests (the `Authorization` header) and
//! the JSAPI pay parameters the payer's WeChat client needs (`paySign`).

use super::signature;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The authentication scheme of API v3 requests.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The merchant's API identity: merchant id, the API certificate's serial and its private key.
/// Its `Debug` shows only the merchant id and the serial.
#[derive(Clone)]
pub struct MerchantKey {
    mchid: String,
    serial: String,
    key: SigningKey<Sha256>,
    public_key: RsaPublicKey,
}

/// Why a merchant key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an RSA private key in PEM (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`)"
)]
pub struct BadMerchantKey;

impl MerchantKey {
    /// A merchant key.
    pub fn new(mchid: impl Into<String>, serial: impl Into<String>, key: RsaPrivateKey) -> Self {
        MerchantKey {
            mchid: mchid.into(),
            serial: serial.into(),
            public_key: key.to_public_key(),
            key: SigningKey::new(key),
        }
    }

    /// Reads the private key from PEM: `apiclient_key.pem` is PKCS#8; PKCS#1 is accepted too.
    pub fn from_pem(
        mchid: impl Into<String>,
        serial: impl Into<String>,
        pem: &str,
    ) -> Result<Self, BadMerchantKey> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| BadMerchantKey)?;
        Ok(Self::new(mchid, serial, key))
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    /// The API certificate's serial.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The public half (what WeChat Pay checks requests with).
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public_key
    }

    /// The request signature (base64) of `method url` with `body` at `timestamp` with `nonce`.
    pub fn sign_request(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
        timestamp: &str,
        nonce: &str,
    ) -> String {
        let message = signature::request_message(method, url, timestamp, nonce, body);
        signature::sign_message(&self.key, &message)
    }

    /// The `Authorization` header of a request: `WECHATPAY2-SHA256-RSA2048 mchid="…",…`.
    pub fn authorization(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
        timestamp: &str,
        nonce: &str,
    ) -> String {
        let signature = self.sign_request(method, url, body, timestamp, nonce);
        format!(
            "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.mchid, self.serial
        )
    }

    /// The JSAPI pay parameters for `prepay_id`, signed (`signType` RSA).
    pub fn pay_params(
        &self,
        app_id: &str,
        prepay_id: &str,
        timestamp: &str,
        nonce: &str,
    ) -> JsapiParams {
        let package = format!("prepay_id={prepay_id}");
        let message = signature::pay_sign_message(app_id, timestamp, nonce, &package);
        JsapiParams {
            app_id: app_id.to_string(),
            time_stamp: timestamp.to_string(),
            nonce_str: nonce.to_string(),
            package,
            sign_type: "RSA".to_string(),
            pay_sign: signature::sign_message(&self.key, &message),
        }
    }
}

impl std::fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantKey")
            .field("mchid", &self.mchid)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// What `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiParams {
    /// The official account's AppID.
    pub app_id: String,
    /// Unix seconds, as a string.
    pub time_stamp: String,
    /// A random string.
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// `RSA`.
    pub sign_type: String,
    /// The merchant's signature over the four lines above.
    pub pay_sign: String,
}

/// The parts of a request's `Authorization` header (as WeChat Pay, or a stand-in of it, reads
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationParts {
    /// `mchid`.
    pub mchid: String,
    /// `serial_no`.
    pub serial_no: String,
    /// `nonce_str`.
    pub nonce_str: String,
    /// `timestamp`.
    pub timestamp: String,
    /// `signature`.
    pub signature: String,
}

impl AuthorizationParts {
    /// Parses `WECHATPAY2-SHA256-RSA2048 k="v",…` (any order); `None` when malformed.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.strip_prefix(AUTH_SCHEME)?.strip_prefix(' ')?;
        let mut fields = std::collections::HashMap::new();
        for pair in rest.split(',') {
            let (name, value) = pair.trim().split_once('=')?;
            let value = value.strip_prefix('"')?.strip_suffix('"')?;
            fields.insert(name, value.to_string());
        }
        let mut take = |name: &str| fields.remove(name);
        Some(AuthorizationParts {
            mchid: take("mchid")?,
            serial_no: take("serial_no")?,
            nonce_str: take("nonce_str")?,
            timestamp: take("timestamp")?,
            signature: take("signature")?,
        })
    }
}
