//! Auditing: each way of editing the database behind the ledger's back is caught and named, on
//! both stores; checkpoints are signed and written once; exports verify offline; an embedded
//! ledger moves to PostgreSQL intact; auditors read and never command.

use crate::helpers::{TempDir, TestDb, TestStore};
use aggregates::metadata::Role;
use permit_ledger::audit::checkpoint::{self, Checkpoint};
use permit_ledger::audit::export::{export, import, verify_file, ExportFilter};
use permit_ledger::audit::signing::{self, CheckpointKey, CheckpointSigner};
use permit_ledger::audit::verify::{verify_store, Options};
use permit_ledger::audit::{AuditError, ProblemKind, Report};
use permit_ledger::services::{Mode, Services, Settings};
use permit_ledger::startup::Application;
use permit_ledger::store::{
    canonical_json, canonical_time, event_hash, open, Backend, Hashed, NewEvent, Store,
    StoreConfig, StoredEvent,
};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// A small ledger with three checkpoints.

fn event(stream: &str, n: i64) -> NewEvent {
    NewEvent {
        event_type: "Tested".into(),
        event_version: "1".into(),
        payload: json!({"Tested": {"n": n, "stream": stream, "text": "京A66666 ¥360.00 \"q\"\n"}}),
        metadata: json!({"actor": "system", "role": "system", "correlation_id": stream,
                          "causation_id": "test", "request_id": format!("r-{n}")}),
    }
}

/// Appends `n` events to a stream in one append.
async fn append(store: &Store, aggregate_type: &str, aggregate_id: &str, n: usize) {
    let stream = store.log.load(aggregate_type, aggregate_id).await.unwrap();
    let (seq, prev) = stream
        .last()
        .map_or((0, permit_ledger::store::GENESIS.to_string()), |e| {
            (e.sequence, e.hash.clone().unwrap())
        });
    let events: Vec<NewEvent> = (1..=n as i64)
        .map(|i| event(aggregate_id, seq + i))
        .collect();
    store
        .log
        .append(aggregate_type, aggregate_id, seq, &prev, &events)
        .await
        .unwrap();
}

async fn signer(store: &Store) -> CheckpointSigner {
    signing::load(&store.db, Mode::Sandbox, true)
        .await
        .unwrap()
        .expect("sandbox mode keeps a signing key")
}

