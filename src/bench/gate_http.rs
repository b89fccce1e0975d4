//! Phase (g) on the service's own gate model: first the checks against the model
//! ([`super::gate::run`]), then over HTTP, as a barrier controller sends them, `GET
//! /api/v1/gate/check` with a gate token, through the service's own router on a local port
//! (request id, limits, the gate role's in-memory credentials, the handler; the check log off),
//! at 1 and 16 clients on keep-alive connections. The clients run in this process, so they
//! share the machine's cores with the service they measure.

use super::gate::{GateLevel, CLIENTS};
use super::stats::{rate, Latencies};
use crate::gate::GateLog;
use crate::services::{Services, Settings};
use crate::store::Store;
use aggregates::metadata::{Actor, EventMetadata, Role};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Builds the service over `store`, lets its gate follow the ledger to its head, measures each
/// level for `phase` against that model, then serves the router and measures each level over
/// HTTP: (model levels, HTTP levels).
pub(crate) async fn measure(
    store: &Store,
    vehicles: Arc<Vec<(Uuid, String)>>,
    phase: Duration,
) -> anyhow::Result<(Vec<GateLevel>, Vec<GateLevel>)> {
    let dir = std::env::temp_dir().join(format!("permit-ledger-bench-gate-{}", Uuid::new_v4()));
    let result = serve_and_measure(store, vehicles, phase, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn serve_and_measure(
    store: &Store,
    vehicles: Arc<Vec<(Uuid, String)>>,
    phase: Duration,
    dir: &std::path::Path,
) -> anyhow::Result<(Vec<GateLevel>, Vec<GateLevel>)> {
    let settings = Settings {
        gate_log: GateLog::Off,
        ..Settings::default()
    };
    let svc = Services::build(store.clone(), settings, dir, None)
        .await
        .context("the service for the gate phase")?;
    let meta = EventMetadata {
        actor: Actor::System,
        role: Role::System,
        correlation_id: Uuid::new_v4().to_string(),
        causation_id: "bench:gate".into(),
        request_id: format!("bench-{}", Uuid::new_v4()),
    };
    let (_, token) = crate::app::staff::add_staff(
        &svc.ledger,
        &svc.store.db,
        "bench gate".into(),
        vec![Role::Gate],
        &meta,
    )
    .await
    .context("a gate token")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::gate::follow(
        svc.gate.clone(),
        svc.store.log.clone(),
        svc.read.appended(),
        stopped,
    ));
    let head = store.log.head().await?;
    svc.gate
        .wait_for(head, Duration::from_secs(3600))
        .await
        .map_err(|e| anyhow::anyhow!("the gate did not follow the ledger: {e}"))?;
    let mut model = Vec::new();
    for clients in CLIENTS {
        let level = super::gate::run(svc.gate.clone(), vehicles.clone(), clients, phase).await;
        match level {
            Ok(level) => model.push(level),
            Err(e) => {
                let _ = stop.send(true);
                return Err(e);
            }
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = crate::http::router(svc.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let mut shut = stop.subscribe();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shut.changed().await;
            })
            .await
    });
    let mut levels = Vec::new();
    for clients in CLIENTS {
        let level = run(&base, &token, vehicles.clone(), clients, phase).await;
        match level {
            Ok(level) => levels.push(level),
            Err(e) => {
                let _ = stop.send(true);
                return Err(e);
            }
        }
    }
    let _ = stop.send(true);
    server.await.context("the gate phase's server")??;
    Ok((model, levels))
}

async fn run(
    base: &str,
    token: &str,
    vehicles: Arc<Vec<(Uuid, String)>>,
    clients: usize,
    phase: Duration,
) -> anyhow::Result<GateLevel> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let url = format!("{base}/api/v1/gate/check");
    let began = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (http, url, token, vehicles) = (
                http.clone(),
                url.clone(),
                token.to_string(),
                vehicles.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let (mut n, mut known) = (0u64, 0u64);
                let mut i = c * 7919;
                while began.elapsed() < phase {
                    let (lot_id, typed) = &vehicles[i % vehicles.len()];
                    i += clients;
                    let lot = lot_id.to_string();
                    let t = Instant::now();
                    let response = http
                        .get(&url)
                        .bearer_auth(&token)
                        .query(&[("lot_id", lot.as_str()), ("plate", typed.as_str())])
                        .send()
                        .await?;
                    let status = response.status();
                    let body: serde_json::Value = response.json().await?;
                    latencies.record(t.elapsed());
                    anyhow::ensure!(status.is_success(), "gate check answered {status}: {body}");
                    known += u64::from(body["permit_id"].is_string());
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
    anyhow::ensure!(known > 0, "no checked vehicle was known to the gate");
    Ok(GateLevel {
        clients,
        checks_per_s: rate(checks, elapsed),
        p50_ms: all.quantile_ms(0.5),
        p99_ms: all.quantile_ms(0.99),
    })
}
