//! The sandbox's own errors.

use crate::payments::port::ProviderError;
use std::path::PathBuf;

/// Why the sandbox refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No order with that out_trade_no.
    #[error("no such order")]
    UnknownOrder,
    /// The order is already paid (WeChat refuses to take the money twice).
    #[error("the order is already paid")]
    AlreadyPaid,
    /// The order was closed, or its payment window has ended.
    #[error("the order is closed or its payment window has ended")]
    OrderClosed,
    /// The state file or its directory could not be read or written.
    #[error("sandbox payments state {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not what the sandbox writes.
    #[error("sandbox payments state {} is unusable: {reason}", path.display())]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// What is wrong (never key material).
        reason: String,
    },
    /// Keys could not be made or encoded, or the HTTP client could not be built.
    #[error("sandbox payments setup failed: {0}")]
    Setup(String),
}

impl SandboxError {
    /// The stable snake_case code, for logs and responses.
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::UnknownOrder => "payment_unknown_order",
            SandboxError::AlreadyPaid => "payment_already_paid",
            SandboxError::OrderClosed => "payment_order_closed",
            SandboxError::Io { .. } => "sandbox_state_io",
            SandboxError::CorruptState { .. } => "sandbox_state_corrupt",
            SandboxError::Setup(_) => "sandbox_setup_failed",
        }
    }
}

impl From<SandboxError> for ProviderError {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::UnknownOrder => ProviderError::UnknownOrder,
            SandboxError::AlreadyPaid => ProviderError::AlreadyPaid,
            SandboxError::OrderClosed => ProviderError::OrderClosed,
            other => ProviderError::Unavailable(other.to_string()),
        }
    }
}
