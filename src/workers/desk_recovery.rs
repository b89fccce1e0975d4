//! Finishes desk actions a crash or an outage left half done (`app::desk_journal`): at start
//! and every half minute, for journal entries older than half a minute (younger ones are
//! probably still running; finishing one beside its request would be harmless anyway).

use crate::services::Services;
use std::sync::Arc;
use tokio::sync::watch;

const EVERY: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) async fn run(svc: Arc<Services>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let older_than = chrono::Duration::seconds(30);
        match crate::app::desk_journal::recover(&svc.ledger, &svc.store.db, older_than).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(settled = n, "unfinished desk actions settled"),
            Err(e) => tracing::warn!(error = %e, "desk recovery failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
