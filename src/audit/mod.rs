//! Auditing the ledger: proof that the history was not altered, and moving it between stores.
//!
//! - [`feed`]: the ledger-wide feed hash, a running SHA-256 over every event's hash in feed
//!   order, so a deleted stream or a rewritten tail changes it.
//! - [`checkpoint`]: the `ledger_checkpoints` table; [`checkpoint::extend`] seals the feed read
//!   since the latest checkpoint (the worker in [`worker`] does it every 2 s and when woken).
//! - [`signing`]: Ed25519 signatures over checkpoints.
//! - [`verify`]: one streaming pass over the feed that names every alteration it finds.
//! - [`export`]: JSON Lines export, offline verification of an export, import into an empty
//!   store.
//! - [`cli`]: `permit-ledger audit …`.
//!
//! docs/audit.md specifies the encodings for outside verifiers.

pub mod checkpoint;
pub mod cli;
pub mod export;
pub mod feed;
pub mod signing;
pub mod verify;
pub mod worker;

pub use checkpoint::Checkpoint;
pub use cli::AuditCommand;
pub use signing::CheckpointSigner;
pub use verify::{verify_store, Problem, ProblemKind, Report};

use crate::services::Services;
use crate::store::StoreError;
use serde_json::{json, Value};

/// One whole-ledger verification at a time per process (the HTTP API's).
static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// `POST /api/v1/audit/verify`: the whole ledger against its checkpoints and the service's
/// signing key. [`AuditError::Busy`] while another one runs in this process.
pub async fn verify_for_service(svc: &Services) -> Result<Report, AuditError> {
    let _running = VERIFYING.try_acquire().map_err(|_| AuditError::Busy)?;
    let keys = signing::load(&svc.store.db, svc.settings.mode, false)
        .await?
        .map(|s| s.public())
        .into_iter()
        .collect();
    verify_store(
        &svc.store,
        verify::Options {
            keys,
            ..verify::Options::default()
        },
    )
    .await
}

/// `GET /api/v1/audit/checkpoints/latest`: the latest checkpoint, the exact message its
/// signature covers, and the public key that checks it (when it is the service's key).
pub async fn latest_for_service(svc: &Services) -> Result<Option<Value>, AuditError> {
    let Some(cp) = checkpoint::latest(&svc.store.db).await? else {
        return Ok(None);
    };
    let key = signing::load(&svc.store.db, svc.settings.mode, false)
        .await?
        .map(|s| s.public());
    let public = key
        .as_ref()
        .filter(|k| cp.key_id.as_deref() == Some(k.key_id().as_str()));
    Ok(Some(json!({
        "checkpoint": checkpoint::checkpoint_json(&cp),
        "algorithm": signing::ALGORITHM,
        "signed_message": signing::message(cp.position, cp.event_count, &cp.feed_hash),
        "public_key": public.map(|k| k.to_hex()),
        "service_key": key.as_ref().map(|k| json!({"public_key": k.to_hex(), "key_id": k.key_id()})),
    })))
}

/// What can go wrong while auditing.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
    /// An export line could not be read.
    #[error("line {line}: {message}")]
    BadLine {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A key is malformed or missing.
    #[error("{0}")]
    Key(String),
    /// The operation is refused (for example importing into a non-empty store).
    #[error("{0}")]
    Refused(String),
    /// A verification is already running in this process.
    #[error("a verification is already running; try again when it is done")]
    Busy,
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        AuditError::Store(StoreError::Database(e))
    }
}

impl From<std::io::Error> for AuditError {
    fn from(e: std::io::Error) -> Self {
        AuditError::Io(e.to_string())
    }
}

impl From<AuditError> for crate::error::AppError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Store(e) => crate::error::AppError::Store(e),
            AuditError::Busy => crate::error::AppError::Busy,
            other => crate::error::AppError::Internal(other.to_string()),
        }
    }
}
