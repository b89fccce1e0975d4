//! The checkpoint worker: every 2 s, and whenever the projections have taken in new events, it
//! seals the feed read since the latest checkpoint (signed when a key is configured). Safe to
//! run on several instances at once: each checkpoint is written once.

use super::checkpoint::extend_all;
use super::signing;
use crate::services::Services;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the worker looks for new events without being woken.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// Runs until `shutdown` turns true.
pub async fn run(svc: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    let signer = match signing::load(&svc.store.db, svc.settings.mode, true).await {
        Ok(Some(signer)) => {
            tracing::info!(key_id = %signer.key_id(), "checkpoints are signed");
            Some(signer)
        }
        Ok(None) => {
            tracing::warn!(
                "checkpoints are not signed: set {} to a 32-byte Ed25519 seed in hex",
                signing::SIGNING_KEY_ENV
            );
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "the checkpoint signing key is unusable; checkpoints go unsigned");
            None
        }
    };
    let work = svc.read.outbox_work();
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Registered before the work, so a wake-up during it is not lost.
        let woken = work.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match extend_all(&svc.store, signer.as_ref()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(checkpoints = n, "feed sealed"),
            Err(e) => tracing::warn!(error = %e, "writing checkpoints failed; retrying"),
        }
        tokio::select! {
            _ = woken => {}
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}
