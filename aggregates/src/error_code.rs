//! Stable, machine-readable codes for domain errors.

/// A domain error's stable code (snake_case) and the kind of refusal it is, so the HTTP layer
/// can map it without knowing each rule.
pub trait ErrorCode {
    /// The stable snake_case code, e.g. `refund_required`.
    fn code(&self) -> &'static str;
    /// What kind of refusal this is.
    fn kind(&self) -> ErrorKind;
}

/// How a refusal should be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input itself is invalid (400).
    Invalid,
    /// The thing does not exist, or is not the caller's (404).
    NotFound,
    /// A rule refused the command in the current state (409).
    Rule,
    /// A limit refused the command for a while (429), with the seconds to wait.
    RateLimited { retry_after_s: i64 },
    /// The caller's proof (a code) is wrong (401).
    Unauthorized,
}
