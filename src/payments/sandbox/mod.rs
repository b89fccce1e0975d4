//! [`SandboxPayments`]: a local payment provider that behaves like WeChat Pay API v3.
//!
//! It keeps orders and refunds in memory, mirrored to `state_dir/sandbox-payments.json`
//! together with its keys, so a restarted service can still pay an order made before and
//! still verify what was signed before. Payments and refund outcomes are announced as signed,
//! encrypted notifications POSTed to the service's notify URLs, retried on a schedule until
//! acknowledged with a 2xx, and (optionally) sent twice, as the real platform may.
//!
//! Nothing here reaches outside the machine: the only traffic is to the notify URLs.

mod config;
mod delivery;
mod error;
mod provider;
mod resources;
mod state;
mod store;

#[cfg(test)]
mod tests;

pub use config::SandboxConfig;
pub use error::SandboxError;
pub use resources::{SANDBOX_APPID, SANDBOX_MCHID};
pub use state::{OrderSnapshot, OrderState, RefundSnapshot, RefundState};
pub use store::FILE_NAME;

use crate::payments::wechat::notification::TRANSACTION_SUCCESS;
use crate::payments::wechat::{RefundStatus, Signer, Verifier};
use chrono::Utc;
use state::{Ledger, PendingNotification, Target};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use store::{KeyMaterial, Mirror};
use tokio::sync::watch;

/// A local WeChat Pay v3 look-alike. Cheap to share: hold it in an `Arc`.
pub struct SandboxPayments {
    shared: Arc<Shared>,
}

/// What the sandbox and its background tasks share.
struct Shared {
    config: SandboxConfig,
    signer: Signer,
    verifier: Verifier,
    ledger: Mutex<Versioned>,
    scripts: Mutex<HashMap<String, RefundStatus>>,
    mirror: Option<Mirror>,
    urls: watch::Sender<Option<NotifyUrls>>,
    client: reqwest::Client,
    acknowledged: AtomicU64,
    attempts: AtomicU64,
    resumed: AtomicBool,
}

struct Versioned {
    ledger: Ledger,
    version: u64,
}

#[derive(Debug, Clone)]
struct NotifyUrls {
    payment: String,
    refund: String,
}

impl SandboxPayments {
    /// Opens (or starts) the sandbox whose keys and state live in
    /// `state_dir/sandbox-payments.json`; creates the directory and file if missing.
    ///
    /// Inside a tokio runtime it resumes at once what was under way (undelivered
    /// notifications, processing refunds); otherwise when [`Self::set_notify_urls`] is first
    /// called. Notifications wait until the notify URLs are set.
    pub fn open(state_dir: &Path, config: SandboxConfig) -> Result<Arc<Self>, SandboxError> {
        let (mirror, keys, ledger) = Mirror::open(state_dir)?;
        let sandbox = Self::build(keys, ledger, Some(mirror), config)?;
        if tokio::runtime::Handle::try_current().is_ok() {
            sandbox.resume();
        }
        Ok(sandbox)
    }

    /// The sandbox of `state_dir/sandbox-payments.json` as it stands, for reading only: it
    /// writes nothing back and resumes nothing (a running service owns that), e.g. for
    /// `permit-ledger reconcile`.
    pub fn read_only(state_dir: &Path, config: SandboxConfig) -> Result<Arc<Self>, SandboxError> {
        let (_mirror, keys, ledger) = Mirror::open(state_dir)?;
        let sandbox = Self::build(keys, ledger, None, config)?;
        sandbox.shared.resumed.store(true, Ordering::SeqCst);
        Ok(sandbox)
    }

    /// A sandbox with fresh keys that keeps nothing on disk (for tests).
    pub fn in_memory(config: SandboxConfig) -> Result<Arc<Self>, SandboxError> {
        let sandbox = Self::build(KeyMaterial::generate()?, Ledger::default(), None, config)?;
        sandbox.shared.resumed.store(true, Ordering::SeqCst);
        Ok(sandbox)
    }

