//! The `Wechatpay-*` headers that carry a notification's signature.

use super::verifier::VerifyError;
use axum::http::HeaderMap;

/// Header: the signing time, unix seconds.
pub const TIMESTAMP: &str = "Wechatpay-Timestamp";
/// Header: a random string signed along with the body.
pub const NONCE: &str = "Wechatpay-Nonce";
/// Header: the base64 RSA signature.
pub const SIGNATURE: &str = "Wechatpay-Signature";
/// Header: the serial number of the platform key that signed.
pub const SERIAL: &str = "Wechatpay-Serial";
/// Header: the signature scheme; when present it must be [`SIGNATURE_TYPE_RSA`].
pub const SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";
/// The only signature scheme API v3 uses.
pub const SIGNATURE_TYPE_RSA: &str = "WECHATPAY2-SHA256-RSA2048";

/// The signature headers of one notification, as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyHeaders {
    /// `Wechatpay-Timestamp`: unix seconds, as sent.
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`: base64.
    pub signature: String,
    /// `Wechatpay-Serial`: which platform key signed.
    pub serial: String,
}

impl NotifyHeaders {
    /// Reads the headers of an incoming callback.
    ///
    /// A missing header is [`VerifyError::MissingHeader`]; one that is not visible ASCII is
    /// [`VerifyError::Malformed`]; a `Wechatpay-Signature-Type` other than
    /// `WECHATPAY2-SHA256-RSA2048` is [`VerifyError::BadSignature`] (its absence is accepted).
    pub fn from_http(headers: &HeaderMap) -> Result<Self, VerifyError> {
        if let Some(kind) = headers.get(SIGNATURE_TYPE) {
            if kind.as_bytes() != SIGNATURE_TYPE_RSA.as_bytes() {
                return Err(VerifyError::BadSignature);
            }
        }
        Ok(NotifyHeaders {
            timestamp: read(headers, TIMESTAMP)?,
            nonce: read(headers, NONCE)?,
            signature: read(headers, SIGNATURE)?,
            serial: read(headers, SERIAL)?,
        })
    }

    /// The five headers to send (the four fields and the signature type), name and value.
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            (TIMESTAMP, self.timestamp.as_str()),
            (NONCE, self.nonce.as_str()),
            (SIGNATURE, self.signature.as_str()),
            (SERIAL, self.serial.as_str()),
            (SIGNATURE_TYPE, SIGNATURE_TYPE_RSA),
        ]
    }

    /// Adds the five headers to an outgoing request.
    pub fn apply_to(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        self.pairs()
            .into_iter()
            .fold(request, |request, (name, value)| {
                request.header(name, value)
            })
    }
}

fn read(headers: &HeaderMap, name: &'static str) -> Result<String, VerifyError> {
    let value = headers.get(name).ok_or(VerifyError::MissingHeader(name))?;
    value
        .to_str()
        .map(str::to_owned)
        .map_err(|_| VerifyError::Malformed(format!("header {name} is not visible ASCII")))
}
