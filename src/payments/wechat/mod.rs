//! The WeChat Pay API v3 callback ("notification") format.
//!
//! A notification is a JSON envelope whose `resource` is encrypted with AEAD_AES_256_GCM under
//! the merchant's API v3 key ([`resource`]), and whose bytes are signed with the platform's
//! RSA key, SHA-256, PKCS#1 v1.5 over `"{timestamp}\n{nonce}\n{body}\n"` ([`signature`]), the
//! signature travelling in the `Wechatpay-*` headers ([`headers`]). The service checks every
//! callback with a [`Verifier`]; the sandbox makes them with a [`Signer`].

pub mod bill;
pub mod client;
pub mod config;
pub mod headers;
pub mod merchant;
pub mod notification;
pub mod oauth;
pub mod resource;
pub mod signature;
pub mod signer;
pub mod verifier;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use headers::NotifyHeaders;
pub use merchant::{AuthorizationParts, JsapiParams, MerchantKey};
pub use notification::{Notification, PaymentResult, RefundResult, RefundStatus};
pub use resource::ApiV3Key;
pub use signer::Signer;
pub use verifier::{PlatformKeys, Verifier, VerifyError};
