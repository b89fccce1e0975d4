//! `permit-ledger bench --json` on a tiny size, on both stores: one JSON object with every
//! figure, and sane values. The targets are not asserted: this is not a timed test.

use crate::helpers::admin_url;
use serde_json::Value;
use std::process::Command;

fn bench_json(env: &[(&str, String)], store: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args([
            "bench",
            "--short",
            "--json",
            "--store",
            store,
            "--phase-ms",
            "300",
            "--rebuild-events",
            "2000",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run permit-ledger bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "one JSON object: {stdout}"
    );
    serde_json::from_str(stdout.trim()).expect("stdout is JSON")
}

fn positive(j: &Value, key: &str) -> f64 {
    let v = j[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number: {j}"));
    assert!(v > 0.0 && v.is_finite(), "{key} = {v}");
    v
}

fn check(j: &Value, store: &str) {
    assert_eq!(j["store"], store);
    for c in [1, 8, 32] {
        for key in [
            "lifecycles_per_s",
            "command_events_per_s",
            "raw_events_per_s",
            "ratio_command_vs_raw",
            "command_p50_ms",
            "command_p99_ms",
            "raw_p50_ms",
            "raw_p99_ms",
        ] {
            positive(j, &format!("{key}_{c}"));
        }
        let ratio = j[format!("ratio_command_vs_raw_{c}")].as_f64().unwrap();
        let expected = j[format!("command_events_per_s_{c}")].as_f64().unwrap()
            / j[format!("raw_events_per_s_{c}")].as_f64().unwrap();
        assert!(
            (ratio - expected).abs() < 0.01,
            "ratio at {c}: {ratio} vs {expected}"
        );
        assert!(
            j[format!("command_p99_ms_{c}")].as_f64() >= j[format!("command_p50_ms_{c}")].as_f64()
        );
    }
    for key in [
        "ratio_command_vs_raw_8",
        "ratio_command_vs_raw_32",
        "command_p99_ms_8",
        "raw_p99_ms_8",
        "projection_lag_p50_ms",
        "projection_lag_p99_ms",
        "lag_commands_per_s",
        "rebuild_events_per_s",
        "select_events_per_s",
        "ratio_rebuild_vs_select",
        "rss_mb",
    ] {
        positive(j, key);
    }
    for via in ["gate", "gate_http"] {
        for c in [1, 16] {
            positive(j, &format!("{via}_checks_per_s_{c}"));
            let (p50, p99) = (
                j[format!("{via}_p50_ms_{c}")].as_f64(),
                j[format!("{via}_p99_ms_{c}")].as_f64(),
            );
            assert!(
                p50.is_some() && p99 >= p50,
                "{via} latencies at {c}: {p50:?} {p99:?}"
            );
        }
    }
    assert!(j["projection_lag_samples"].as_u64().unwrap() > 0);
    assert!(j["events"].as_u64().unwrap() >= 2000, "{}", j["events"]);
    assert!(positive(j, "rss_mb") < 4096.0);
    // Audit figures are numbers once the audit module exists, null (with a note) before.
    for key in ["ratio_verify_vs_select", "verify_events_per_s"] {
        match &j[key] {
            Value::Null => assert!(j["audit_note"].is_string(), "{key} null without a note"),
            _ => {
                positive(j, key);
            }
        }
    }
    for name in [
        "ratio_command_vs_raw_8",
        "ratio_command_vs_raw_32",
        "projection_lag_p99_ms",
        "ratio_rebuild_vs_select",
        "ratio_verify_vs_select",
        "gate_checks_per_s_16",
        "gate_p99_ms_16",
        "gate_http_checks_per_s_16",
        "gate_http_p99_ms_16",
        "rss_mb",
    ] {
        assert!(j["targets"][name].is_object(), "target {name} reported");
    }
}

#[test]
fn the_short_bench_reports_every_figure_on_postgres() {
    let j = bench_json(&[("DATABASE_URL", admin_url())], "postgres");
    check(&j, "postgres");
    assert!(j["raw_notify_events_per_s_8"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_short_bench_reports_every_figure_on_the_embedded_store() {
    let j = bench_json(&[("DATABASE_URL", String::new())], "embedded");
    check(&j, "embedded");
}
