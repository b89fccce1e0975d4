//! Retention ([privacy.md](../../docs/privacy.md)): what is no longer needed is deleted, every
//! `retention_every` (an hour) and once at start. Campus-card photos go
//! `PERMIT_LEDGER_PHOTO_RETENTION_DAYS` (business clock) after the renewals that hold them were
//! decided or closed; owner sessions once they ended; idempotency keys after their replay week;
//! the read-your-writes positions of tokens that no longer work.

use crate::app::{idempotency_keys, own_writes, photos, sessions};
use crate::error::AppError;
use crate::services::Services;
use std::sync::Arc;
use tokio::sync::watch;

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Campus-card photos.
    pub photos: u64,
    /// Ended owner sessions.
    pub sessions: u64,
    /// Idempotency keys past their replay week.
    pub idempotency_keys: u64,
    /// Positions of tokens that no longer work.
    pub token_positions: u64,
}

/// Runs [`sweep`] every `retention_every` until `shutdown` turns true.
pub async fn run(svc: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    loop {
        match sweep(&svc).await {
            Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "retention sweep"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the retention sweep failed; retrying later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(svc.settings.retention_every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Deletes everything past its retention now.
pub async fn sweep(svc: &Services) -> Result<Swept, AppError> {
    let db = &svc.store.db;
    // A photo is deleted only when the `cards` view has applied the whole ledger, so a renewal
    // that still needs it cannot be missing from the view.
    let head = svc.store.log.head().await?;
    let photos = match svc
        .read
        .wait_for("cards", head, svc.settings.read_wait)
        .await
    {
        Ok(()) => photos::purge(db, svc.clock.now() - svc.settings.photo_retention).await?,
        Err(e) => {
            tracing::warn!(error = %e, "cards is behind the ledger: no photo deleted this time");
            0
        }
    };
    let now = chrono::Utc::now();
    let sessions = sessions::purge_ended(db, now).await?;
    let token_positions = own_writes::purge_orphans(db).await?;
    let idempotency_keys = idempotency_keys::purge(db, now).await?;
    Ok(Swept {
        photos,
        sessions,
        idempotency_keys,
        token_positions,
    })
}
