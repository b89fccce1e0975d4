//! `permit-ledger audit …`: verify (the store, or an export with no database), export, import,
//! and seal checkpoints now.
//!
//! Exit codes: 0 verified (or done), 1 problems found, 2 the command could not run.

use super::checkpoint::{self, checkpoint_json, Checkpoint};
use super::export::{export, import, verify_file, ExportFilter};
use super::signing::{self, CheckpointKey};
use super::verify::{verify_store, Options, Report};
use super::AuditError;
use crate::services::Mode;
use crate::store::{open, StoreConfig};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the ledger (or, with --file, an export, with no database). Prints a JSON report;
    /// exits 0 when nothing is wrong, 1 when problems were found.
    Verify {
        /// An export to verify offline instead of the store.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The checkpoint signing key (hex): every checkpoint signed by it must verify, and at
        /// least one must be.
        #[arg(long)]
        public_key: Option<String>,
        /// A checkpoint kept from earlier (the JSON of GET /api/v1/audit/checkpoints/latest, or
        /// the checkpoint object alone) that must be a prefix of this history. Repeatable.
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
    },
    /// Write the events as JSON Lines in feed order, with the checkpoints when unfiltered.
    Export {
        /// Only this permit's events.
        #[arg(long)]
        permit: Option<String>,
        /// Only events recorded at or after this instant (RFC 3339).
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        /// Only events recorded at or before this instant (RFC 3339).
        #[arg(long)]
        to: Option<DateTime<Utc>>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a full export into an empty store (positions, times and hashes kept exactly).
    Import {
        /// The export.
        #[arg(long)]
        file: PathBuf,
    },
    /// Seal the feed in checkpoints now (as the service's worker does) and print the latest.
    Checkpoint,
}

/// Runs an `audit` subcommand.
pub async fn run(command: AuditCommand, config: &StoreConfig, mode: Mode) -> ExitCode {
    match run_inner(command, config, mode).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn print_report(report: &Report) -> Result<ExitCode, AuditError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| AuditError::Io(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads a kept checkpoint: the latest-checkpoint answer or the checkpoint object alone.
pub fn read_kept(path: &Path) -> Result<Checkpoint, AuditError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuditError::Io(format!("cannot read {}: {e}", path.display())))?;
    let mut v: Value = serde_json::from_str(&text)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    if let Some(inner) = v.get_mut("checkpoint") {
        v = inner.take();
    }
    serde_json::from_value(v)
        .map_err(|e| AuditError::Io(format!("{}: not a checkpoint: {e}", path.display())))
}

async fn run_inner(
    command: AuditCommand,
    config: &StoreConfig,
    mode: Mode,
) -> Result<ExitCode, AuditError> {
    let opened = || async {
        open(config)
            .await
            .map_err(|e| AuditError::Io(format!("cannot open the store: {e}")))
    };
    match command {
        AuditCommand::Verify {
            file,
            public_key,
            checkpoints,
        } => {
            let given = public_key
                .as_deref()
                .map(CheckpointKey::from_hex)
                .transpose()?;
            let kept = checkpoints
                .iter()
                .map(|p| read_kept(p))
                .collect::<Result<Vec<_>, _>>()?;
            let report = match file {
                Some(file) => {
                    let opts = Options {
                        keys: given.iter().cloned().collect(),
                        require_key: given,
                        kept,
                        ..Options::default()
                    };
                    verify_file(&file, opts)?.0
                }
                None => {
                    let store = opened().await?;
                    let mut keys: Vec<CheckpointKey> = signing::load(&store.db, mode, false)
                        .await?
                        .map(|s| s.public())
                        .into_iter()
                        .collect();
                    keys.extend(given.iter().cloned());
                    verify_store(
                        &store,
                        Options {
                            keys,
                            require_key: given,
                            kept,
                            ..Options::default()
                        },
                    )
                    .await?
                }
            };
            print_report(&report)
        }
        AuditCommand::Export {
            permit,
            from,
            to,
            out,
        } => {
            let store = opened().await?;
            let public = signing::load(&store.db, mode, false)
                .await?
                .map(|s| s.public());
            let filter = ExportFilter { permit, from, to };
            let summary = match out {
                Some(path) => {
                    let file = std::fs::File::create(&path).map_err(|e| {
                        AuditError::Io(format!("cannot create {}: {e}", path.display()))
                    })?;
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                    let s = export(&store, &filter, public.as_ref(), &mut w).await?;
                    w.into_inner()
                        .map_err(|e| AuditError::Io(e.to_string()))?
                        .sync_all()?;
                    s
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    export(&store, &filter, public.as_ref(), &mut w).await?
                }
            };
            eprintln!(
                "exported {} events and {} checkpoints (last position {})",
                summary.events, summary.checkpoints, summary.last_position
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Import { file } => {
            let store = opened().await?;
            let summary = import(&store, &file).await?;
            println!(
                "{}",
                serde_json::to_string(&summary).map_err(|e| AuditError::Io(e.to_string()))?
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint => {
            let store = opened().await?;
            let signer = signing::load(&store.db, mode, true).await?;
            let written = checkpoint::extend_all(&store, signer.as_ref()).await?;
            let latest = checkpoint::latest(&store.db).await?;
            println!(
                "{}",
                json!({
                    "written": written,
                    "checkpoint": latest.as_ref().map(checkpoint_json),
                    "public_key": signer.as_ref().map(|s| s.public().to_hex()),
                    "key_id": signer.as_ref().map(|s| s.key_id()),
                })
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
