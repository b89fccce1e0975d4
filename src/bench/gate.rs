//! Phase (g): gate checks. The gate's in-memory model follows the rebuild ledger, then 1 and 16
//! clients ask it what the check handler asks: parse the plate as typed, take the
//! business date, look it up. The clients are tasks on the runtime's threads, as requests are;
//! HTTP and the credential check are not in this figure; [`super::gate_http`] measures the
//! whole request.

use super::stats::{rate, Latencies};
use crate::app::owner::parse_plate;
use crate::gate::Gate;
use crate::store::Store;
use aggregates::business_time::business_date;
use aggregates::permit::PermitEvent;
use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Clients of the phase.
pub(crate) const CLIENTS: [usize; 2] = [1, 16];

/// One check in this many has its latency kept (millions of checks a second would otherwise
/// fill the memory the run measures).
const SAMPLE_EVERY: u64 = 32;

/// One level of the phase.
#[derive(Debug, Clone)]
pub struct GateLevel {
    /// Concurrent clients.
    pub clients: usize,
    /// Checks answered per second, all clients together.
    pub checks_per_s: f64,
    /// Median check (ms; of one check in [`SAMPLE_EVERY`], microsecond resolution).
    pub p50_ms: Option<f64>,
    /// 99th percentile check (ms).
    pub p99_ms: Option<f64>,
}

/// Measures each level for `phase` against the gate's model, then over HTTP, both on the one
/// model the service builds ([`super::gate_http`]), as a production instance holds one.
pub(crate) async fn measure(
    store: &Store,
    phase: Duration,
) -> anyhow::Result<(Vec<GateLevel>, Vec<GateLevel>)> {
    let vehicles = Arc::new(vehicles(store).await?);
    anyhow::ensure!(!vehicles.is_empty(), "the ledger holds no vehicle to check");
    super::gate_http::measure(store, vehicles, phase).await
}

/// Lots and plates (as typed, with a space) of the ledger's first cards.
async fn vehicles(store: &Store) -> anyhow::Result<Vec<(Uuid, String)>> {
    // A few hundred cards: a page of the feed holds several MB, so not more.
    let sample = store.log.read_feed(0, 3_000).await?;
    let mut out = Vec::new();
    for event in &sample {
        if let Ok(Some(PermitEvent::PermitIssued { lot_id, plate, .. })) =
            projections::decode_permit(event)
        {
            let text = plate.as_str();
            let split = text.char_indices().nth(1).map_or(text.len(), |(i, _)| i);
            out.push((lot_id, format!("{} {}", &text[..split], &text[split..])));
        }
    }
    Ok(out)
}

/// One level against the model: `clients` tasks checking for `phase`.
pub(super) async fn run(
    gate: Arc<Gate>,
    vehicles: Arc<Vec<(Uuid, String)>>,
    clients: usize,
    phase: Duration,
) -> anyhow::Result<GateLevel> {
    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (gate, vehicles) = (gate.clone(), vehicles.clone());
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let (mut n, mut known) = (0u64, 0u64);
                let mut i = c * 7919;
                while began.elapsed() < phase {
                    let (lot_id, typed) = &vehicles[i % vehicles.len()];
                    i += clients;
                    let t = Instant::now();
                    let plate =
                        parse_plate(typed).map_err(|e| anyhow::anyhow!("plate {typed:?}: {e}"))?;
                    let answer = gate
                        .check(*lot_id, &plate, business_date(chrono::Utc::now()))
                        .map_err(|e| anyhow::anyhow!("check: {e}"))?;
                    if n % SAMPLE_EVERY == 0 {
                        latencies.record(t.elapsed());
                        // Clients take turns on the runtime's threads, as requests do.
                        tokio::task::yield_now().await;
                    }
                    known += u64::from(answer.permit_id.is_some());
                    n += 1;
                }
                Ok::<_, anyhow::Error>((n, known, latencies))
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.context("a gate client")?);
    }
    let elapsed = began.elapsed();
    let mut all = Latencies::default();
    let (mut checks, mut known) = (0, 0);
    for r in results {
        let (n, k, l) = r?;
        checks += n;
        known += k;
        all.extend(l);
    }
    // Most sampled vehicles still hold their card; none found means the model is not there.
    anyhow::ensure!(known > 0, "no checked vehicle was known to the gate");
    Ok(GateLevel {
        clients,
        checks_per_s: rate(checks, elapsed),
        p50_ms: all.quantile_ms(0.5),
        p99_ms: all.quantile_ms(0.99),
    })
}
