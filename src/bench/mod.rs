//! `permit-ledger bench`: the ledger measured against the database's own limit.
//!
//! In one run, on a fresh store it creates and removes (a PostgreSQL database next to the one
//! `DATABASE_URL` names, or an embedded data directory under the temporary folder):
//!
//! - (a) renewal lifecycles through the command side (`app::desk::issue_permit` and
//!   `Ledger::execute`) at 1, 8 and 32 concurrent clients: lifecycles/s, events/s, command
//!   latency;
//! - (b) the ceiling: plain single-row INSERTs of the same event rows into a scratch table with
//!   the events table's schema, over the event log's own pool, at the same concurrency;
//! - then, on a second fresh store filled with N events (decided in memory, bulk-loaded):
//!   (d) the time every projection takes to build from an empty read side, against one plain
//!   SELECT of the same rows; (e) audit verify and export (`crate::audit`); (c) the lag
//!   from a command's commit until every view shows it, while commands flow at half the peak
//!   rate of (a);
//! - (f) the process's peak RSS.
//!
//! See docs/performance.md for the figures and what limits them.

mod audit;
mod drive;
mod gate;
mod gate_http;
mod raw;
mod report;
mod scratch;
mod stats;
mod workload;

pub use report::{Level, Report};

use crate::ledger::Ledger;
use crate::read_side::ReadSide;
use crate::store::Store;
use anyhow::Context;
use drive::{Drive, LagProbe};
use scratch::Scratch;
use stats::rate;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::Workload;

/// Events per bulk-load statement.
const LOAD_CHUNK: usize = 2_000;

/// Clients of the paced phase (c): enough that a slow command does not lower the rate.
const LAG_CLIENTS: usize = 16;

/// Which store to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchStore {
    /// PostgreSQL: a fresh database next to the one DATABASE_URL names.
    Postgres,
    /// The embedded SQLite store, in a fresh temporary data directory.
    Embedded,
}

impl BenchStore {
    fn as_str(self) -> &'static str {
        match self {
            BenchStore::Postgres => "postgres",
            BenchStore::Embedded => "embedded",
        }
    }
}

/// `permit-ledger bench` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// A CI-sized run (well under two minutes in a release build); the default is the full run.
    #[arg(long)]
    pub short: bool,
    /// Print one JSON object on standard output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The store to measure (default: postgres when DATABASE_URL is set, else embedded).
    #[arg(long, value_enum)]
    pub store: Option<BenchStore>,
    /// Override: milliseconds each measured phase lasts (tests use a tiny run).
    #[arg(long, hide = true)]
    pub phase_ms: Option<u64>,
    /// Override: events to fill the rebuild ledger with.
    #[arg(long, hide = true)]
    pub rebuild_events: Option<u64>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The store.
    pub store: BenchStore,
    /// For PostgreSQL: the URL next to which the bench creates its database.
    pub database_url: Option<String>,
    /// Connections per pool (as for `serve`).
    pub pool_size: u32,
    /// Concurrent clients of phases (a) and (b).
    pub clients: Vec<usize>,
    /// How long each measured command phase lasts, per level.
    pub phase: Duration,
    /// How long each raw INSERT phase lasts, per level.
    pub raw_phase: Duration,
    /// How long the paced phase (c) lasts.
    pub lag_phase: Duration,
    /// Events in the rebuild ledger (d).
    pub rebuild_events: u64,
    /// `full`, `short` or `custom`.
    pub mode: String,
    /// Print progress on standard error.
    pub progress: bool,
    /// When the options were made (progress lines show the time since).
    pub started: Instant,
}

impl BenchOptions {
    /// The options for `args`, with the store settings of the command line.
    pub fn from_args(args: &BenchArgs, store: &crate::cli::StoreArgs) -> Self {
        let database_url = store.database_url.clone().filter(|u| !u.is_empty());
        let kind = args.store.unwrap_or(if database_url.is_some() {
            BenchStore::Postgres
        } else {
            BenchStore::Embedded
        });
        let mut o = if args.short {
            Self::short(kind, database_url)
        } else {
            Self::full(kind, database_url)
        };
        o.pool_size = store.db_pool;
        if let Some(ms) = args.phase_ms {
            let d = Duration::from_millis(ms.max(1));
            (o.phase, o.raw_phase, o.lag_phase) = (d, d, d);
            o.mode = "custom".into();
        }
        if let Some(n) = args.rebuild_events {
            o.rebuild_events = n.max(1);
            o.mode = "custom".into();
        }
        o
    }

    /// The run for people: 20 s per level, a one-million-event rebuild.
    pub fn full(store: BenchStore, database_url: Option<String>) -> Self {
        Self {
            store,
            database_url,
            pool_size: 16,
            clients: vec![1, 8, 32],
            phase: Duration::from_secs(20),
            raw_phase: Duration::from_secs(15),
            lag_phase: Duration::from_secs(30),
            rebuild_events: 1_000_000,
            mode: "full".into(),
            progress: true,
            started: Instant::now(),
        }
    }

