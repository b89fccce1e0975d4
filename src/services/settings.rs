//! Settings the services run with (from flags or the environment; see `cli.rs`).

use aggregates::phone_verification::CodePolicy;
use std::time::Duration;

/// Sandbox (local adapters, settable clock, `/sandbox` routes) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Local SMS and payment adapters; the `/sandbox` routes; a settable business clock.
    Sandbox,
    /// Real adapters; refuses to start without their settings.
    Production,
}

/// What the services are configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Sandbox or production.
    pub mode: Mode,
    /// SMS code limits.
    pub code_policy: CodePolicy,
    /// Code requests one client address may make per hour.
    pub codes_per_address: u32,
    /// SMS one lot may send per business day.
    pub sms_daily_budget: u32,
    /// How long an unpaid renewal stays open.
    pub payment_window: chrono::Duration,
    /// How long an owner session lasts.
    pub session_ttl: chrono::Duration,
    /// Largest accepted campus-card photo, in bytes.
    pub photo_max_bytes: usize,
    /// The office's review target (one working day).
    pub review_target: chrono::Duration,
    /// How long a read waits for its projection (`?after_position=`).
    pub read_wait: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Longest a request may take, body included (503 `timeout` after).
    pub request_timeout: Duration,
    /// Longest a renewal upload (with its photo) may take.
    pub upload_timeout: Duration,
    /// Requests handled at once by one instance; more answer 503 `overloaded`.
    pub max_in_flight: usize,
    /// How long a projection may keep failing on one event before `/readyz` reports it.
    pub stalled_after: Duration,
    /// Which gate checks are logged for the office.
    pub gate_log: crate::gate::GateLog,
    /// Reminders before a card's last approved period ends, in days (none: no reminders; the
    /// command line's default is 30 and 7).
    pub reminder_days: Vec<u32>,
    /// How often the reminder worker looks for reminders owed.
    pub reminder_every: Duration,
    /// How long a campus-card photo is kept after its renewal was decided or closed.
    pub photo_retention: chrono::Duration,
    /// How often the retention worker deletes what is no longer needed.
    pub retention_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Sandbox,
            code_policy: CodePolicy::default(),
            codes_per_address: 600,
            sms_daily_budget: 5000,
            payment_window: chrono::Duration::hours(2),
            session_ttl: chrono::Duration::days(7),
            photo_max_bytes: 5 * 1024 * 1024,
            review_target: chrono::Duration::hours(24),
            read_wait: Duration::from_secs(5),
            trusted_proxies: Vec::new(),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(120),
            max_in_flight: 512,
            stalled_after: Duration::from_secs(60),
            gate_log: crate::gate::GateLog::default(),
            reminder_days: Vec::new(),
            reminder_every: Duration::from_secs(60),
            photo_retention: chrono::Duration::days(365),
            retention_every: Duration::from_secs(3600),
        }
    }
}
