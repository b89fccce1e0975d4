//! The command line: `permit-ledger [serve] | migrate | staff add | reconcile | …`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

/// Event-sourced ledger for campus vehicle permits.
#[derive(Debug, Parser)]
#[command(name = "permit-ledger", version, about)]
pub struct Cli {
    /// Where the ledger lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// How the service listens.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Store settings, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// A `postgres://` URL selects PostgreSQL; unset, the embedded store in the data folder.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// The embedded store's folder (used when DATABASE_URL is unset).
    #[arg(
        long,
        env = "PERMIT_LEDGER_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: std::path::PathBuf,
    /// Connections per database pool.
    #[arg(
        long,
        env = "PERMIT_LEDGER_DB_POOL",
        default_value_t = 16,
        global = true
    )]
    pub db_pool: u32,
}

impl ServeArgs {
    /// The services' settings.
    pub fn settings(&self) -> crate::services::Settings {
        crate::services::Settings {
            mode: self.mode,
            codes_per_address: self.codes_per_address,
            sms_daily_budget: self.sms_daily_budget,
            trusted_proxies: self.trusted_proxies.clone(),
            stalled_after: std::time::Duration::from_secs(self.stalled_after_s),
            gate_log: self.gate_log,
            reminder_days: self.reminder_days.clone(),
            photo_retention: chrono::Duration::days(i64::from(self.photo_retention_days)),
            ..Default::default()
        }
    }
}

impl StoreArgs {
    /// The store settings.
    pub fn config(&self) -> crate::store::StoreConfig {
        crate::store::StoreConfig {
            database_url: self.database_url.clone().filter(|u| !u.is_empty()),
            data_dir: self.data_dir.clone(),
            pool_size: self.db_pool,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (applies pending migrations first).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Staff members.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Read models.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Measure the ledger against the database's own limit (on a fresh store it removes).
    Bench(crate::bench::BenchArgs),
    /// Auditing: verify the ledger or an export, export, import, checkpoints (docs/audit.md).
    #[command(subcommand)]
    Audit(crate::audit::AuditCommand),
    /// Work the outbox gave up on; sending a held SMS notice again.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Compare a day's WeChat Pay trade bill with the ledger (exit 0 agree, 1 mismatches, 2
    /// could not run); the result is kept for GET /api/v1/admin/reconciliation.
    Reconcile(crate::reconcile::cli::ReconcileArgs),
}

/// `outbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Every piece of work marked failed, with the SMS attempts and the provider's answers.
    Failed {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Send a failed SMS notice once more, recording why (e.g. the provider's console shows it
    /// was not delivered).
    Resend {
        /// The notice's outbox id (`outbox failed` lists them).
        #[arg(long)]
        id: String,
        /// Why it may be sent again.
        #[arg(long)]
        reason: String,
    },
}

/// `projections` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// One projection a line: name, version, position, lag, status.
    List {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild a projection from the start of the feed (online: the live view keeps answering
    /// until the rebuilt one is swapped in).
    Rebuild {
        /// The projection's name.
        name: String,
    },
    /// Try the event a stalled projection is stuck on again now (after fixing the cause); if it
    /// parked events, also rebuild it, which applies them in order.
    Retry {
        /// The projection's name.
        name: String,
    },
    /// Go past the event a stalled projection is stuck on, without applying it; recorded with
    /// the reason among its parked events.
    Skip {
        /// The projection's name.
        name: String,
        /// The position it is stuck at (`projections list` shows it).
        position: i64,
        /// Why it may be skipped.
        #[arg(long)]
        reason: String,
    },
    /// The events a projection went past without applying.
    Parked {
        /// The projection's name.
        name: String,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
}

/// `serve` settings.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// `sandbox` (local SMS and payment adapters, /sandbox routes, settable clock) or
    /// `production`.
    #[arg(
        long,
        env = "PERMIT_LEDGER_MODE",
        value_enum,
        default_value = "sandbox",
        global = true
    )]
    pub mode: crate::services::Mode,
    /// Sandbox mode: start the business clock at this instant (RFC 3339).
    #[arg(long, env = "PERMIT_LEDGER_SANDBOX_NOW", global = true)]
    pub sandbox_now: Option<chrono::DateTime<chrono::Utc>>,
    /// Code requests one client address may make per hour.
    #[arg(
        long,
        env = "PERMIT_LEDGER_CODES_PER_ADDRESS",
        default_value_t = 600,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub codes_per_address: u32,
    /// SMS one lot may send per business day (codes and notices); code requests are refused
    /// once it is spent, notices still go out. A warning is logged at 80 %.
    #[arg(
        long,
        env = "PERMIT_LEDGER_SMS_DAILY_BUDGET",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub sms_daily_budget: u32,
    /// Reverse proxies (comma-separated CIDRs) whose `X-Forwarded-For` is believed: the client
    /// is the right-most address in it not in them. Default none: the TCP peer is the client.
    #[arg(
        long,
        env = "PERMIT_LEDGER_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Seconds a projection may keep failing on one event before `/readyz` answers 503
    /// `projection_stalled`.
    #[arg(
        long,
        env = "PERMIT_LEDGER_STALLED_AFTER_S",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub stalled_after_s: u64,
    /// Gate checks logged for the office (target `gate_check`): `off`, `sampled` (one in 100
    /// and every refusal) or `all`.
    #[arg(
        long,
        env = "PERMIT_LEDGER_GATE_LOG",
        value_enum,
        default_value = "sampled",
        global = true
    )]
    pub gate_log: crate::gate::GateLog,
    /// SMS reminders before a card's last approved period ends, in days (comma-separated,
    /// each 1–365).
    #[arg(
        long,
        env = "PERMIT_LEDGER_REMINDER_DAYS",
        value_delimiter = ',',
        default_value = "30,7",
        value_parser = clap::value_parser!(u32).range(1..=365),
        global = true
    )]
    pub reminder_days: Vec<u32>,
    /// Days a campus-card photo is kept after its renewal was decided (or closed unpaid), then
    /// deleted (1–3650).
    #[arg(
        long,
        env = "PERMIT_LEDGER_PHOTO_RETENTION_DAYS",
        default_value_t = 365,
        value_parser = clap::value_parser!(u32).range(1..=3650),
        global = true
    )]
    pub photo_retention_days: u32,
    /// Address to listen on.
    #[arg(
        long,
        env = "PERMIT_LEDGER_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
}

