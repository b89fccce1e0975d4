//! Everything the HTTP layer, the CLI and the background workers share: the store, the command
//! side, the read side, the business clock, the keyed hashes, and the SMS and payment ports.

mod address_limit;
mod clock;
pub mod production;
mod secret;
mod secrets;
mod settings;

pub use address_limit::AddressLimiter;
pub use clock::Clock;
pub use secret::Secret;
pub use secrets::Secrets;
pub use settings::{Mode, Settings};

use crate::ledger::Ledger;
use crate::payments::wechat::config::WechatPayConfig;
use crate::payments::wechat::oauth::OAuthClient;
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
    /// The gate's in-memory model (kept current by [`crate::gate::follow`]).
    pub gate: Arc<crate::gate::Gate>,
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
    /// The WeChat OAuth code exchange (production: orders are made out to the payer's openid).
    pub oauth: Option<Arc<crate::payments::wechat::oauth::OAuthClient>>,
    /// Per-address limit on code requests.
    pub address_limit: AddressLimiter,
    /// How long code sends usually take (a stranger's answer waits as long).
    pub code_timing: crate::sms::timing::SendTiming,
}

/// Why the services could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Production settings are missing or unreadable: each names its setting.
    #[error("production mode cannot start:\n  - {}", .0.join("\n  - "))]
    Settings(Vec<String>),
    /// Something failed while starting.
    #[error("{0}")]
    Failed(String),
}

impl Services {
    /// Builds the services over an opened store, production settings from the environment.
    /// Sandbox adapters keep their state under `data_dir/sandbox`.
    pub async fn build(
        store: Store,
        settings: Settings,
        data_dir: &Path,
        sandbox_start: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Arc<Self>, StartError> {
        let env = |name: &str| std::env::var(name).ok();
        Self::build_from(store, settings, data_dir, sandbox_start, &env).await
    }

    /// [`Services::build`] with production settings read from `env`.
    pub async fn build_from(
        store: Store,
        settings: Settings,
        data_dir: &Path,
        sandbox_start: Option<chrono::DateTime<chrono::Utc>>,
        env: production::Source<'_>,
    ) -> Result<Arc<Self>, StartError> {
        let fail = |e: &dyn std::fmt::Display| StartError::Failed(e.to_string());
        let mut settings = settings;
        let reminder_template =
            env("PERMIT_LEDGER_SMS_TEMPLATE_REMINDER").is_some_and(|v| !v.trim().is_empty());
        if settings.mode == Mode::Production && !reminder_template {
            if !settings.reminder_days.is_empty() {
                tracing::warn!(
                    "PERMIT_LEDGER_SMS_TEMPLATE_REMINDER is not set: no reminders are sent"
                );
            }
            settings.reminder_days.clear();
        }
        let adapters = match settings.mode {
            Mode::Production => Adapters::production(env).await?,
            Mode::Sandbox => Adapters::sandbox(data_dir, sandbox_start)?,
        };
        let restored = crate::app::staff::sync_credentials(&store.log, &store.db)
            .await
            .map_err(|e| fail(&e))?;
        if restored > 0 {
            tracing::info!(restored, "staff credentials restored from the ledger");
        }
        let secrets = Secrets::load_or_create(&store.db)
            .await
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
            gate: Arc::new(crate::gate::Gate::new(settings.gate_log)),
            clock: adapters.clock,
            address_limit: AddressLimiter::new(settings.codes_per_address),
            code_timing: Default::default(),
            settings,
            secrets,
            sms: adapters.sms,
            sandbox_sms: adapters.sandbox_sms,
            payments: adapters.payments,
            sandbox_payments: adapters.sandbox_payments,
            oauth: adapters.oauth,
        }))
    }
}

/// The outside world: local stand-ins in sandbox mode, the real parties in production.
struct Adapters {
    clock: Clock,
    sms: Arc<dyn SmsGateway>,
    sandbox_sms: Option<Arc<SandboxSms>>,
    payments: Arc<dyn PaymentProvider>,
    sandbox_payments: Option<Arc<SandboxPayments>>,
    oauth: Option<Arc<OAuthClient>>,
}

impl Adapters {
    fn sandbox(
        data_dir: &Path,
        start: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Self, StartError> {
        let sms = Arc::new(SandboxSms::new());
        let payments = SandboxPayments::open(&data_dir.join("sandbox"), SandboxConfig::default())
            .map_err(|e| StartError::Failed(e.to_string()))?;
        Ok(Adapters {
            clock: Clock::sandbox(start),
            sms: sms.clone(),
            sandbox_sms: Some(sms),
            payments: payments.clone(),
            sandbox_payments: Some(payments),
            oauth: None,
        })
    }

    async fn production(env: production::Source<'_>) -> Result<Self, StartError> {
        let mut problems = production::Problems::default();
        let public_url = problems
            .required(env, "PERMIT_LEDGER_PUBLIC_URL")
            .and_then(|url| problems.base_url("PERMIT_LEDGER_PUBLIC_URL", &url));
        let wechat = WechatPayConfig::from_env(env, public_url.as_deref(), &mut problems);
        let sms = production_sms(env, &mut problems);
        let (Some(wechat), Some(sms), true) = (wechat, sms, problems.0.is_empty()) else {
            return Err(StartError::Settings(problems.0));
        };
        let (payments, oauth) = wechat
            .connect()
            .await
            .map_err(|e| StartError::Failed(format!("WeChat Pay: {e}")))?;
        Ok(Adapters {
            clock: Clock::real(),
            sms,
            sandbox_sms: None,
            payments: Arc::new(payments),
            sandbox_payments: None,
            oauth: Some(Arc::new(oauth)),
        })
    }
}

/// The production SMS gateway.
fn production_sms(
    env: production::Source<'_>,
    problems: &mut production::Problems,
) -> Option<Arc<dyn SmsGateway>> {
    match crate::sms::SmsConfig::from_env(env) {
        Ok(config) => Some(config.gateway()),
        Err(found) => {
            problems.0.extend(found);
            None
        }
    }
}
