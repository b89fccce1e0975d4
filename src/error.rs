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
    /// No credentials, or bad ones (401).
    #[error("{message}")]
    Unauthenticated {
        /// Stable code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// The caller's role may not do this (403).
    #[error("this needs the {0} role")]
    Forbidden(&'static str),
    /// The body is over the limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body's media type is not accepted (415).
    #[error("{message}")]
    UnsupportedMedia {
        /// Stable code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// The view has not caught up with the position asked for (503).
    #[error("the view has not caught up with position {0} yet; retry shortly")]
    Lagging(i64),
    /// Something unexpected; details are logged, not shown (500).
    #[error("internal error")]
    Internal(String),
    /// An outside party (WeChat, WeChat Pay) could not be reached or failed (503); nothing was
    /// changed, the caller may retry.
    #[error("{message}")]
    Upstream {
        /// Stable code.
        code: &'static str,
        /// Human text (no secret, no personal data).
        message: String,
    },
    /// The request took longer than the service allows; it may or may not have been carried
    /// out (503).
    #[error("the request took too long and was stopped; it may or may not have been carried out, so check before retrying (or retry with the same Idempotency-Key)")]
    TimedOut,
    /// The instance is handling as many requests as it allows; nothing was done (503).
    #[error("the service is handling too many requests; nothing was done, try again shortly")]
    Overloaded,
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

    /// A rule refused the command (409) with a code.
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Refused {
            code,
            kind: ErrorKind::Rule,
            message: message.into(),
        }
    }

    /// The stable code, for logs and responses.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Refused { code, .. } => code,
            AppError::Unauthenticated { code, .. } => code,
            AppError::Forbidden(_) => "forbidden",
            AppError::TooLarge(_) => "too_large",
            AppError::UnsupportedMedia { code, .. } => code,
            AppError::Lagging(_) => "projection_lagging",
            AppError::Internal(_) => "internal",
            AppError::Upstream { code, .. } => code,
            AppError::TimedOut => "timeout",
            AppError::Overloaded => "overloaded",
            AppError::Busy => "busy",
            AppError::Store(StoreError::Malformed(_)) => "internal",
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

impl From<crate::read_side::ReadError> for AppError {
    fn from(e: crate::read_side::ReadError) -> Self {
        match e {
            crate::read_side::ReadError::Lagging { position } => AppError::Lagging(position),
            crate::read_side::ReadError::Unknown(name) => {
                AppError::Internal(format!("unknown projection {name}"))
            }
            e @ crate::read_side::ReadError::NotStuckThere { .. } => {
                AppError::Internal(e.to_string())
            }
            crate::read_side::ReadError::Store(e) => AppError::Store(e),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Store(StoreError::Database(e))
    }
}
