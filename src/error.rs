//! The service's error: a refusal with a stable code, or a failure of the machinery.

use crate::ledger::CommandError;
use crate::store::StoreError;
use aggregates::error_code::{ErrorCode, ErrorKind};

/// Why a request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Refused: bad input, a rule, a limit, not found, or not allowed.
    #[error("{message}")]
    Refused {
        /// Stable snake_case code.
        code: &'static str,
        /// What kind of refusal.
        kind: ErrorKind,
        /// Human text.
        message: String,
    },
    /// Concurrent writers kept winning; nothing was appended, the caller may retry.
    #[error("too many concurrent changes to the same record; nothing was changed, try again")]
    Busy,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    /// Invalid input (400) with a code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Refused {
            code,
            kind: ErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// Not found (404) with a code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Refused {
            code,
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    /// The stable code, for logs and responses.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Refused { code, .. } => code,
            AppError::Busy => "busy",
            AppError::Store(_) => "store_unavailable",
        }
    }

    /// A domain refusal.
    pub fn refused<E: ErrorCode + std::fmt::Display>(e: &E) -> Self {
        AppError::Refused {
            code: e.code(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl<E: ErrorCode + std::error::Error> From<CommandError<E>> for AppError {
    fn from(e: CommandError<E>) -> Self {
        match e {
            CommandError::Rejected(e) => AppError::refused(&e),
            CommandError::Conflict { .. } => AppError::Busy,
            CommandError::Store(e) => AppError::Store(e),
        }
    }
}