    fn build(
        keys: KeyMaterial,
        ledger: Ledger,
        mirror: Option<Mirror>,
        config: SandboxConfig,
    ) -> Result<Arc<Self>, SandboxError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(config.delivery_timeout)
            .build()
            .map_err(|e| SandboxError::Setup(format!("building the HTTP client: {e}")))?;
        let signer = Signer::new(keys.private_key, keys.serial, keys.api_v3_key);
        Ok(Arc::new(SandboxPayments {
            shared: Arc::new(Shared {
                verifier: signer.verifier(),
                signer,
                config,
                ledger: Mutex::new(Versioned { ledger, version: 0 }),
                scripts: Mutex::new(HashMap::new()),
                mirror,
                urls: watch::Sender::new(None),
                client,
                acknowledged: AtomicU64::new(0),
                attempts: AtomicU64::new(0),
                resumed: AtomicBool::new(false),
            }),
        }))
    }

    /// Where to POST notifications: payments to `payment_url`, refunds to `refund_url`
    /// (e.g. `http://127.0.0.1:PORT/api/v1/payments/wechat/notify`). Call it once the
    /// service knows its bound address; notifications made before wait for it. Work left
    /// under way by a previous process resumes on the first call made inside a tokio runtime.
    pub fn set_notify_urls(&self, payment_url: String, refund_url: String) {
        self.shared.urls.send_replace(Some(NotifyUrls {
            payment: payment_url,
            refund: refund_url,
        }));
        self.resume();
    }

    /// The payer pays the order. Queues a signed `TRANSACTION.SUCCESS` notification and
    /// returns without waiting for its delivery.
    ///
    /// Unknown order: [`SandboxError::UnknownOrder`]; paid before:
    /// [`SandboxError::AlreadyPaid`]; closed or past its `expires_at` (real time):
    /// [`SandboxError::OrderClosed`].
    pub async fn pay(&self, out_trade_no: &str) -> Result<(), SandboxError> {
        let shared = &self.shared;
        let now = Utc::now();
        let note = shared
            .commit(|ledger| {
                let order = ledger.pay(out_trade_no, now, resources::transaction_id)?;
                let resource = resources::payment(&order);
                let id = uuid::Uuid::new_v4().to_string();
                let body = shared.signer.seal(&id, TRANSACTION_SUCCESS, &resource, now);
                Ok::<_, SandboxError>(ledger.queue(id, Target::Payment, TRANSACTION_SUCCESS, body))
            })
            .await?;
        shared.spawn_delivery(note);
        Ok(())
    }

    /// Decides the outcome of the next attempt of refund `out_refund_no` (by default
    /// SUCCESS). Used once; a CLOSED refund may then be asked for again.
    pub fn script_refund(&self, out_refund_no: &str, outcome: RefundStatus) {
        lock(&self.shared.scripts).insert(out_refund_no.to_owned(), outcome);
    }

    /// The order, if the sandbox knows it.
    pub fn order_state(&self, out_trade_no: &str) -> Option<OrderSnapshot> {
        lock(&self.shared.ledger)
            .ledger
            .order_snapshot(out_trade_no)
    }

    /// The trade bill of business day `date`, as its rows.
    fn bill_of(&self, date: chrono::NaiveDate) -> crate::payments::wechat::bill::TradeBill {
        lock(&self.shared.ledger).ledger.trade_bill(date)
    }

    /// The refund, if the sandbox knows it.
    pub fn refund_state(&self, out_refund_no: &str) -> Option<RefundSnapshot> {
        lock(&self.shared.ledger)
            .ledger
            .refund_snapshot(out_refund_no)
    }

    /// How many deliveries were acknowledged (duplicates included).
    pub fn deliveries(&self) -> u64 {
        self.shared.acknowledged.load(Ordering::SeqCst)
    }

    /// How many delivery attempts were made (failed ones included).
    pub fn delivery_attempts(&self) -> u64 {
        self.shared.attempts.load(Ordering::SeqCst)
    }

    /// How many notifications are not yet acknowledged.
    pub fn pending_notifications(&self) -> usize {
        lock(&self.shared.ledger).ledger.pending.len()
    }

    /// The platform signer (for tests that send their own notifications, e.g. forged ones).
    pub fn signer(&self) -> &Signer {
        &self.shared.signer
    }

    /// Restarts what a previous process left under way, once.
    fn resume(&self) {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!("sandbox payments: no tokio runtime, pending work not resumed yet");
            return;
        }
        if self.shared.resumed.swap(true, Ordering::SeqCst) {
            return;
        }
        let (pending, processing) = {
            let guard = lock(&self.shared.ledger);
            let pending: Vec<_> = guard.ledger.pending.values().cloned().collect();
            (pending, guard.ledger.processing_refunds())
        };
        for note in pending {
            self.shared.spawn_delivery(note);
        }
        for (out_refund_no, attempt) in processing {
            self.shared.spawn_refund_outcome(out_refund_no, attempt);
        }
    }
}

impl std::fmt::Debug for SandboxPayments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxPayments")
            .field("serial", &self.shared.signer.serial())
            .field("persistent", &self.shared.mirror.is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Applies a change to the ledger and mirrors the result to the file (if any). A failed
    /// write is logged: memory stays the truth for this process.
    async fn commit<T, E>(&self, change: impl FnOnce(&mut Ledger) -> Result<T, E>) -> Result<T, E> {
        let (value, snapshot) = {
            let mut guard = lock(&self.ledger);
            let value = change(&mut guard.ledger)?;
            guard.version += 1;
            let snapshot = self
                .mirror
                .as_ref()
                .map(|mirror| (guard.version, mirror.encode(&guard.ledger)));
            (value, snapshot)
        };
        if let (Some(mirror), Some((version, encoded))) = (&self.mirror, snapshot) {
            if let Err(e) = match encoded {
                Ok(bytes) => mirror.write(version, bytes).await,
                Err(e) => Err(e),
            } {
                tracing::error!(code = e.code(), error = %e, "sandbox payments: state not saved");
            }
        }
        Ok(value)
    }

    fn spawn_delivery(self: &Arc<Self>, note: PendingNotification) {
        tokio::spawn(delivery::deliver(Arc::clone(self), note));
    }

    /// After the refund delay, ends attempt `attempt` of the refund as scripted (default
    /// SUCCESS) and notifies it.
    fn spawn_refund_outcome(self: &Arc<Self>, out_refund_no: String, attempt: u32) {
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(shared.config.refund_delay).await;
            let now = Utc::now();
            let note = shared
                .commit(|ledger| {
                    let mut scripts = lock(&shared.scripts);
                    let outcome = scripts
                        .get(&out_refund_no)
                        .copied()
                        .unwrap_or(RefundStatus::Success);
                    let (refund, transaction_id) = ledger
                        .complete_refund(&out_refund_no, attempt, outcome, now)
                        .ok_or(())?;
                    scripts.remove(&out_refund_no);
                    drop(scripts);
                    let resource = resources::refund(&refund, &transaction_id, outcome);
                    let id = uuid::Uuid::new_v4().to_string();
                    let event_type = outcome.event_type();
                    let body = shared.signer.seal(&id, event_type, &resource, now);
                    Ok::<_, ()>(ledger.queue(id, Target::Refund, event_type, body))
                })
                .await;
            if let Ok(note) = note {
                shared.spawn_delivery(note);
            }
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