/// Waits until every event written is readable in the feed. On PostgreSQL the feed stops below
/// the oldest running transaction of the whole server, which other tests' databases share.
async fn readable(store: &Store) {
    let head = store.log.head().await.unwrap();
    if head == 0 {
        return;
    }
    for _ in 0..1200 {
        if !store.log.read_feed(head - 1, 1).await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the feed did not reach position {head} in 60 s");
}

async fn seal(store: &Store) -> usize {
    readable(store).await;
    let signer = signer(store).await;
    checkpoint::extend_all(store, Some(&signer)).await.unwrap()
}

/// Streams A (5 events), B (4), C (2), D (3), E (2), interleaved, sealed by three checkpoints.
async fn seed(store: &Store) {
    append(store, "permit", "A", 3).await;
    append(store, "permit", "B", 1).await;
    append(store, "lot", "C", 1).await;
    assert_eq!(seal(store).await, 1);
    append(store, "permit", "B", 1).await;
    append(store, "staff", "D", 3).await;
    append(store, "permit", "A", 2).await;
    assert_eq!(seal(store).await, 1);
    append(store, "permit", "B", 1).await;
    append(store, "lot", "C", 1).await;
    append(store, "permit", "B", 1).await;
    append(store, "permit", "E", 2).await;
    assert_eq!(seal(store).await, 1);
}

const SEEDED: u64 = 16;

async fn verify(store: &Store) -> Report {
    readable(store).await;
    let key = signer(store).await.public();
    verify_store(
        store,
        Options {
            keys: vec![key],
            ..Options::default()
        },
    )
    .await
    .unwrap()
}

async fn stream(t: &TestStore, aggregate_type: &str, id: &str) -> Vec<StoredEvent> {
    t.store.log.load(aggregate_type, id).await.unwrap()
}

/// `$n` as a json value on PostgreSQL, text on SQLite.
fn json_param(t: &TestStore, n: usize) -> String {
    match t.store.backend() {
        Backend::Postgres => format!("${n}::json"),
        Backend::Sqlite => format!("${n}"),
    }
}

fn time_param(t: &TestStore, n: usize) -> String {
    match t.store.backend() {
        Backend::Postgres => format!("${n}::timestamptz"),
        Backend::Sqlite => format!("${n}"),
    }
}

async fn exec(t: &TestStore, sql: &str, binds: &[i64]) {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(&t.store.db.write).await.unwrap();
}

fn problems_of(report: &Report, kind: ProblemKind) -> Vec<&permit_ledger::audit::Problem> {
    report.problems.iter().filter(|p| p.kind == kind).collect()
}

fn names(report: &Report, kind: ProblemKind, id: &str, sequence: i64) -> bool {
    report.problems.iter().any(|p| {
        p.kind == kind && p.aggregate_id.as_deref() == Some(id) && p.sequence == Some(sequence)
    })
}

/// Writes an event row with its hash recomputed over `content` and `prev_hash`.
async fn write_forged(t: &TestStore, position: i64, e: &StoredEvent) {
    let sql = format!(
        "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, recorded_at, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, {}, {}, {}, $10, $11)",
        json_param(t, 7),
        json_param(t, 8),
        time_param(t, 9)
    );
    sqlx::query(&sql)
        .bind(position)
        .bind(e.aggregate_type.clone())
        .bind(e.aggregate_id.clone())
        .bind(e.sequence)
        .bind(e.event_type.clone())
        .bind(e.event_version.clone())
        .bind(canonical_json(&e.payload))
        .bind(canonical_json(&e.metadata))
        .bind(canonical_time(e.recorded_at))
        .bind(e.prev_hash.clone().unwrap())
        .bind(e.hash.clone().unwrap())
        .execute(&t.store.db.write)
        .await
        .unwrap();
}

fn rehash(e: &mut StoredEvent) {
    e.hash = Some(event_hash(&Hashed {
        aggregate_type: &e.aggregate_type,
        aggregate_id: &e.aggregate_id,
        sequence: e.sequence,
        event_type: &e.event_type,
        event_version: &e.event_version,
        payload: &e.payload,
        metadata: &e.metadata,
        recorded_at: e.recorded_at,
        prev_hash: e.prev_hash.as_deref().unwrap(),
    }));
}

// ---------------------------------------------------------------------------------------------
// The untouched ledger, and the checkpoint writers.

async fn an_untouched_ledger_verifies_against_signed_checkpoints(t: TestStore) {
    seed(&t.store).await;
    let report = verify(&t.store).await;
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.checked, SEEDED);
    assert_eq!(report.checkpoints, 3);
    assert_eq!(report.signatures.verified, 3);
    assert_eq!(seal(&t.store).await, 0, "nothing new: no checkpoint");

    let latest = checkpoint::latest(&t.store.db).await.unwrap().unwrap();
    assert_eq!(latest.id, 3);
    assert_eq!(latest.event_count, SEEDED as i64);
    assert_eq!(latest.feed_hash, report.feed_hash);
    assert_eq!(latest.position, report.last_position);
    let key = signer(&t.store).await.public();
    assert!(key.verify(
        latest.position,
        latest.event_count,
        &latest.feed_hash,
        latest.signature.as_deref().unwrap()
    ));
    assert_eq!(latest.key_id.as_deref(), Some(key.key_id().as_str()));
}

async fn concurrent_checkpoint_writers_write_each_checkpoint_once(t: TestStore) {
    for i in 0..30 {
        append(&t.store, "permit", &format!("P{}", i % 7), 1 + i % 3).await;
    }
    readable(&t.store).await;
    let signer = signer(&t.store).await;
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let store = t.store.clone();
            let signer = signer.clone();
            tokio::spawn(async move { checkpoint::extend_all(&store, Some(&signer)).await })
        })
        .collect();
    let mut written = 0;
    for w in writers {
        written += w.await.unwrap().unwrap();
    }
    let all = checkpoint::page(&t.store.db, 0, 100).await.unwrap();
    assert_eq!(
        written,
        all.len(),
        "every write that reported success is there"
    );
    assert_eq!(
        all.iter().map(|c| c.id).collect::<Vec<_>>(),
        (1..=all.len() as i64).collect::<Vec<_>>()
    );
    let report = verify(&t.store).await;
    assert!(report.ok, "{report:#?}");
    assert_eq!(all.last().unwrap().event_count, report.checked as i64);
}

