//! The bench's figures, as one JSON object or as a table with each target beside its figure.

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Figures at one concurrency level.
#[derive(Debug, Clone, Default)]
pub struct Level {
    /// Concurrent clients.
    pub clients: usize,
    /// Renewal lifecycles completed per second.
    pub lifecycles_per_s: f64,
    /// Commands accepted per second.
    pub commands_per_s: f64,
    /// Ledger events appended per second through the command side.
    pub command_events_per_s: f64,
    /// Median command latency (ms).
    pub command_p50_ms: Option<f64>,
    /// 99th percentile command latency (ms).
    pub command_p99_ms: Option<f64>,
    /// Plain single-row INSERTs per second.
    pub raw_events_per_s: f64,
    /// Median INSERT latency (ms).
    pub raw_p50_ms: Option<f64>,
    /// 99th percentile INSERT latency (ms).
    pub raw_p99_ms: Option<f64>,
    /// The same INSERTs into a table with a per-statement NOTIFY trigger, as every append had
    /// before migration 0004 (PostgreSQL; a diagnostic).
    pub raw_notify_events_per_s: Option<f64>,
}

/// Everything one bench run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `postgres` or `embedded`.
    pub store: String,
    /// `short` or `full` (or `custom` with overrides).
    pub mode: String,
    /// Connections per pool.
    pub pool_size: u32,
    /// Seconds each measured command / raw phase lasted (per level).
    pub phase_s: f64,
    /// (a) and (b) per level.
    pub levels: Vec<Level>,
    /// (c) the command rate aimed at (half the peak).
    pub lag_target_commands_per_s: f64,
    /// (c) the command rate reached.
    pub lag_commands_per_s: f64,
    /// (c) command p99 while the read side runs (ms).
    pub lag_command_p99_ms: Option<f64>,
    /// (c) commit→every view, median (ms).
    pub projection_lag_p50_ms: Option<f64>,
    /// (c) commit→every view, 99th percentile (ms).
    pub projection_lag_p99_ms: Option<f64>,
    /// (c) commands probed.
    pub projection_lag_samples: usize,
    /// (d) events in the rebuilt ledger.
    pub events: u64,
    /// (d) how fast the bulk loader filled it (events/s; context only).
    pub bulk_load_events_per_s: f64,
    /// (d) events per second through all projections, from an empty read side.
    pub rebuild_events_per_s: f64,
    /// (d) seconds each projection took to reach the head, side by side.
    pub rebuild_s_by_projection: Vec<(&'static str, f64)>,
    /// (d) events per second of one plain SELECT of the same rows.
    pub select_events_per_s: f64,
    /// (e) sealing the ledger in signed checkpoints, events/s (preparation, for context).
    pub seal_events_per_s: Option<f64>,
    /// (e) audit verify events/s.
    pub verify_events_per_s: Option<f64>,
    /// (e) whether the ledger verified intact.
    pub verify_ok: Option<bool>,
    /// (e) bytes of the export.
    pub export_bytes: Option<u64>,
    /// (e) audit export events/s.
    pub export_events_per_s: Option<f64>,
    /// (e) why audit figures are missing.
    pub audit_note: Option<String>,
    /// (g) gate checks per level of clients.
    pub gate: Vec<super::gate::GateLevel>,
    /// (g) the same checks as HTTP requests through the service's router.
    pub gate_http: Vec<super::gate::GateLevel>,
    /// (f) peak RSS (MiB).
    pub rss_mb: Option<f64>,
    /// (f) the peak RSS so far at the end of each phase (MiB), to see which phase grew it.
    pub rss_mb_by_phase: Vec<(&'static str, f64)>,
    /// Wall time of the whole run (s).
    pub elapsed_s: f64,
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn num(x: Option<f64>) -> Value {
    x.filter(|x| x.is_finite())
        .map_or(Value::Null, |x| Value::from(round(x)))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    super::stats::ratio(a, b)
}

/// One target: a figure, how it compares, the bound.
struct Target {
    name: &'static str,
    value: Option<f64>,
    at_least: bool,
    bound: f64,
}

impl Target {
    fn met(&self) -> Option<bool> {
        self.value.map(|v| {
            if self.at_least {
                v >= self.bound
            } else {
                v <= self.bound
            }
        })
    }
    fn text(&self) -> String {
        format!("{} {}", if self.at_least { "≥" } else { "≤" }, self.bound)
    }
}

impl Report {
    /// Notes the peak RSS so far at the end of `phase`.
    pub(crate) fn mark(&mut self, phase: &'static str) {
        if let Some(mb) = super::stats::peak_rss_mb() {
            self.rss_mb_by_phase.push((phase, mb));
        }
    }

    fn gate_level(&self, clients: usize) -> Option<&super::gate::GateLevel> {
        self.gate.iter().find(|g| g.clients == clients)
    }

    fn gate_http_level(&self, clients: usize) -> Option<&super::gate::GateLevel> {
        self.gate_http.iter().find(|g| g.clients == clients)
    }

    fn level(&self, clients: usize) -> Option<&Level> {
        self.levels.iter().find(|l| l.clients == clients)
    }

    /// Ledger events/s ÷ raw INSERTs/s at `clients`.
    pub fn ratio_command_vs_raw(&self, clients: usize) -> Option<f64> {
        let l = self.level(clients)?;
        ratio(Some(l.command_events_per_s), Some(l.raw_events_per_s))
    }

    /// Command p99 ÷ raw INSERT p99 at `clients`.
    pub fn ratio_p99(&self, clients: usize) -> Option<f64> {
        let l = self.level(clients)?;
        ratio(l.command_p99_ms, l.raw_p99_ms)
    }

    /// Rebuild ÷ SELECT.
    pub fn ratio_rebuild_vs_select(&self) -> Option<f64> {
        ratio(
            Some(self.rebuild_events_per_s),
            Some(self.select_events_per_s),
        )
    }

    /// Verify ÷ SELECT.
    pub fn ratio_verify_vs_select(&self) -> Option<f64> {
        ratio(self.verify_events_per_s, Some(self.select_events_per_s))
    }

    /// Export ÷ SELECT.
    pub fn ratio_export_vs_select(&self) -> Option<f64> {
        ratio(self.export_events_per_s, Some(self.select_events_per_s))
    }

    fn targets(&self) -> Vec<Target> {
        vec![
            Target {
                name: "ratio_command_vs_raw_8",
                value: self.ratio_command_vs_raw(8),
                at_least: true,
                bound: 0.7,
            },
            Target {
                name: "ratio_command_vs_raw_32",
                value: self.ratio_command_vs_raw(32),
                at_least: true,
                bound: 0.7,
            },
            Target {
                name: "ratio_p99_command_vs_raw_8",
                value: self.ratio_p99(8),
                at_least: false,
                bound: 5.0,
            },
            Target {
                name: "projection_lag_p99_ms",
                value: self.projection_lag_p99_ms,
                at_least: false,
                bound: 100.0,
            },
            Target {
                name: "ratio_rebuild_vs_select",
                value: self.ratio_rebuild_vs_select(),
                at_least: true,
                bound: 0.5,
            },
            Target {
                name: "ratio_verify_vs_select",
                value: self.ratio_verify_vs_select(),
                at_least: true,
                bound: 0.5,
            },
            Target {
                name: "gate_checks_per_s_16",
                value: self.gate_level(16).map(|g| g.checks_per_s),
                at_least: true,
                bound: 20_000.0,
            },
            Target {
                name: "gate_p99_ms_16",
                value: self.gate_level(16).and_then(|g| g.p99_ms),
                at_least: false,
                bound: 2.0,
            },
            Target {
                name: "gate_http_checks_per_s_16",
                value: self.gate_http_level(16).map(|g| g.checks_per_s),
                at_least: true,
                bound: 20_000.0,
            },
            Target {
                name: "gate_http_p99_ms_16",
                value: self.gate_http_level(16).and_then(|g| g.p99_ms),
                at_least: false,
                bound: 2.0,
            },
            Target {
                name: "rss_mb",
                value: self.rss_mb,
                at_least: false,
                bound: 150.0,
            },
        ]
    }

    /// The report as one flat JSON object (plus a `targets` summary).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: String, v: Value| {
            m.insert(k, v);
        };
        put("store".into(), self.store.clone().into());
        put("mode".into(), self.mode.clone().into());
        put("pool_size".into(), self.pool_size.into());
        put("phase_s".into(), num(Some(self.phase_s)));
        for l in &self.levels {
            let c = l.clients;
            put(
                format!("lifecycles_per_s_{c}"),
                num(Some(l.lifecycles_per_s)),
            );
            put(format!("commands_per_s_{c}"), num(Some(l.commands_per_s)));
            put(
                format!("command_events_per_s_{c}"),
                num(Some(l.command_events_per_s)),
            );
            put(format!("command_p50_ms_{c}"), num(l.command_p50_ms));
            put(format!("command_p99_ms_{c}"), num(l.command_p99_ms));
            put(
                format!("raw_events_per_s_{c}"),
                num(Some(l.raw_events_per_s)),
            );
            put(format!("raw_p50_ms_{c}"), num(l.raw_p50_ms));
            put(format!("raw_p99_ms_{c}"), num(l.raw_p99_ms));
            put(
                format!("ratio_command_vs_raw_{c}"),
                num(self.ratio_command_vs_raw(c)),
            );
            put(
                format!("ratio_p99_command_vs_raw_{c}"),
                num(self.ratio_p99(c)),
            );
            if l.raw_notify_events_per_s.is_some() {
                put(
                    format!("raw_notify_events_per_s_{c}"),
                    num(l.raw_notify_events_per_s),
                );
            }
        }
        put(
            "lag_target_commands_per_s".into(),
            num(Some(self.lag_target_commands_per_s)),
        );
        put(
            "lag_commands_per_s".into(),
            num(Some(self.lag_commands_per_s)),
        );
        put("lag_command_p99_ms".into(), num(self.lag_command_p99_ms));
        put(
            "projection_lag_p50_ms".into(),
            num(self.projection_lag_p50_ms),
        );
        put(
            "projection_lag_p99_ms".into(),
            num(self.projection_lag_p99_ms),
        );
        put(
            "projection_lag_samples".into(),
            self.projection_lag_samples.into(),
        );
        put("events".into(), self.events.into());
        put(
            "bulk_load_events_per_s".into(),
            num(Some(self.bulk_load_events_per_s)),
        );
        put(
            "rebuild_events_per_s".into(),
            num(Some(self.rebuild_events_per_s)),
        );
        put(
            "rebuild_s_by_projection".into(),
            Value::Object(
                self.rebuild_s_by_projection
                    .iter()
                    .map(|(name, s)| (name.to_string(), num(Some(*s))))
                    .collect(),
            ),
        );
        put(
            "select_events_per_s".into(),
            num(Some(self.select_events_per_s)),
        );
        put(
            "ratio_rebuild_vs_select".into(),
            num(self.ratio_rebuild_vs_select()),
        );
        put("seal_events_per_s".into(), num(self.seal_events_per_s));
        put("verify_events_per_s".into(), num(self.verify_events_per_s));
        put(
            "verify_ok".into(),
            self.verify_ok.map_or(Value::Null, Value::from),
        );
        put(
            "export_bytes".into(),
            self.export_bytes.map_or(Value::Null, Value::from),
        );
        put("export_events_per_s".into(), num(self.export_events_per_s));
        for g in &self.gate {
            put(
                format!("gate_checks_per_s_{}", g.clients),
                num(Some(g.checks_per_s)),
            );
            put(format!("gate_p50_ms_{}", g.clients), num(g.p50_ms));
            put(format!("gate_p99_ms_{}", g.clients), num(g.p99_ms));
        }
        for g in &self.gate_http {
            put(
                format!("gate_http_checks_per_s_{}", g.clients),
                num(Some(g.checks_per_s)),
            );
            put(format!("gate_http_p50_ms_{}", g.clients), num(g.p50_ms));
            put(format!("gate_http_p99_ms_{}", g.clients), num(g.p99_ms));
        }
        put(
            "ratio_verify_vs_select".into(),
            num(self.ratio_verify_vs_select()),
        );
        put(
            "ratio_export_vs_select".into(),
            num(self.ratio_export_vs_select()),
        );
        put(
            "audit_note".into(),
            self.audit_note.clone().map_or(Value::Null, Value::from),
        );
        put("rss_mb".into(), num(self.rss_mb));
        put(
            "rss_mb_by_phase".into(),
            Value::Object(
                self.rss_mb_by_phase
                    .iter()
                    .map(|(phase, mb)| (phase.to_string(), num(Some(*mb))))
                    .collect(),
            ),
        );
        put("elapsed_s".into(), num(Some(self.elapsed_s)));
        let targets: Map<String, Value> = self
            .targets()
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    serde_json::json!({
                        "value": num(t.value),
                        "target": t.text(),
                        "met": t.met(),
                    }),
                )
            })
            .collect();
        put("targets".into(), Value::Object(targets));
        Value::Object(m)
    }

    /// The report as a readable table.
    pub fn table(&self) -> String {
        let f = |x: Option<f64>, digits: usize| match x {
            Some(x) if x.is_finite() => format!("{x:.digits$}"),
            _ => "n/a".to_string(),
        };
        let verdict = |t: &Target| match t.met() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "permit-ledger bench — store {}, mode {}, pool {} connections, {:.1} s per phase",
            self.store, self.mode, self.pool_size, self.phase_s
        );
        let _ = writeln!(s);
        let _ = write!(s, "{:<34}", "command side vs raw INSERT");
        for l in &self.levels {
            let _ = write!(s, "{:>14}", format!("{} client(s)", l.clients));
        }
        let _ = writeln!(s);
        let row = |s: &mut String, name: &str, get: &dyn Fn(&Level) -> String| {
            let _ = write!(s, "{name:<34}");
            for l in &self.levels {
                let _ = write!(s, "{:>14}", get(l));
            }
            let _ = writeln!(s);
        };
        row(&mut s, "lifecycles/s", &|l| f(Some(l.lifecycles_per_s), 1));
        row(&mut s, "commands/s", &|l| f(Some(l.commands_per_s), 0));
        row(&mut s, "ledger events/s", &|l| {
            f(Some(l.command_events_per_s), 0)
        });
        row(&mut s, "raw INSERT events/s", &|l| {
            f(Some(l.raw_events_per_s), 0)
        });
        if self
            .levels
            .iter()
            .any(|l| l.raw_notify_events_per_s.is_some())
        {
            row(&mut s, "raw INSERT + NOTIFY trigger/s", &|l| {
                f(l.raw_notify_events_per_s, 0)
            });
        }
        row(&mut s, "ledger ÷ raw", &|l| {
            f(self.ratio_command_vs_raw(l.clients), 2)
        });
        row(&mut s, "command p50 / p99 ms", &|l| {
            format!("{}/{}", f(l.command_p50_ms, 1), f(l.command_p99_ms, 1))
        });
        row(&mut s, "raw INSERT p50 / p99 ms", &|l| {
            format!("{}/{}", f(l.raw_p50_ms, 1), f(l.raw_p99_ms, 1))
        });
        row(&mut s, "command p99 ÷ raw p99", &|l| {
            f(self.ratio_p99(l.clients), 1)
        });
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "projection lag: {} probes at {} commands/s (aimed at {}, half the peak); \
             command p99 {} ms meanwhile",
            self.projection_lag_samples,
            f(Some(self.lag_commands_per_s), 0),
            f(Some(self.lag_target_commands_per_s), 0),
            f(self.lag_command_p99_ms, 1)
        );
        let _ = writeln!(
            s,
            "  commit → every view p50 {} ms, p99 {} ms",
            f(self.projection_lag_p50_ms, 1),
            f(self.projection_lag_p99_ms, 1)
        );
        let _ = writeln!(
            s,
            "rebuild of all projections from {} events: {} events/s; plain SELECT {} events/s \
             (bulk load {} events/s)",
            self.events,
            f(Some(self.rebuild_events_per_s), 0),
            f(Some(self.select_events_per_s), 0),
            f(Some(self.bulk_load_events_per_s), 0)
        );
        if !self.rebuild_s_by_projection.is_empty() {
            let each: Vec<String> = self
                .rebuild_s_by_projection
                .iter()
                .map(|(name, secs)| format!("{name} {secs:.1} s"))
                .collect();
            let _ = writeln!(s, "  each projection done after: {}", each.join(", "));
        }
        let _ = writeln!(
            s,
            "audit verify {} events/s{}, export {} events/s ({} MB); ratios to SELECT {} and {} \
             (sealing checkpoints first: {} events/s){}",
            f(self.verify_events_per_s, 0),
            match self.verify_ok {
                Some(true) => " (intact)",
                Some(false) => " (PROBLEMS FOUND)",
                None => "",
            },
            f(self.export_events_per_s, 0),
            f(self.export_bytes.map(|b| b as f64 / 1e6), 0),
            f(self.ratio_verify_vs_select(), 2),
            f(self.ratio_export_vs_select(), 2),
            f(self.seal_events_per_s, 0),
            self.audit_note
                .as_ref()
                .map_or(String::new(), |n| format!(" ({n})"))
        );
        for g in &self.gate {
            let _ = writeln!(
                s,
                "gate check (in-memory model, {} client(s)): {} checks/s, p50 {} ms, p99 {} ms",
                g.clients,
                f(Some(g.checks_per_s), 0),
                f(g.p50_ms, 3),
                f(g.p99_ms, 3)
            );
        }
        for g in &self.gate_http {
            let _ = writeln!(
                s,
                "gate check (HTTP, {} client(s)): {} checks/s, p50 {} ms, p99 {} ms",
                g.clients,
                f(Some(g.checks_per_s), 0),
                f(g.p50_ms, 3),
                f(g.p99_ms, 3)
            );
        }
        let marks: Vec<String> = self
            .rss_mb_by_phase
            .iter()
            .map(|(phase, mb)| format!("{phase} {mb:.0}"))
            .collect();
        let _ = writeln!(
            s,
            "peak RSS {} MiB (peak after each phase: {}); whole run {:.0} s",
            f(self.rss_mb, 1),
            marks.join(", "),
            self.elapsed_s
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<34}{:>12}{:>10}  verdict",
            "target", "figure", "target"
        );
        for t in self.targets() {
            let _ = writeln!(
                s,
                "{:<34}{:>12}{:>10}  {}",
                t.name,
                f(t.value, 2),
                t.text(),
                verdict(&t)
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            store: "postgres".into(),
            mode: "short".into(),
            levels: [1, 8, 32]
                .map(|clients| Level {
                    clients,
                    command_events_per_s: 700.0,
                    raw_events_per_s: 1000.0,
                    command_p99_ms: Some(10.0),
                    raw_p99_ms: Some(4.0),
                    ..Default::default()
                })
                .into(),
            rebuild_events_per_s: 100.0,
            select_events_per_s: 400.0,
            rss_mb: Some(40.0),
            ..Default::default()
        }
    }

    #[test]
    fn the_json_has_the_ratios_and_nulls_for_what_was_not_measured() {
        let j = sample().to_json();
        assert_eq!(j["ratio_command_vs_raw_8"], 0.7);
        assert_eq!(j["ratio_p99_command_vs_raw_8"], 2.5);
        assert_eq!(j["ratio_rebuild_vs_select"], 0.25);
        assert!(j["ratio_verify_vs_select"].is_null());
        assert!(j["projection_lag_p99_ms"].is_null());
        assert_eq!(j["targets"]["ratio_command_vs_raw_32"]["met"], true);
        assert_eq!(j["targets"]["ratio_rebuild_vs_select"]["met"], false);
        assert!(j["targets"]["ratio_verify_vs_select"]["met"].is_null());
    }

    #[test]
    fn the_table_names_each_target_and_its_verdict() {
        let t = sample().table();
        assert!(t.contains("ratio_rebuild_vs_select"), "{t}");
        assert!(t.contains("MISSED") && t.contains("met") && t.contains("not measured"));
    }
}
