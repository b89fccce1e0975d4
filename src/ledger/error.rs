//! Why a command did not go through.

use crate::store::StoreError;

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// A domain rule refused it.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept changing the stream; nothing was appended.
    #[error("the command lost {attempts} races with concurrent writers; nothing was appended")]
    Conflict {
        /// Attempts made.
        attempts: u32,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
