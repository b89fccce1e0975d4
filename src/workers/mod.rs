//! Background work: the outbox dispatcher (SMS notices, refunds, closing orders), the timer
//! that closes unpaid renewals when their payment window ends, the recovery of desk actions a
//! crash left half done, the expiry reminders, the retention sweep, and (production mode) the
//! daily reconciliation with WeChat Pay's trade bill.

mod desk_recovery;
mod expiry;
mod outbox;
mod reminders;
mod retention;

use crate::services::Services;
use std::sync::Arc;
use tokio::sync::watch;

pub use expiry::expire_due;
pub use outbox::dispatch_due;
pub use reminders::send_due as send_due_reminders;
pub use retention::{sweep as sweep_retention, Swept};

/// Starts the workers; they stop when `shutdown` turns true.
pub fn spawn(services: Arc<Services>, shutdown: watch::Receiver<bool>) {
    tokio::spawn(outbox::run(services.clone(), shutdown.clone()));
    tokio::spawn(crate::gate::follow(
        services.gate.clone(),
        services.store.log.clone(),
        services.read.appended(),
        shutdown.clone(),
    ));
    tokio::spawn(desk_recovery::run(services.clone(), shutdown.clone()));
    tokio::spawn(reminders::run(services.clone(), shutdown.clone()));
    tokio::spawn(retention::run(services.clone(), shutdown.clone()));
    tokio::spawn(crate::audit::worker::run(
        services.clone(),
        shutdown.clone(),
    ));
    if services.settings.mode == crate::services::Mode::Production {
        tokio::spawn(crate::reconcile::daily::run(
            services.clone(),
            shutdown.clone(),
        ));
    }
    tokio::spawn(expiry::run(services, shutdown));
}
