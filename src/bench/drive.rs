//! Driving renewal lifecycles through the command side: flat out (phase a) or paced while the
//! read side runs, timing each command's commit until every view shows it (phase c).

use super::stats::Latencies;
use super::workload::Workload;
use crate::ledger::Ledger;
use crate::read_side::ReadSide;
use crate::store::Db;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// What a drive did.
#[derive(Debug, Default)]
pub(crate) struct DriveResult {
    /// Lifecycles done, counted in fractions as their commands are accepted (each command is
    /// 1/n of its n-command lifecycle), so short runs are not rounded down to whole ones.
    pub lifecycles: f64,
    /// Commands accepted.
    pub commands: u64,
    /// Events appended.
    pub events: u64,
    /// From the start until the last client stopped.
    pub elapsed: Duration,
    /// Each command's latency.
    pub latencies: Latencies,
    /// Commit→view delays of the sampled commands (paced drives with a probe only).
    pub lag: Latencies,
    /// When the client sent its last command (before waiting for its probes).
    finished: Option<Instant>,
}

/// Times how long after a command returns every projection has applied it.
#[derive(Clone)]
pub(crate) struct LagProbe {
    pub read: Arc<ReadSide>,
    pub names: Vec<&'static str>,
    /// Probe one command in this many (per client).
    pub every: u64,
}

/// How to drive.
pub(crate) struct Drive {
    pub clients: usize,
    pub duration: Duration,
    /// The total command rate to hold (commands/s); flat out when `None`.
    pub rate: Option<f64>,
    pub probe: Option<LagProbe>,
}

impl Drive {
    /// Runs `clients` concurrent clients, each running lifecycle after lifecycle, until
    /// `duration` has passed.
    pub async fn run(
        &self,
        ledger: &Ledger,
        db: &Db,
        w: &Arc<Workload>,
    ) -> anyhow::Result<DriveResult> {
        let start = Instant::now();
        let deadline = start + self.duration;
        let mut tasks = Vec::with_capacity(self.clients);
        for _ in 0..self.clients {
            let ledger = ledger.clone();
            let db = db.clone();
            let w = w.clone();
            let probe = self.probe.clone();
            let interval = self
                .rate
                .map(|r| Duration::from_secs_f64(self.clients as f64 / r.max(1e-3)));
            tasks.push(tokio::spawn(async move {
                client(ledger, db, w, deadline, interval, probe).await
            }));
        }
        let mut total = DriveResult::default();
        let mut finished = start;
        for task in tasks {
            let r = task.await.context("a bench client panicked")??;
            finished = finished.max(r.finished.unwrap_or(start));
            total.lifecycles += r.lifecycles;
            total.commands += r.commands;
            total.events += r.events;
            total.latencies.extend(r.latencies);
            total.lag.extend(r.lag);
        }
        total.elapsed = finished - start;
        Ok(total)
    }
}

async fn client(
    ledger: Ledger,
    db: Db,
    w: Arc<Workload>,
    deadline: Instant,
    interval: Option<Duration>,
    probe: Option<LagProbe>,
) -> anyhow::Result<DriveResult> {
    let mut r = DriveResult::default();
    let mut ticks = interval.map(|every| {
        let mut t = tokio::time::interval(every);
        // Catch up after a slow command: hold the average rate (open loop).
        t.set_missed_tick_behavior(MissedTickBehavior::Burst);
        t
    });
    let mut probes = Vec::new();
    'lifecycles: loop {
        let lifecycle = w.next();
        let steps = lifecycle.steps();
        let share = 1.0 / steps.len() as f64;
        for (step, meta) in steps {
            if let Some(t) = ticks.as_mut() {
                t.tick().await;
            }
            if Instant::now() >= deadline {
                break 'lifecycles;
            }
            let began = Instant::now();
            let (events, position) = lifecycle.execute(&ledger, &db, step, &meta).await?;
            let returned = Instant::now();
            r.latencies.record(returned - began);
            r.commands += 1;
            r.lifecycles += share;
            r.events += events as u64;
            if let (Some(p), Some(position)) = (&probe, position) {
                if r.commands % p.every == 0 {
                    let p = p.clone();
                    probes.push(tokio::spawn(async move {
                        for name in &p.names {
                            p.read
                                .wait_for(name, position, Duration::from_secs(60))
                                .await
                                .with_context(|| format!("projection {name} never caught up"))?;
                        }
                        Ok::<_, anyhow::Error>(returned.elapsed())
                    }));
                }
            }
        }
    }
    r.finished = Some(Instant::now());
    for probe in probes {
        r.lag.record(probe.await.context("a lag probe panicked")??);
    }
    Ok(r)
}