// ---------------------------------------------------------------------------------------------
// The five tamperings, done with SQL as someone with access to the database would.

async fn an_updated_payload_is_named_altered(t: TestStore) {
    seed(&t.store).await;
    let b2 = &stream(&t, "permit", "B").await[1];
    let sql = format!(
        "UPDATE events SET payload = {} WHERE position = $2",
        json_param(&t, 1)
    );
    sqlx::query(&sql)
        .bind(r#"{"Tested":{"n":2,"stream":"B","text":"京A88888"}}"#)
        .bind(b2.position)
        .execute(&t.store.db.write)
        .await
        .unwrap();
    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert_eq!(report.problems.len(), 1, "{report:#?}");
    let p = &report.problems[0];
    assert_eq!(p.kind, ProblemKind::Altered);
    assert_eq!(
        (p.aggregate_type.as_deref(), p.aggregate_id.as_deref()),
        (Some("permit"), Some("B"))
    );
    assert_eq!((p.sequence, p.position), (Some(2), Some(b2.position)));
}

async fn a_deleted_row_is_named_missing(t: TestStore) {
    seed(&t.store).await;
    let a2 = &stream(&t, "permit", "A").await[1];
    exec(&t, "DELETE FROM events WHERE position = $1", &[a2.position]).await;
    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert!(names(&report, ProblemKind::Missing, "A", 2), "{report:#?}");
    let span = problems_of(&report, ProblemKind::Missing);
    assert!(
        span.iter().any(|p| p.checkpoint == Some(1)),
        "checkpoint 1 sealed it: {report:#?}"
    );
    assert!(
        problems_of(&report, ProblemKind::ChainBroken).is_empty(),
        "the gap explains the chain: {report:#?}"
    );
    assert_eq!(report.checked, SEEDED - 1);
}

async fn a_deleted_stream_is_named_missing(t: TestStore) {
    seed(&t.store).await;
    exec(
        &t,
        "DELETE FROM events WHERE aggregate_type = 'staff' AND aggregate_id = 'D'",
        &[],
    )
    .await;
    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert_eq!(report.problems.len(), 1, "{report:#?}");
    let p = &report.problems[0];
    assert_eq!(p.kind, ProblemKind::Missing);
    assert_eq!(p.checkpoint, Some(2), "checkpoint 2 sealed stream D");
    assert!(p.detail.starts_with("3 event(s)"), "{}", p.detail);
}

async fn a_cut_tail_is_named_missing(t: TestStore) {
    seed(&t.store).await;
    let e1 = &stream(&t, "permit", "E").await[0];
    exec(
        &t,
        "DELETE FROM events WHERE position >= $1",
        &[e1.position],
    )
    .await;
    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert_eq!(report.kinds(), [ProblemKind::Missing], "{report:#?}");
    assert_eq!(report.problems[0].checkpoint, Some(3));
}

async fn a_forged_row_with_a_recomputed_chain_is_named_inserted(t: TestStore) {
    seed(&t.store).await;
    // A's last event is the last one checkpoint 2 sealed; the forged A6 goes right after it,
    // before later events that checkpoint 3 sealed, chained and hashed correctly.
    let a5 = stream(&t, "permit", "A").await.pop().unwrap();
    let mut forged = a5.clone();
    forged.sequence = 6;
    forged.payload = json!({"Tested": {"n": 6, "stream": "A", "text": "refund approved"}});
    forged.prev_hash = a5.hash.clone();
    rehash(&mut forged);
    let position = match t.store.backend() {
        // Positions are sparse: a free one between A5 and the next append.
        Backend::Postgres => a5.position + 1000,
        // Positions are dense: move every later row up by one to make room.
        Backend::Sqlite => {
            exec(
                &t,
                "UPDATE events SET position = -position WHERE position > $1",
                &[a5.position],
            )
            .await;
            exec(
                &t,
                "UPDATE events SET position = 1 - position WHERE position < 0",
                &[],
            )
            .await;
            a5.position + 1
        }
    };
    forged.position = position;
    write_forged(&t, position, &forged).await;
    assert_eq!(stream(&t, "permit", "A").await.len(), 6);

    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert_eq!(report.problems.len(), 1, "{report:#?}");
    let p = &report.problems[0];
    assert_eq!(p.kind, ProblemKind::Inserted);
    assert_eq!(
        (p.aggregate_id.as_deref(), p.sequence, p.position),
        (Some("A"), Some(6), Some(position))
    );
}

async fn swapped_positions_are_named_reordered(t: TestStore) {
    seed(&t.store).await;
    let a = stream(&t, "permit", "A").await;
    let (p1, p2) = (a[0].position, a[1].position);
    exec(
        &t,
        "UPDATE events SET position = -1 WHERE position = $1",
        &[p1],
    )
    .await;
    exec(
        &t,
        "UPDATE events SET position = $1 WHERE position = $2",
        &[p1, p2],
    )
    .await;
    exec(
        &t,
        "UPDATE events SET position = $1 WHERE position = -1",
        &[p2],
    )
    .await;
    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert_eq!(report.problems.len(), 1, "{report:#?}");
    let p = &report.problems[0];
    assert_eq!(p.kind, ProblemKind::Reordered);
    assert_eq!(
        (p.aggregate_id.as_deref(), p.sequence, p.position),
        (Some("A"), Some(2), Some(p1))
    );
}

async fn a_rewrite_with_recomputed_hashes_is_caught_by_the_checkpoints(t: TestStore) {
    seed(&t.store).await;
    // Change B2 and re-chain B3 and B4: every event and stream looks right on its own.
    let mut b = stream(&t, "permit", "B").await;
    b[1].payload = json!({"Tested": {"n": 2, "stream": "B", "text": "rewritten"}});
    for i in 1..b.len() {
        b[i].prev_hash = b[i - 1].hash.clone();
        rehash(&mut b[i]);
    }
    for e in &b[1..] {
        exec(&t, "DELETE FROM events WHERE position = $1", &[e.position]).await;
        write_forged(&t, e.position, e).await;
    }
    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.kind == ProblemKind::Altered && p.aggregate_id.is_none()),
        "{report:#?}"
    );
    let spans: Vec<i64> = report
        .problems
        .iter()
        .filter_map(|p| p.checkpoint)
        .collect();
    assert_eq!(
        spans,
        [2, 3],
        "B2 was sealed by checkpoint 2, B3 and B4 by 3"
    );
}

