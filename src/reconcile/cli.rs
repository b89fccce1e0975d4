//! `permit-ledger reconcile --date YYYY-MM-DD [--json]`.
//!
//! Exit codes: 0 the bill and the ledger agree, 1 mismatches (listed), 2 it could not run (a
//! bad date, settings, the provider unreachable, a bill whose digest or layout is wrong).

use super::{reconcile, RanBy, Report};
use crate::payments::wechat::config::WechatPayConfig;
use crate::payments::{PaymentProvider, SandboxConfig, SandboxPayments};
use crate::services::production::Problems;
use crate::services::Mode;
use crate::store::{open, StoreConfig};
use chrono::NaiveDate;
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;

/// `reconcile` arguments.
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// The business day (Asia/Shanghai) whose trade bill to compare, YYYY-MM-DD.
    #[arg(long)]
    pub date: NaiveDate,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; its exit code as documented above.
pub async fn run(args: &ReconcileArgs, store: &StoreConfig, mode: Mode) -> ExitCode {
    match attempt(args, store, mode).await {
        Ok(report) => {
            print(&report, args.json);
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: reconcile could not run: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn attempt(args: &ReconcileArgs, config: &StoreConfig, mode: Mode) -> anyhow::Result<Report> {
    let store = open(config).await?;
    let payments = provider(mode, config).await?;
    let now = chrono::Utc::now();
    Ok(reconcile(&store, payments.as_ref(), args.date, RanBy::Cli, now).await?)
}

/// The provider whose bill is compared: WeChat Pay from the production settings (the
/// service's own), or the sandbox's recorded state, read only.
async fn provider(mode: Mode, config: &StoreConfig) -> anyhow::Result<Arc<dyn PaymentProvider>> {
    match mode {
        Mode::Sandbox => Ok(SandboxPayments::read_only(
            &config.data_dir.join("sandbox"),
            SandboxConfig::default(),
        )?),
        Mode::Production => {
            let env = |name: &str| std::env::var(name).ok();
            let mut problems = Problems::default();
            let public_url = problems
                .required(&env, "PERMIT_LEDGER_PUBLIC_URL")
                .and_then(|url| problems.base_url("PERMIT_LEDGER_PUBLIC_URL", &url));
            let wechat = WechatPayConfig::from_env(&env, public_url.as_deref(), &mut problems);
            let (Some(wechat), true) = (wechat, problems.0.is_empty()) else {
                anyhow::bail!("production settings:\n  - {}", problems.0.join("\n  - "));
            };
            let (client, _) = wechat.connect().await?;
            Ok(Arc::new(client))
        }
    }
}

fn print(report: &Report, json: bool) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: {e}"),
        }
        return;
    }
    let side = |name: &str, f: &super::compare::Figures| {
        println!(
            "{name}\tpayments={} payment_fen={} refunds={} refund_fen={}",
            f.payments, f.payment_fen, f.refunds, f.refund_fen
        );
    };
    println!(
        "{}\t{}",
        report.date,
        if report.ok { "ok" } else { "MISMATCHES" }
    );
    side("bill", &report.bill);
    side("ledger", &report.ledger);
    for m in &report.mismatches {
        let kind = serde_json::to_value(m.kind).unwrap_or_default();
        println!(
            "{}\tout_trade_no={}{}{}{}{}",
            kind.as_str().unwrap_or_default(),
            m.out_trade_no,
            m.out_refund_no
                .as_ref()
                .map(|n| format!(" out_refund_no={n}"))
                .unwrap_or_default(),
            m.bill_fen
                .map(|f| format!(" bill_fen={f}"))
                .unwrap_or_default(),
            m.ledger_fen
                .map(|f| format!(" ledger_fen={f}"))
                .unwrap_or_default(),
            m.detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default(),
        );
    }
}