/// `staff` subcommands.
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member; prints the new bearer token, alone, on standard output.
    Add {
        /// A role (repeat for several; roles do not nest).
        #[arg(long = "role", required = true, value_enum)]
        roles: Vec<StaffRole>,
        /// The member's name.
        #[arg(long)]
        name: String,
        /// How long the token works.
        #[command(flatten)]
        term: TokenDays,
    },
    /// Every staff member: id, name, roles, status (active, expired, revoked), token expiry.
    List {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// End a member's access for good: their token answers 401 from now on.
    Revoke {
        /// The member's staff id (`staff list` shows it).
        #[arg(long)]
        id: uuid::Uuid,
    },
    /// Give a member a new token, printed alone on standard output; the old one stops working.
    Rotate {
        /// The member's staff id (`staff list` shows it).
        #[arg(long)]
        id: uuid::Uuid,
        /// How long the new token works.
        #[command(flatten)]
        term: TokenDays,
    },
}

/// How long a new staff token works.
#[derive(Debug, Clone, Copy, Args)]
pub struct TokenDays {
    /// Days a new staff token works for, from when it is issued (1 to 3650).
    #[arg(
        long = "token-days",
        env = "PERMIT_LEDGER_STAFF_TOKEN_DAYS",
        default_value_t = crate::app::staff::DEFAULT_TOKEN_DAYS,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(aggregates::staff::MAX_TOKEN_DAYS))
    )]
    pub days: u32,
}

impl TokenDays {
    /// The term of a token issued now.
    pub fn from_now(self) -> aggregates::staff::TokenTerm {
        aggregates::staff::TokenTerm {
            now: chrono::Utc::now(),
            days: self.days,
        }
    }
}

/// Roles staff can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StaffRole {
    /// The security office's desk.
    Admin,
    /// The parking office's reviewers.
    Reviewer,
    /// Read-only auditors.
    Auditor,
    /// A lot's barrier controller or plate camera (the gate check only).
    Gate,
}

impl From<StaffRole> for aggregates::metadata::Role {
    fn from(r: StaffRole) -> Self {
        match r {
            StaffRole::Admin => Self::Admin,
            StaffRole::Reviewer => Self::Reviewer,
            StaffRole::Auditor => Self::Auditor,
            StaffRole::Gate => Self::Gate,
        }
    }
}
