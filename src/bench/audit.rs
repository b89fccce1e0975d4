//! Phase (e): audit verify and export throughput, against a plain SELECT of the same rows.
//!
//! The ledger is first sealed in signed checkpoints as the service's checkpoint worker would
//! (untimed), so verification does its whole job: every stream's hash chain, the feed hash
//! against each checkpoint, and each checkpoint's signature. The export writes the JSON Lines
//! file to the temporary folder, then removes it.

use crate::audit::checkpoint::extend_all;
use crate::audit::export::{export, ExportFilter};
use crate::audit::signing::CheckpointSigner;
use crate::audit::verify::{verify_store, Options};
use crate::store::Store;
use anyhow::{anyhow, Context};
use std::io::Write;
use std::time::Instant;

/// What the audit phase measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditResult {
    /// Events sealed in checkpoints per second (untimed preparation, for context).
    pub seal_events_per_s: Option<f64>,
    /// Events verified per second.
    pub verify_events_per_s: Option<f64>,
    /// Whether the verification found the ledger intact (it must).
    pub verify_ok: Option<bool>,
    /// Events exported per second.
    pub export_events_per_s: Option<f64>,
    /// Bytes of the export.
    pub export_bytes: Option<u64>,
    /// Why a figure is missing, if one is.
    pub note: Option<String>,
    /// The peak RSS after verifying and after exporting (MiB).
    pub rss_marks: Vec<(&'static str, f64)>,
}

/// Counts what goes through.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Seals, then times a whole-ledger verification and a full export of `store`'s `events`
/// events.
pub(crate) async fn measure(store: &Store, events: u64) -> anyhow::Result<AuditResult> {
    let signer = CheckpointSigner::generate();
    let began = Instant::now();
    extend_all(store, Some(&signer))
        .await
        .map_err(|e| anyhow!("seal the ledger in checkpoints: {e}"))?;
    let seal = super::stats::rate(events, began.elapsed());

    let began = Instant::now();
    let report = verify_store(
        store,
        Options {
            keys: vec![signer.public()],
            ..Options::default()
        },
    )
    .await
    .map_err(|e| anyhow!("audit verify: {e}"))?;
    let verify = super::stats::rate(report.checked, began.elapsed());
    let mut rss_marks = Vec::new();
    rss_marks.extend(super::stats::peak_rss_mb().map(|mb| ("verify", mb)));
    if !report.ok {
        tracing::warn!(problems = ?report.problems.iter().take(3).collect::<Vec<_>>(), "the bench ledger did not verify");
    }

    let path = std::env::temp_dir().join(format!(
        "permit-ledger-bench-export-{}.jsonl",
        uuid::Uuid::new_v4().simple()
    ));
    let file = std::fs::File::create(&path).context("create the export file")?;
    let mut out = Counting {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        bytes: 0,
    };
    let began = Instant::now();
    let exported = export(
        store,
        &ExportFilter::default(),
        Some(&signer.public()),
        &mut out,
    )
    .await;
    let took = began.elapsed();
    let _ = std::fs::remove_file(&path);
    let summary = exported.map_err(|e| anyhow!("audit export: {e}"))?;
    rss_marks.extend(super::stats::peak_rss_mb().map(|mb| ("export", mb)));
    Ok(AuditResult {
        seal_events_per_s: Some(seal),
        verify_events_per_s: Some(verify),
        verify_ok: Some(report.ok && report.checked == events),
        export_events_per_s: Some(super::stats::rate(summary.events, took)),
        export_bytes: Some(out.bytes),
        note: None,
        rss_marks,
    })
}
