//! Everything the HTTP layer, the CLI and the background workers share: the store, the command
//! side, the read side, the business clock, the keyed hashes, and the SMS and payment ports.

mod address_limit;
mod clock;
mod secrets;
mod settings;

pub use address_limit::AddressLimiter;
pub use clock::Clock;
pub use secrets::Secrets;
pub use settings::{Mode, Settings};

use crate::ledger::Ledger;
use crate::payments::{PaymentProvider, SandboxConfig, SandboxPayments};
use crate::read_side::ReadSide;
use crate::sms::{SandboxSms, SmsGateway};
use crate::store::Store;
use std::path::Path;
use std::sync::Arc;

/// The shared services.
pub struct Services {
    /// The store.
    pub store: Store,
    /// The command side (wakes the read side after each append).
    pub ledger: Ledger,
    /// The projections.
    pub read: Arc<ReadSide>,
    /// The business clock.
    pub clock: Clock,
    /// Settings.
    pub settings: Settings,
    /// Keyed hashes.
    pub secrets: Secrets,
    /// The SMS port.
    pub sms: Arc<dyn SmsGateway>,
    /// The sandbox SMS gateway (sandbox mode only).
    pub sandbox_sms: Option<Arc<SandboxSms>>,
    /// The payment port.
    pub payments: Arc<dyn PaymentProvider>,
    /// The sandbox payment provider (sandbox mode only).
    pub sandbox_payments: Option<Arc<SandboxPayments>>,
    /// Per-address limit on code requests.
    pub address_limit: AddressLimiter,
}

/// Why the services could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Production mode needs settings that are missing.
    #[error("production mode needs {0}")]
    MissingSetting(&'static str),
    /// Something failed while starting.
    #[error("{0}")]
    Failed(String),
}

impl Services {
    /// Builds the services over an opened store. Sandbox adapters keep their state under
    /// `data_dir/sandbox`.
    pub async fn build(
        store: Store,
        settings: Settings,
        data_dir: &Path,
        sandbox_start: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Arc<Self>, StartError> {
        let fail = |e: &dyn std::fmt::Display| StartError::Failed(e.to_string());
        if settings.mode == Mode::Production {
            // Real SMS and payment adapters are configured per deployment; none is wired in
            // this build, so production refuses to start rather than run on sandboxes.
            return Err(StartError::MissingSetting(
                "real SMS and payment adapters (PERMIT_LEDGER_SMS_URL, PERMIT_LEDGER_WECHATPAY_*); \
                 see docs/operations.md",
            ));
        }
        let restored = crate::app::staff::sync_credentials(&store.log, &store.db)
            .await
            .map_err(|e| fail(&e))?;
        if restored > 0 {
            tracing::info!(restored, "staff credentials restored from the ledger");
        }
        let secrets = Secrets::load_or_create(&store.db)
            .await
            .map_err(|e| fail(&e))?;
        let sandbox_sms = Arc::new(SandboxSms::new());
        let sandbox_payments =
            SandboxPayments::open(&data_dir.join("sandbox"), SandboxConfig::default())
                .map_err(|e| fail(&e))?;
        let read = ReadSide::new(store.clone(), projections::all());
        read.prepare().await.map_err(|e| fail(&e))?;
        let waker = read.clone();
        let ledger =
            Ledger::new(store.log.clone()).on_append(Arc::new(move || waker.notify_appended()));
        Ok(Arc::new(Self {
            store,
            ledger,
            read,
            clock: Clock::sandbox(sandbox_start),
            address_limit: AddressLimiter::new(settings.codes_per_address),
            settings,
            secrets,
            sms: sandbox_sms.clone(),
            sandbox_sms: Some(sandbox_sms),
            payments: sandbox_payments.clone(),
            sandbox_payments: Some(sandbox_payments),
        }))
    }
}
