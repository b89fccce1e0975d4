//! The SMS port: codes and the approved / rejected / refunded notices.

mod sandbox;

pub use sandbox::{SandboxSms, SmsRecord};

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// Idempotency key: sending the same id twice delivers once.
    pub id: String,
    /// 11-digit mainland mobile number.
    pub phone: String,
    /// The text.
    pub text: String,
    /// For code messages, the code (the sandbox shows it as the phone would; real gateways only
    /// get the text).
    pub code: Option<String>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The gateway could not be reached or refused for now; try again later.
    #[error("SMS gateway unavailable: {0}")]
    Unavailable(String),
}

/// An SMS gateway.
#[async_trait::async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends a message; the same `id` is delivered at most once.
    async fn send(&self, message: SmsMessage) -> Result<(), SmsError>;
}
