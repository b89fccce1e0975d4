//! Platform-certificate mode: WeChat Pay's platform certificates, downloaded from
//! `GET /v3/certificates`, each sealed under the APIv3 key (associated data `certificate`).
//!
//! The list is signed by one of the certificates it holds, so its signature is checked once
//! they are opened. Several serials are accepted at once (WeChat Pay publishes the next
//! certificate before the current one ends); those no longer listed are dropped.

use super::super::headers::NotifyHeaders;
use super::super::resource;
use super::super::verifier::{PlatformKeys, Verifier};
use crate::payments::port::ProviderError;
use chrono::{DateTime, Utc};
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use serde::Deserialize;
use std::sync::Mutex;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

/// The certificate list.
pub const PATH: &str = "/v3/certificates";

#[derive(Debug, Deserialize)]
struct List {
    data: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    serial_no: String,
    expire_time: DateTime<Utc>,
    encrypt_certificate: Sealed,
}

#[derive(Debug, Deserialize)]
struct Sealed {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// What certificate mode remembers between refreshes.
#[derive(Debug, Default)]
pub struct CertificateSource {
    expiries: Mutex<Vec<DateTime<Utc>>>,
}

fn bad(why: impl std::fmt::Display) -> ProviderError {
    ProviderError::BadResponse(format!("{PATH}: {why}"))
}

impl CertificateSource {
    /// Whether the newest accepted certificate ends within `margin` of `now` (or none is known).
    pub fn due(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        let expiries = self.expiries.lock().unwrap_or_else(|e| e.into_inner());
        expiries.iter().max().is_none_or(|end| *end - margin <= now)
    }

    /// Opens the list, checks its signature with the certificates it holds, and makes them the
    /// verifier's accepted keys. Returns the serials accepted.
    pub(super) fn install(
        &self,
        headers: &NotifyHeaders,
        body: &[u8],
        verifier: &Verifier,
    ) -> Result<Vec<String>, ProviderError> {
        let list: List = serde_json::from_slice(body).map_err(|e| bad(format!("{e}")))?;
        let now = Utc::now();
        let fresh = PlatformKeys::default();
        let mut expiries = Vec::new();
        for entry in list.data.iter().filter(|e| e.expire_time > now) {
            let key = open(entry, verifier)?;
            fresh.insert(entry.serial_no.clone(), key);
            expiries.push(entry.expire_time);
        }
        if expiries.is_empty() {
            return Err(bad("no certificate that is still valid"));
        }
        Verifier::with_keys(fresh.clone(), verifier.api_v3_key().clone())
            .verify_signature(headers, body, now)
            .map_err(bad)?;
        let serials = fresh.serials();
        for serial in &serials {
            if let Some(key) = fresh.key(serial) {
                verifier.keys().insert(serial.clone(), key);
            }
        }
        verifier.keys().retain(&serials);
        *self.expiries.lock().unwrap_or_else(|e| e.into_inner()) = expiries;
        tracing::info!(?serials, "WeChat Pay platform certificates installed");
        Ok(serials)
    }
}

/// Decrypts one certificate and reads its RSA public key, checking it is the serial listed.
fn open(entry: &Entry, verifier: &Verifier) -> Result<RsaPublicKey, ProviderError> {
    let sealed = &entry.encrypt_certificate;
    if sealed.algorithm != resource::ALGORITHM {
        return Err(bad("an unsupported certificate algorithm"));
    }
    let pem = resource::decrypt(
        verifier.api_v3_key(),
        &sealed.nonce,
        &sealed.associated_data,
        &sealed.ciphertext,
    )
    .map_err(|e| bad(format!("cannot decrypt a certificate: {}", e.as_str())))?;
    let certificate = Certificate::from_pem(&pem).map_err(|_| bad("not a PEM certificate"))?;
    let serial = hex::encode_upper(certificate.tbs_certificate.serial_number.as_bytes());
    if serial.trim_start_matches('0') != entry.serial_no.to_uppercase().trim_start_matches('0') {
        return Err(bad("a certificate whose serial is not the one listed"));
    }
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| bad("an unreadable public key"))?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|_| bad("not an RSA public key"))
}