async fn a_forged_checkpoint_signature_is_named_altered(t: TestStore) {
    seed(&t.store).await;
    // Someone shortens the history and rewrites checkpoint 3 to match, without the key.
    let cp = checkpoint::latest(&t.store.db).await.unwrap().unwrap();
    exec(
        &t,
        "UPDATE ledger_checkpoints SET event_count = event_count + 1 WHERE id = $1",
        &[cp.id],
    )
    .await;
    let report = verify(&t.store).await;
    assert!(!report.ok);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Altered
                && p.checkpoint == Some(3)
                && p.detail.contains("signature")),
        "{report:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Export, offline verification, the command line, import.

fn permit_ledger(env: &[(&str, String)], args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_permit-ledger"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("PERMIT_LEDGER_SIGNING_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run permit-ledger")
}

fn report_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

async fn export_to(store: &Store, filter: &ExportFilter, path: &Path) {
    let key = signer(store).await.public();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    export(store, filter, Some(&key), &mut out).await.unwrap();
}

async fn an_export_verifies_offline_with_its_signatures_and_kept_checkpoints(t: TestStore) {
    seed(&t.store).await;
    let dir = TempDir::new();
    let file = dir.0.join("ledger.jsonl");
    export_to(&t.store, &ExportFilter::default(), &file).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        1 + SEEDED as usize + 3 + 1,
        "header, events, checkpoints, end"
    );
    assert!(
        lines[1]["checkpoint"]["id"] == 1,
        "checkpoint 1 before its events"
    );
    assert!(text.contains("京A66666"), "UTF-8 kept as is");
    let positions: Vec<i64> = lines
        .iter()
        .filter_map(|l| l["position"].as_i64())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "feed order");

    let key = signer(&t.store).await.public();
    let (report, facts) = verify_file(
        &file,
        Options {
            require_key: Some(key.clone()),
            ..Options::default()
        },
    )
    .unwrap();
    assert!(report.ok, "{report:#?}");
    assert_eq!((report.checked, report.checkpoints), (SEEDED, 3));
    assert_eq!(report.signatures.verified, 3);
    assert!(facts.full);

    // The command line, with a checkpoint an auditor kept from earlier.
    let kept = checkpoint::page(&t.store.db, 1, 1).await.unwrap().remove(0);
    let kept_file = dir.0.join("kept.json");
    std::fs::write(&kept_file, json!({"checkpoint": kept}).to_string()).unwrap();
    let f = file.display().to_string();
    let k = kept_file.display().to_string();
    let out = permit_ledger(
        &[],
        &[
            "audit",
            "verify",
            "--file",
            &f,
            "--public-key",
            &key.to_hex(),
            "--checkpoint",
            &k,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report_of(&out);
    assert_eq!(r["ok"], true);
    assert_eq!(r["consistency"][0]["consistent"], true);
    assert_eq!(r["consistency"][0]["signature"], "verified");

    // Another key signed none of them.
    let stranger = CheckpointSigner::generate().public().to_hex();
    let out = permit_ledger(
        &[],
        &["audit", "verify", "--file", &f, "--public-key", &stranger],
    );
    assert_eq!(out.status.code(), Some(1));

    // A kept checkpoint this history does not extend.
    let mut other = kept.clone();
    other.feed_hash = "0".repeat(63) + "1";
    std::fs::write(&kept_file, serde_json::to_string(&other).unwrap()).unwrap();
    let out = permit_ledger(&[], &["audit", "verify", "--file", &f, "--checkpoint", &k]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report_of(&out)["consistency"][0]["consistent"], false);

    // One character changed in the file.
    let tampered = dir.0.join("tampered.jsonl");
    std::fs::write(&tampered, text.replacen("京A66666", "京A66668", 1)).unwrap();
    let out = permit_ledger(
        &[],
        &["audit", "verify", "--file", &tampered.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report_of(&out);
    assert_eq!(r["problems"][0]["kind"], "altered", "{r}");

    // A file cut short.
    let cut = dir.0.join("cut.jsonl");
    let keep: Vec<&str> = text.lines().take(lines.len() - 4).collect();
    std::fs::write(&cut, keep.join("\n")).unwrap();
    let out = permit_ledger(
        &[],
        &["audit", "verify", "--file", &cut.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));

    // A bad file is an error, not a verdict.
    let out = permit_ledger(&[], &["audit", "verify", "--file", "/nonexistent/x.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
}

async fn the_audit_commands_export_verify_and_refuse_a_second_import(t: TestStore) {
    seed(&t.store).await;
    let env = t.env();
    let out = permit_ledger(&env, &["audit", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report_of(&out);
    assert_eq!(
        (r["ok"].clone(), r["checked"].clone()),
        (json!(true), json!(SEEDED))
    );
    assert_eq!(r["signatures"]["verified"], 3, "the service's own key: {r}");

    let dir = TempDir::new();
    let file = dir.0.join("all.jsonl").display().to_string();
    let out = permit_ledger(&env, &["audit", "export", "--out", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = permit_ledger(&[], &["audit", "verify", "--file", &file]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // One permit as of a moment: its events only, no checkpoints, still verifiable.
    let a = stream(&t, "permit", "A").await;
    let as_of = canonical_time(a[2].recorded_at);
    let one = dir.0.join("a.jsonl").display().to_string();
    let out = permit_ledger(
        &env,
        &[
            "audit", "export", "--permit", "A", "--to", &as_of, "--out", &one,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&one).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("position").is_some())
        .collect();
    assert_eq!(events.len(), 3, "A1–A3 were recorded by then");
    assert!(events.iter().all(|e| e["aggregate_id"] == "A"));
    assert!(!text.contains("\"checkpoint\""));
    let out = permit_ledger(&[], &["audit", "verify", "--file", &one]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Import wants an empty store.
    let out = permit_ledger(&env, &["audit", "import", "--file", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
    let err = import(&t.store, Path::new(&file)).await.unwrap_err();
    assert!(matches!(err, AuditError::Refused(_)), "{err}");

    // Tampered store: exit 1 with the report.
    exec(
        &t,
        "DELETE FROM events WHERE position = $1",
        &[a[0].position],
    )
    .await;
    let out = permit_ledger(&env, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report_of(&out)["ok"], false);
}

async fn a_tampered_export_is_not_imported(t: TestStore) {
    let source = TestStore::new(Backend::Sqlite).await;
    seed(&source.store).await;
    let dir = TempDir::new();
    let file = dir.0.join("ledger.jsonl");
    export_to(&source.store, &ExportFilter::default(), &file).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let tampered = dir.0.join("tampered.jsonl");
    std::fs::write(&tampered, text.replacen("\"n\":2", "\"n\":20", 1)).unwrap();
    let err = import(&t.store, &tampered).await.unwrap_err();
    assert!(matches!(err, AuditError::Refused(_)), "{err}");
    assert_eq!(t.store.log.head().await.unwrap(), 0, "nothing imported");
    // The good file goes in whole.
    let summary = import(&t.store, &file).await.unwrap();
    assert_eq!((summary.events, summary.checkpoints), (SEEDED, 3));
    let report = verify(&t.store).await;
    assert!(report.ok, "{report:#?}");
    assert_eq!(
        report.signatures.unknown_key, 3,
        "signed by the source's key"
    );
    // New appends come after every imported position, and the target's worker goes on.
    append(&t.store, "permit", "after-import", 1).await;
    let after = stream(&t, "permit", "after-import").await;
    assert!(after[0].position > summary.last_position);
    assert_eq!(seal(&t.store).await, 1);
    let report = verify(&t.store).await;
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.checked, SEEDED + 1);
}

crate::on_both_stores!(
    an_untouched_ledger_verifies_against_signed_checkpoints,
    concurrent_checkpoint_writers_write_each_checkpoint_once,
    an_updated_payload_is_named_altered,
    a_deleted_row_is_named_missing,
    a_deleted_stream_is_named_missing,
    a_cut_tail_is_named_missing,
    a_forged_row_with_a_recomputed_chain_is_named_inserted,
    swapped_positions_are_named_reordered,
    a_rewrite_with_recomputed_hashes_is_caught_by_the_checkpoints,
    a_forged_checkpoint_signature_is_named_altered,
    an_export_verifies_offline_with_its_signatures_and_kept_checkpoints,
    the_audit_commands_export_verify_and_refuse_a_second_import,
    a_tampered_export_is_not_imported,
);

// ---------------------------------------------------------------------------------------------
// Moving an embedded ledger to PostgreSQL.

/// Events in the move test: `PERMIT_LEDGER_AUDIT_EVENTS`, 100,000 by default.
fn move_size() -> usize {
    std::env::var("PERMIT_LEDGER_AUDIT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Compares two stores' feeds batch by batch.
async fn assert_same_feed(a: &Store, b: &Store) -> u64 {
    readable(a).await;
    readable(b).await;
    let (mut after, mut n) = (0, 0u64);
    loop {
        let x = a.log.read_feed(after, 5000).await.unwrap();
        let y = b.log.read_feed(after, 5000).await.unwrap();
        assert_eq!(x.len(), y.len(), "after position {after}");
        let Some(last) = x.last() else {
            return n;
        };
        for (x, y) in x.iter().zip(&y) {
            assert_eq!(x, y, "the same event, position, time and hashes");
        }
        n += x.len() as u64;
        after = last.position;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_embedded_ledger_moves_to_postgres_with_positions_and_hashes_intact() {
    let started = std::time::Instant::now();
    let n = move_size();
    let source = TestStore::new(Backend::Sqlite).await;
    // The bulk path: the store's own append (hashes and chain computed as always), 100 events
    // an append (the embedded store's multi-row insert slows down more than linearly with its
    // size), small payloads.
    let per = 100.min(n);
    let mut written = 0;
    let mut s = 0;
    while written < n {
        let k = per.min(n - written);
        let id = format!("bulk-{s}");
        let events: Vec<NewEvent> = (1..=k as i64)
            .map(|i| NewEvent {
                event_type: "Tested".into(),
                event_version: "1".into(),
                payload: json!({"Tested": {"n": i, "text": "京A66666"}}),
                metadata: json!({"actor": "system", "role": "system", "correlation_id": "c",
                                  "causation_id": "bulk", "request_id": "r"}),
            })
            .collect();
        source
            .store
            .log
            .append("permit", &id, 0, permit_ledger::store::GENESIS, &events)
            .await
            .unwrap();
        written += k;
        s += 1;
    }
    eprintln!("{n} events appended in {:?}", started.elapsed());
    assert_eq!(
        seal(&source.store).await,
        n.div_ceil(checkpoint::MAX_EVENTS_PER_CHECKPOINT as usize)
    );
    let key = signer(&source.store).await.public();
    eprintln!("{n} events appended and sealed in {:?}", started.elapsed());

    let dir = TempDir::new();
    let file = dir.0.join("ledger.jsonl");
    export_to(&source.store, &ExportFilter::default(), &file).await;
    eprintln!("exported in {:?}", started.elapsed());

    let target_db = TestDb::fresh().await;
    let target = open(&StoreConfig {
        database_url: Some(target_db.url.clone()),
        data_dir: dir.0.clone(),
        pool_size: 4,
    })
    .await
    .unwrap();
    let summary = import(&target, &file).await.unwrap();
    assert_eq!(summary.events, n as u64);
    eprintln!("imported in {:?}", started.elapsed());

    let report = verify_store(
        &target,
        Options {
            require_key: Some(key.clone()),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.checked, n as u64);
    assert_eq!(report.signatures.verified, summary.checkpoints);
    assert_eq!(assert_same_feed(&source.store, &target).await, n as u64);
    eprintln!("verified and compared in {:?}", started.elapsed());

    // The moved ledger goes on: a new append lands after every imported position and the
    // target's own (new) key seals it.
    append(&target, "permit", "after-move", 2).await;
    let fresh = target.log.load("permit", "after-move").await.unwrap();
    assert!(fresh[0].position > report.last_position);
    assert_eq!(seal(&target).await, 1);
    let report = verify(&target).await;
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.checked, n as u64 + 2);
    eprintln!("done in {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Over HTTP: auditors verify and read checkpoints; every command refuses them.

struct App {
    base: String,
    http: reqwest::Client,
    services: std::sync::Arc<Services>,
    t: TestStore,
    _dir: TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn spawn(backend: Backend) -> App {
    let t = TestStore::new(backend).await;
    let dir = TempDir::new();
    let services = Services::build(t.store.clone(), Settings::default(), &dir.0, None)
        .await
        .unwrap();
    let app = Application::build(services.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    App {
        base,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        services,
        t,
        _dir: dir,
        _stop: stop,
    }
}

impl App {
    async fn token(&self, roles: &[Role]) -> String {
        permit_ledger::app::staff::add_staff(
            &self.services.ledger,
            &self.services.store.db,
            "审计员".into(),
            roles.to_vec(),
            &crate::helpers::admin_meta(),
        )
        .await
        .unwrap()
        .1
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn auditors_verify_and_read_checkpoints_but_every_command_refuses_them(backend: Backend) {
    let app = spawn(backend).await;
    let auditor = app.token(&[Role::Auditor]).await;
    let admin = app.token(&[Role::Admin, Role::Reviewer]).await;
    use reqwest::Method;

    // The worker seals the staff events within a few seconds (30 s on a loaded machine).
    let mut latest = (0, Value::Null);
    for _ in 0..300 {
        latest = app
            .call(
                Method::GET,
                "/api/v1/audit/checkpoints/latest",
                &auditor,
                None,
            )
            .await;
        if latest.0 == 200 && latest.1["checkpoint"]["event_count"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = latest;
    assert_eq!(status, 200, "{body}");
    let cp: Checkpoint = serde_json::from_value(body["checkpoint"].clone()).unwrap();
    assert_eq!(cp.event_count, 2, "{body}");
    let key = CheckpointKey::from_hex(body["public_key"].as_str().unwrap()).unwrap();
    assert!(key.verify(
        cp.position,
        cp.event_count,
        &cp.feed_hash,
        cp.signature.as_deref().unwrap()
    ));
    assert_eq!(
        body["signed_message"],
        format!(
            "permit-ledger/checkpoint/v1\n{}\n{}\n{}",
            cp.position, cp.event_count, cp.feed_hash
        )
    );

    let (status, report) = app
        .call(Method::POST, "/api/v1/audit/verify", &auditor, None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        report["signatures"]["verified"].as_u64().unwrap() >= 1,
        "{report}"
    );

    // Only auditors.
    let (status, _) = app
        .call(Method::POST, "/api/v1/audit/verify", &admin, None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/audit/checkpoints/latest",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 403);

    // Auditors only read: every command refuses them.
    let id = uuid::Uuid::new_v4();
    let commands: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/api/v1/admin/lots".into(), json!({})),
        (Method::POST, "/api/v1/admin/permits".into(), json!({})),
        (
            Method::POST,
            format!("/api/v1/admin/permits/{id}/holder"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/permits/{id}/vehicle"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/review/renewals/{id}/approve"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/review/renewals/{id}/reject"),
            json!({"reason": "x"}),
        ),
        (Method::POST, "/api/v1/vehicles".into(), json!({})),
        (
            Method::POST,
            format!("/api/v1/renewals/{id}/refund"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/renewals/{id}/cancel"),
            json!({}),
        ),
        (Method::DELETE, "/api/v1/sessions/current".into(), json!({})),
    ];
    for (method, path, body) in commands {
        let (status, answer) = app.call(method.clone(), &path, &auditor, Some(body)).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    // Reading the review queue is the reviewers' too.
    let (status, _) = app
        .call(Method::GET, "/api/v1/review/queue", &auditor, None)
        .await;
    assert_eq!(status, 403);

    // Tampering shows in the auditors' verification.
    readable(&app.t.store).await;
    let staff = app.t.store.log.read_feed(0, 1).await.unwrap().remove(0);
    exec(
        &app.t,
        "DELETE FROM events WHERE position = $1",
        &[staff.position],
    )
    .await;
    let (status, report) = app
        .call(Method::POST, "/api/v1/audit/verify", &auditor, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["problems"][0]["kind"], "missing", "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auditors_read_and_verify_but_never_command_postgres() {
    auditors_verify_and_read_checkpoints_but_every_command_refuses_them(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auditors_read_and_verify_but_never_command_embedded() {
    auditors_verify_and_read_checkpoints_but_every_command_refuses_them(Backend::Sqlite).await;
}

/// A ledger moved from the embedded store to PostgreSQL does not send its history's SMS notices
/// and refunds again: the rebuilt projections record that work as skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_moved_ledger_does_not_resend_its_notices_or_refunds() {
    use aggregates::permit::{Permit, PermitCommand};
    let source = TestStore::new(Backend::Sqlite).await;
    let (_, permit_id) = crate::fixtures::manual_card(&source.ledger, &source.store.db).await;
    let renewal_id = crate::fixtures::submitted(&source.ledger, permit_id).await;
    let id = permit_id.to_string();
    let ledger = &source.ledger;
    ledger
        .execute::<Permit>(
            &id,
            crate::fixtures::pay(renewal_id, "wx"),
            &crate::helpers::provider_meta(),
        )
        .await
        .unwrap();
    ledger
        .execute::<Permit>(
            &id,
            PermitCommand::Reject {
                renewal_id,
                reviewer_id: uuid::Uuid::from_u128(2),
                reason: "照片不清晰".into(),
                now: crate::fixtures::at("2022-05-21T01:00:00Z"),
            },
            &crate::helpers::reviewer_meta(),
        )
        .await
        .unwrap();
    ledger
        .execute::<Permit>(
            &id,
            PermitCommand::RequestRefund {
                renewal_id,
                owner: crate::fixtures::holder_phone(),
                out_refund_no: "R1".into(),
                now: crate::fixtures::at("2022-05-21T02:00:00Z"),
            },
            &crate::helpers::owner_meta(),
        )
        .await
        .unwrap();
    let dir = crate::helpers::TempDir::new();
    let file = dir.0.join("ledger.jsonl");
    let mut out = std::fs::File::create(&file).unwrap();
    export(&source.store, &ExportFilter::default(), None, &mut out)
        .await
        .unwrap();
    drop(out);

    let target = TestStore::new(Backend::Postgres).await;
    import(&target.store, &file).await.unwrap();
    let read = permit_ledger::read_side::ReadSide::new(target.store.clone(), projections::all());
    read.prepare().await.unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    read.spawn(stopped);
    let head = target.store.log.head().await.unwrap();
    for name in ["sms_notices", "payment_dispatch"] {
        read.wait_for(name, head, std::time::Duration::from_secs(10))
            .await
            .unwrap();
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, status FROM outbox ORDER BY kind")
            .fetch_all(&target.store.db.read)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("refund".to_string(), "skipped".to_string()),
            ("sms".to_string(), "skipped".to_string())
        ],
        "the moved history's work is not done again (the dispatcher takes only pending rows)"
    );
}