    /// The CI-sized run.
    pub fn short(store: BenchStore, database_url: Option<String>) -> Self {
        Self {
            phase: Duration::from_secs(4),
            raw_phase: Duration::from_secs(3),
            lag_phase: Duration::from_secs(6),
            rebuild_events: 50_000,
            mode: "short".into(),
            ..Self::full(store, database_url)
        }
    }

    fn say(&self, what: impl std::fmt::Display) {
        if self.progress {
            let rss =
                stats::peak_rss_mb().map_or(String::new(), |mb| format!(" [peak RSS {mb:.0} MiB]"));
            let at = self.started.elapsed().as_secs();
            eprintln!("bench: [{at:>4} s] {what}{rss}");
        }
    }
}

/// `permit-ledger bench`: runs and prints the table or the JSON object.
pub async fn run_cli(args: &BenchArgs, store: &crate::cli::StoreArgs) -> anyhow::Result<()> {
    let options = BenchOptions::from_args(args, store);
    let report = run(&options).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report.to_json())?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// Runs every phase and returns the figures.
pub async fn run(o: &BenchOptions) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut report = Report {
        store: o.store.as_str().into(),
        mode: o.mode.clone(),
        pool_size: o.pool_size,
        phase_s: o.phase.as_secs_f64(),
        ..Default::default()
    };
    o.say(format_args!(
        "{} store, {} run; phases (a) command side and (b) raw INSERTs",
        o.store.as_str(),
        o.mode
    ));
    let scratch = Scratch::create(o.store, o.database_url.as_deref(), o.pool_size).await?;
    let result = command_and_raw(o, &scratch.store, &mut report).await;
    scratch.destroy().await;
    result?;
    report.mark("commands_and_raw");

    o.say(format_args!(
        "phases (d) rebuild from {} events, (e) audit, (c) projection lag",
        o.rebuild_events
    ));
    let scratch = Scratch::create(o.store, o.database_url.as_deref(), o.pool_size).await?;
    let result = read_side(o, &scratch.store, &mut report).await;
    scratch.destroy().await;
    result?;

    report.rss_mb = stats::peak_rss_mb();
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Phases (a) and (b), level by level (each command level followed by its raw level, so both
/// see tables of about the same size).
async fn command_and_raw(
    o: &BenchOptions,
    store: &Store,
    report: &mut Report,
) -> anyhow::Result<()> {
    let ledger = Ledger::new(store.log.clone());
    let w = Arc::new(Workload::new(0));
    w.register(&ledger).await?;
    raw::prepare(store).await?;
    let warmup = (o.phase / 5).min(Duration::from_secs(1));
    let mut rows: Option<Arc<Vec<raw::RawRow>>> = None;
    for &clients in &o.clients {
        flat_out(clients, warmup)
            .run(&ledger, &store.db, &w)
            .await?;
        o.say(format_args!("(a) {clients} client(s)"));
        let mut d = flat_out(clients, o.phase)
            .run(&ledger, &store.db, &w)
            .await?;
        // The raw INSERTs replay the ledger's own rows (its first lifecycles). Sampled after the
        // measured phase: on a loaded machine a short warm-up may have appended nothing.
        if rows.is_none() {
            let sample = store.log.read_feed(0, 5_000).await?;
            rows = Some(Arc::new(sample.iter().map(raw::RawRow::from).collect()));
        }
        let rows = rows.clone().expect("sampled above");
        o.say(format_args!("(b) {clients} client(s)"));
        raw::insert(store, raw::RAW_TABLE, rows.clone(), clients, warmup).await?;
        let mut r = raw::insert(store, raw::RAW_TABLE, rows.clone(), clients, o.raw_phase).await?;
        let notify = if clients == 8 && matches!(store.log, crate::store::EventLog::Postgres(_)) {
            let n = raw::insert(store, raw::RAW_NOTIFY_TABLE, rows, clients, o.raw_phase).await?;
            Some(rate(n.events, n.elapsed))
        } else {
            None
        };
        report.levels.push(Level {
            clients,
            lifecycles_per_s: d.lifecycles / d.elapsed.as_secs_f64().max(1e-9),
            commands_per_s: rate(d.commands, d.elapsed),
            command_events_per_s: rate(d.events, d.elapsed),
            command_p50_ms: d.latencies.quantile_ms(0.5),
            command_p99_ms: d.latencies.quantile_ms(0.99),
            raw_events_per_s: rate(r.events, r.elapsed),
            raw_p50_ms: r.latencies.quantile_ms(0.5),
            raw_p99_ms: r.latencies.quantile_ms(0.99),
            raw_notify_events_per_s: notify,
        });
    }
    Ok(())
}

fn flat_out(clients: usize, duration: Duration) -> Drive {
    Drive {
        clients,
        duration,
        rate: None,
        probe: None,
    }
}

/// Phases (d), (e) and (c) on a ledger of `o.rebuild_events` events.
async fn read_side(o: &BenchOptions, store: &Store, report: &mut Report) -> anyhow::Result<()> {
    // Fill the ledger: lifecycles decided in memory, appended in statements of LOAD_CHUNK
    // events (small enough that the loader does not inflate the process's peak RSS).
    let w = Workload::new(0);
    let began = Instant::now();
    let mut total = 0u64;
    let mut chunk = Vec::with_capacity(LOAD_CHUNK + 16);
    workload::lot_in_memory(&w, workload::recorded_now(), &mut chunk).await?;
    while total + (chunk.len() as u64) < o.rebuild_events {
        let at = workload::recorded_now();
        while chunk.len() < LOAD_CHUNK && total + (chunk.len() as u64) < o.rebuild_events {
            w.next().decide_in_memory(at, &mut chunk).await?;
        }
        raw::bulk_append(store, &chunk).await?;
        total += chunk.len() as u64;
        chunk.clear();
    }
    raw::bulk_append(store, &chunk).await?;
    total += chunk.len() as u64;
    drop(chunk);
    report.events = total;
    report.bulk_load_events_per_s = rate(total, began.elapsed());
    report.mark("bulk_load");
    if let crate::store::EventLog::Postgres(pg) = &store.log {
        // Settle the freshly loaded table (hint bits, visibility map, statistics) so neither
        // reader below pays for it.
        sqlx::query("VACUUM (ANALYZE) events")
            .execute(pg.pool())
            .await
            .context("vacuum the loaded ledger")?;
    }

    // (d) A plain SELECT of every row (once to warm the cache, once timed), then every
    // projection from an empty read side.
    o.say(format_args!("(d) plain SELECT of {total} events"));
    raw::select_all(store).await?;
    let (selected, took) = raw::select_all(store).await?;
    anyhow::ensure!(selected == total, "selected {selected} of {total} events");
    report.select_events_per_s = rate(selected, took);
    report.mark("select");

    o.say("(d) rebuild of every projection");
    let head = store.log.head().await?;
    let names: Vec<&'static str> = projections::all().iter().map(|p| p.name()).collect();
    let began = Instant::now();
    let read = ReadSide::new(store.clone(), projections::all());
    read.prepare().await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runners = read.spawn(stopped);
    // Each projection's own finishing time too: they run side by side, and the slowest one
    // is the rebuild's time.
    let waits = names.iter().map(|&name| {
        let read = read.clone();
        async move {
            read.wait_for(name, head, Duration::from_secs(24 * 3600))
                .await
                .with_context(|| format!("rebuild of {name}"))?;
            Ok::<_, anyhow::Error>((name, began.elapsed().as_secs_f64()))
        }
    });
    report.rebuild_s_by_projection = futures::future::try_join_all(waits).await?;
    report.rebuild_events_per_s = rate(total, began.elapsed());
    report.mark("rebuild");

    // (e)
    o.say("(e) audit verify and export");
    let audit = audit::measure(store, total).await?;
    report.seal_events_per_s = audit.seal_events_per_s;
    report.verify_events_per_s = audit.verify_events_per_s;
    report.verify_ok = audit.verify_ok;
    report.export_events_per_s = audit.export_events_per_s;
    report.export_bytes = audit.export_bytes;
    report.audit_note = audit.note;
    report.rss_mb_by_phase.extend(audit.rss_marks);

    // (g)
    o.say("(g) gate checks against the in-memory model, then over HTTP");
    (report.gate, report.gate_http) = gate::measure(store, o.phase).await?;
    report.mark("gate");

    // (c) Commands at half the peak rate of (a) while the read side follows.
    let peak = report
        .levels
        .iter()
        .map(|l| l.commands_per_s)
        .fold(0.0, f64::max);
    let target = (peak / 2.0).max(1.0);
    o.say(format_args!(
        "(c) projection lag at {target:.0} commands/s (half the peak {peak:.0})"
    ));
    let waker = read.clone();
    let ledger =
        Ledger::new(store.log.clone()).on_append(Arc::new(move || waker.notify_appended()));
    let w = Arc::new(Workload::new(w.counter()));
    w.register(&ledger).await?;
    let drive = Drive {
        clients: LAG_CLIENTS,
        duration: o.lag_phase,
        rate: Some(target),
        probe: Some(LagProbe {
            read: read.clone(),
            names,
            every: ((target / 100.0).round() as u64).max(1),
        }),
    };
    let result = drive.run(&ledger, &store.db, &w).await;
    let _ = stop.send(true);
    // Let the runners release their leases before the store goes away.
    for runner in runners {
        let _ = runner.await;
    }
    let mut d = result?;
    report.lag_target_commands_per_s = target;
    report.lag_commands_per_s = rate(d.commands, d.elapsed);
    report.lag_command_p99_ms = d.latencies.quantile_ms(0.99);
    report.projection_lag_samples = d.lag.len();
    report.projection_lag_p50_ms = d.lag.quantile_ms(0.5);
    report.projection_lag_p99_ms = d.lag.quantile_ms(0.99);
    report.mark("lag");
    Ok(())
}
