//! Exports as JSON Lines, their offline verification, and import into an empty store.
//!
//! An export is, one JSON object a line:
//!
//! 1. `{"export": {"format": "permit-ledger/export/v1", "full": …, …}}`
//! 2. the events in feed order, each shaped as the audit API shows it (`event_line`), and, in a
//!    full export, the checkpoints as `{"checkpoint": {…}}`. Checkpoint `k + 1` comes right
//!    before the first event after checkpoint `k`'s position (checkpoint 1 before the first
//!    event), so a reader always knows the checkpoint a span must match before reading it.
//! 3. `{"end": {"events": n, "checkpoints": m, "last_position": p, "feed_hash": h}}`, so a cut
//!    file is noticed.
//!
//! Both writing and reading stream: one batch of the feed, or one line, at a time.

use super::checkpoint::{self, checkpoint_json, Checkpoint};
use super::feed::{feed_step, FEED_START};
use super::signing::{CheckpointKey, ALGORITHM};
use super::verify::{Options, Report, Verifier, BATCH};
use super::AuditError;
use crate::store::{canonical_json, canonical_time, EventLog, Store, StoredEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::Path;

/// The export format's name.
pub const FORMAT: &str = "permit-ledger/export/v1";

/// An event as exported: the audit API's shape (`GET /api/v1/audit/events`), with its hashes.
/// The metadata is the stored object itself, so the hash can be recomputed from the line.
pub fn event_line(e: &StoredEvent) -> Value {
    json!({
        "position": e.position,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "sequence": e.sequence,
        "event_type": e.event_type,
        "event_version": e.event_version,
        "payload": e.payload,
        "metadata": e.metadata,
        "recorded_at": canonical_time(e.recorded_at),
        "hash": e.hash,
        "prev_hash": e.prev_hash,
    })
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Only this permit's events.
    pub permit: Option<String>,
    /// Only events recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only events recorded at or before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl ExportFilter {
    /// No filter: the whole ledger, with its checkpoints.
    pub fn is_full(&self) -> bool {
        self.permit.is_none() && self.from.is_none() && self.to.is_none()
    }

    fn keeps(&self, e: &StoredEvent) -> bool {
        self.from.is_none_or(|from| e.recorded_at >= from)
            && self.to.is_none_or(|to| e.recorded_at <= to)
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// Events written.
    pub events: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// The last event's position (0 if none).
    pub last_position: i64,
    /// The feed hash over the events written.
    pub feed_hash: String,
}

fn emit(out: &mut impl Write, e: &StoredEvent, s: &mut ExportSummary) -> Result<(), AuditError> {
    s.events += 1;
    s.last_position = e.position;
    s.feed_hash = feed_step(&s.feed_hash, e.hash.as_deref().unwrap_or_default());
    write_line(out, &event_line(e))
}

fn write_line(out: &mut impl Write, v: &Value) -> Result<(), AuditError> {
    serde_json::to_writer(&mut *out, v).map_err(|e| AuditError::Io(e.to_string()))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Loads checkpoints lazily, in id order, up to `last_id`.
struct CheckpointCursor {
    after: i64,
    last_id: i64,
    page: std::collections::VecDeque<Checkpoint>,
}

impl CheckpointCursor {
    async fn next(&mut self, store: &Store) -> Result<Option<Checkpoint>, AuditError> {
        if self.page.is_empty() && self.after < self.last_id {
            let page = checkpoint::page(&store.db, self.after, 500).await?;
            if page.is_empty() {
                self.after = self.last_id;
            }
            for cp in page {
                self.after = cp.id;
                if cp.id <= self.last_id {
                    self.page.push_back(cp);
                }
            }
        }
        Ok(self.page.pop_front())
    }
}

/// Writes an export of `store` to `out`, streaming. A full export (no filter) carries the
/// checkpoints written before it began; a filtered one carries none.
pub async fn export(
    store: &Store,
    filter: &ExportFilter,
    public: Option<&CheckpointKey>,
    out: &mut impl Write,
) -> Result<ExportSummary, AuditError> {
    let full = filter.is_full();
    write_line(
        out,
        &json!({"export": {
            "format": FORMAT,
            "exported_at": canonical_time(Utc::now()),
            "full": full,
            "permit": filter.permit,
            "from": filter.from.map(canonical_time),
            "to": filter.to.map(canonical_time),
            "backend": store.backend().as_str(),
            "signing": public.map(|k| json!({
                "algorithm": ALGORITHM, "public_key": k.to_hex(), "key_id": k.key_id(),
            })),
        }}),
    )?;
    let mut summary = ExportSummary {
        feed_hash: FEED_START.to_string(),
        ..ExportSummary::default()
    };
    if let Some(permit) = &filter.permit {
        let mut events = store
            .log
            .load(
                <aggregates::permit::Permit as cqrs_es::Aggregate>::TYPE,
                permit,
            )
            .await?;
        events.sort_by_key(|e| e.position);
        for e in events.iter().filter(|e| filter.keeps(e)) {
            emit(out, e, &mut summary)?;
        }
    } else {
        let last_id = if full {
            checkpoint::latest(&store.db).await?.map_or(0, |c| c.id)
        } else {
            0
        };
        let mut cursor = CheckpointCursor {
            after: 0,
            last_id,
            page: Default::default(),
        };
        let mut next = cursor.next(store).await?;
        let mut sealed_upto = 0;
        let mut after = 0;
        loop {
            let batch = store.log.read_feed(after, BATCH).await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = last.position;
            for e in batch.iter().filter(|e| filter.keeps(e)) {
                while let Some(cp) = next.take() {
                    if e.position > sealed_upto {
                        sealed_upto = cp.position;
                        summary.checkpoints += 1;
                        write_line(out, &json!({"checkpoint": checkpoint_json(&cp)}))?;
                        next = cursor.next(store).await?;
                    } else {
                        next = Some(cp);
                        break;
                    }
                }
                emit(out, e, &mut summary)?;
            }
        }
        while let Some(cp) = next.take() {
            summary.checkpoints += 1;
            write_line(out, &json!({"checkpoint": checkpoint_json(&cp)}))?;
            next = cursor.next(store).await?;
        }
    }
    write_line(
        out,
        &json!({"end": {
            "events": summary.events,
            "checkpoints": summary.checkpoints,
            "last_position": summary.last_position,
            "feed_hash": summary.feed_hash,
        }}),
    )?;
    out.flush()?;
    Ok(summary)
}

/// One line of an export.
#[derive(Debug)]
pub enum Line {
    /// The first line.
    Header(Value),
    /// An event.
    Event(Box<StoredEvent>),
    /// A checkpoint.
    Checkpoint(Checkpoint),
    /// The last line.
    End(ExportSummary),
}

#[derive(Deserialize)]
struct EventFields {
    position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    recorded_at: String,
    hash: Option<String>,
    prev_hash: Option<String>,
}

/// Reads one line of an export.
pub fn parse_line(text: &str, line: u64) -> Result<Line, AuditError> {
    let bad = |message: String| AuditError::BadLine { line, message };
    let mut v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(bad("not a JSON object".into()));
    };
    if let Some(h) = obj.remove("export") {
        return Ok(Line::Header(h));
    }
    if let Some(c) = obj.remove("checkpoint") {
        return serde_json::from_value(c)
            .map(Line::Checkpoint)
            .map_err(|e| bad(format!("checkpoint: {e}")));
    }
    if let Some(end) = obj.remove("end") {
        return serde_json::from_value(end)
            .map(Line::End)
            .map_err(|e| bad(format!("end: {e}")));
    }
    let f: EventFields = serde_json::from_value(v).map_err(|e| bad(format!("event: {e}")))?;
    let recorded_at = DateTime::parse_from_rfc3339(&f.recorded_at)
        .map_err(|e| bad(format!("recorded_at: {e}")))?
        .with_timezone(&Utc);
    Ok(Line::Event(Box::new(StoredEvent {
        position: f.position,
        aggregate_type: f.aggregate_type,
        aggregate_id: f.aggregate_id,
        sequence: f.sequence,
        event_type: f.event_type,
        event_version: f.event_version,
        payload: f.payload,
        metadata: f.metadata,
        recorded_at,
        hash: f.hash,
        prev_hash: f.prev_hash,
    })))
}

/// Reads an export line by line, calling `each` for every parsed line after the header.
/// Returns the header.
fn read_export(
    path: &Path,
    mut each: impl FnMut(Line, u64) -> Result<(), AuditError>,
) -> Result<Value, AuditError> {
    let file = std::fs::File::open(path)
        .map_err(|e| AuditError::Io(format!("cannot open {}: {e}", path.display())))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut header = None;
    let mut ended = false;
    for (i, text) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        let line = parse_line(&text, n)?;
        match (&header, line) {
            (None, Line::Header(h)) => {
                if h["format"] != FORMAT {
                    return Err(AuditError::BadLine {
                        line: n,
                        message: format!("not a {FORMAT} export"),
                    });
                }
                header = Some(h);
            }
            (None, _) => {
                return Err(AuditError::BadLine {
                    line: n,
                    message: "the first line must be the export header".into(),
                })
            }
            (Some(_), Line::Header(_)) => {
                return Err(AuditError::BadLine {
                    line: n,
                    message: "a second export header".into(),
                })
            }
            (Some(_), _) if ended => {
                return Err(AuditError::BadLine {
                    line: n,
                    message: "a line after the end line".into(),
                })
            }
            (Some(_), line) => {
                ended = matches!(line, Line::End(_));
                each(line, n)?;
            }
        }
    }
    header.ok_or_else(|| AuditError::Io(format!("{} is empty", path.display())))
}

/// What offline verification saw besides the report.
#[derive(Debug, Clone)]
pub struct FileFacts {
    /// The header.
    pub header: Value,
    /// Whether it is a full export.
    pub full: bool,
    /// The largest position in it.
    pub max_position: i64,
    /// Events in it.
    pub events: u64,
    /// Checkpoints in it.
    pub checkpoints: u64,
}

/// Verifies an export with no database: every event's hash and chain, and, for a full export,
/// the feed hash against its checkpoints (and their signatures against `opts.keys`).
pub fn verify_file(path: &Path, mut opts: Options) -> Result<(Report, FileFacts), AuditError> {
    // The header decides whether the export is partial; read it first.
    let first = {
        let file = std::fs::File::open(path)
            .map_err(|e| AuditError::Io(format!("cannot open {}: {e}", path.display())))?;
        let mut first = String::new();
        std::io::BufReader::new(file).read_line(&mut first)?;
        first
    };
    let full = match parse_line(&first, 1)? {
        Line::Header(h) => h["full"].as_bool().unwrap_or(false),
        _ => {
            return Err(AuditError::BadLine {
                line: 1,
                message: "the first line must be the export header".into(),
            })
        }
    };
    opts.partial = !full;
    let mut v = Verifier::new(opts);
    let mut facts = FileFacts {
        header: Value::Null,
        full,
        max_position: 0,
        events: 0,
        checkpoints: 0,
    };
    let mut end: Option<ExportSummary> = None;
    let mut feed_hash = FEED_START.to_string();
    let mut last_position = 0;
    facts.header = read_export(path, |line, n| {
        match line {
            Line::Event(e) => {
                facts.events += 1;
                facts.max_position = facts.max_position.max(e.position);
                last_position = e.position;
                feed_hash = feed_step(&feed_hash, e.hash.as_deref().unwrap_or_default());
                v.push(&e);
            }
            Line::Checkpoint(cp) => {
                if !full {
                    return Err(AuditError::BadLine {
                        line: n,
                        message: "a filtered export carries no checkpoints".into(),
                    });
                }
                facts.checkpoints += 1;
                v.add_checkpoint(cp);
            }
            Line::End(s) => end = Some(s),
            Line::Header(_) => unreachable!("read_export passes no header"),
        }
        Ok(())
    })?;
    let mut report = v.finish();
    let truncated = match &end {
        None => Some("the export has no end line: it was cut short".to_string()),
        Some(s)
            if s.events != facts.events
                || s.checkpoints != facts.checkpoints
                || s.last_position != last_position
                || s.feed_hash != feed_hash =>
        {
            Some(format!(
                "the end line announces {} events and {} checkpoints up to position {}, the \
                 export holds {} and {} up to position {}",
                s.events,
                s.checkpoints,
                s.last_position,
                facts.events,
                facts.checkpoints,
                last_position
            ))
        }
        Some(_) => None,
    };
    if let Some(detail) = truncated {
        report.ok = false;
        report.problems.push(super::verify::Problem {
            kind: super::verify::ProblemKind::Missing,
            aggregate_type: None,
            aggregate_id: None,
            sequence: None,
            position: None,
            checkpoint: None,
            detail,
        });
    }
    Ok((report, facts))
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Events written.
    pub events: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// The last position.
    pub last_position: i64,
}

/// Imports a full export into an empty store, keeping positions, append times and hashes
/// exactly. The file is verified first (and refused if anything is wrong); then it is written
/// in one transaction on SQLite, and in short transactions of 5,000 events on PostgreSQL (each
/// checking that nothing else wrote in between; a failed import leaves a partly filled database
/// to drop and recreate).
pub async fn import(store: &Store, path: &Path) -> Result<ImportSummary, AuditError> {
    if store.log.head().await? != 0 || checkpoint::count(&store.db).await? != 0 {
        return Err(AuditError::Refused(
            "the store already holds events or checkpoints: import only into an empty store".into(),
        ));
    }
    let (report, facts) = verify_file(path, Options::default())?;
    if !facts.full {
        return Err(AuditError::Refused(
            "a filtered export cannot be imported: export the whole ledger".into(),
        ));
    }
    if !report.ok {
        let first: Vec<String> = report
            .problems
            .iter()
            .take(5)
            .map(|p| format!("{} at {:?}: {}", p.kind.as_str(), p.position, p.detail))
            .collect();
        return Err(AuditError::Refused(format!(
            "the export does not verify ({} problems), nothing imported: {}",
            report.problems.len(),
            first.join("; ")
        )));
    }
    let summary = match &store.log {
        EventLog::Postgres(pg) => import_postgres(pg.pool(), path, facts.max_position).await?,
        EventLog::Sqlite(_) => import_sqlite(&store.db.write, path).await?,
    };
    // The imported history's SMS notices and refunds were carried out where it came from: the
    // projections that rebuild here must not enqueue them again.
    projections::outbox::set_horizon(&store.db.write, facts.max_position).await?;
    Ok(summary)
}

/// Reads the export again, handing out batches of events and the checkpoints.
struct Batches {
    events: Vec<StoredEvent>,
    checkpoints: Vec<Checkpoint>,
}

fn read_batches(
    path: &Path,
    size: usize,
    tx: tokio::sync::mpsc::Sender<Result<Batches, AuditError>>,
) {
    let mut events = Vec::with_capacity(size);
    let mut checkpoints = Vec::new();
    let result = read_export(path, |line, _| {
        match line {
            Line::Event(e) => events.push(*e),
            Line::Checkpoint(c) => checkpoints.push(c),
            Line::End(_) | Line::Header(_) => {}
        }
        if events.len() >= size || checkpoints.len() >= size {
            let batch = Batches {
                events: std::mem::replace(&mut events, Vec::with_capacity(size)),
                checkpoints: std::mem::take(&mut checkpoints),
            };
            if tx.blocking_send(Ok(batch)).is_err() {
                return Err(AuditError::Io("import stopped".into()));
            }
        }
        Ok(())
    });
    let last = result.map(|_| Batches {
        events,
        checkpoints,
    });
    let _ = tx.blocking_send(last);
}

fn spawn_reader(
    path: &Path,
    size: usize,
) -> tokio::sync::mpsc::Receiver<Result<Batches, AuditError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || read_batches(&path, size, tx));
    rx
}

async fn import_postgres(
    pool: &sqlx::PgPool,
    path: &Path,
    max_position: i64,
) -> Result<ImportSummary, AuditError> {
    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE events, ledger_checkpoints IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let busy: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM ledger_checkpoints)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if busy {
        return Err(AuditError::Refused(
            "the store already holds events or checkpoints: import only into an empty store".into(),
        ));
    }
    // New appends are numbered (transaction id << 16) + i: they must come after every
    // imported position, and the importing transactions' ids must admit the imported
    // positions (events_position_in_tx).
    let next_xid: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    if (max_position >> 16) >= next_xid {
        return Err(AuditError::Refused(format!(
            "the export's positions reach transaction id {}, but this database's transaction \
             counter is at {next_xid}: new events would be numbered below imported ones. \
             Import into a database whose counter has passed it (see docs/audit.md)",
            max_position >> 16
        )));
    }
    // One short transaction a batch: a long one would hold back the feed of every database on
    // the server (the feed reads below the oldest running transaction). Each batch checks that
    // nothing else was written in between.
    let mut rx = spawn_reader(path, 5000);
    let mut summary = ImportSummary {
        events: 0,
        checkpoints: 0,
        last_position: 0,
    };
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        let mut tx = pool.begin().await?;
        sqlx::query("LOCK TABLE events, ledger_checkpoints IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let (head, checkpoints): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT coalesce(max(position), 0) FROM events),
                    (SELECT count(*) FROM ledger_checkpoints)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if head != summary.last_position || checkpoints as u64 != summary.checkpoints {
            return Err(AuditError::Refused(format!(
                "something else wrote to the store during the import, which stopped after {} \
                 events: drop and recreate the database, then import again",
                summary.events
            )));
        }
        if !batch.events.is_empty() {
            let col = |f: &dyn Fn(&StoredEvent) -> String| -> Vec<String> {
                batch.events.iter().map(f).collect()
            };
            sqlx::query(
                "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, event_type,
                                     event_version, payload, metadata, recorded_at, prev_hash,
                                     hash)
                 SELECT t.position, t.aggregate_type, t.aggregate_id, t.sequence, t.event_type,
                        t.event_version, t.payload::json, t.metadata::json, t.recorded_at,
                        t.prev_hash, t.hash
                   FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                               $6::text[], $7::text[], $8::text[], $9::timestamptz[],
                               $10::text[], $11::text[])
                        AS t(position, aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata, recorded_at, prev_hash, hash)",
            )
            .bind(batch.events.iter().map(|e| e.position).collect::<Vec<_>>())
            .bind(col(&|e| e.aggregate_type.clone()))
            .bind(col(&|e| e.aggregate_id.clone()))
            .bind(batch.events.iter().map(|e| e.sequence).collect::<Vec<_>>())
            .bind(col(&|e| e.event_type.clone()))
            .bind(col(&|e| e.event_version.clone()))
            .bind(col(&|e| canonical_json(&e.payload)))
            .bind(col(&|e| canonical_json(&e.metadata)))
            .bind(
                batch
                    .events
                    .iter()
                    .map(|e| e.recorded_at)
                    .collect::<Vec<_>>(),
            )
            .bind(col(&|e| e.prev_hash.clone().unwrap_or_default()))
            .bind(col(&|e| e.hash.clone().unwrap_or_default()))
            .execute(&mut *tx)
            .await?;
        }
        for cp in &batch.checkpoints {
            sqlx::query(checkpoint::insert_sql())
                .bind(cp.id)
                .bind(cp.position)
                .bind(cp.event_count)
                .bind(&cp.feed_hash)
                .bind(&cp.created_at)
                .bind(cp.signature.clone())
                .bind(cp.key_id.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        summary.events += batch.events.len() as u64;
        summary.checkpoints += batch.checkpoints.len() as u64;
        if let Some(last) = batch.events.last() {
            summary.last_position = last.position;
        }
    }
    Ok(summary)
}

async fn import_sqlite(pool: &sqlx::AnyPool, path: &Path) -> Result<ImportSummary, AuditError> {
    const COLUMNS: usize = 11;
    // Small statements: SQLite's multi-row insert slows down more than linearly with size.
    const ROWS: usize = 100;
    let mut tx = pool.begin().await?;
    let busy: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM ledger_checkpoints)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if busy != 0 {
        return Err(AuditError::Refused(
            "the store already holds events or checkpoints: import only into an empty store".into(),
        ));
    }
    let mut rx = spawn_reader(path, ROWS);
    let mut summary = ImportSummary {
        events: 0,
        checkpoints: 0,
        last_position: 0,
    };
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        if !batch.events.is_empty() {
            let values: Vec<String> = (0..batch.events.len())
                .map(|i| {
                    let params: Vec<String> = (1..=COLUMNS)
                        .map(|c| format!("${}", i * COLUMNS + c))
                        .collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, \
                 event_type, event_version, payload, metadata, recorded_at, prev_hash, hash) \
                 VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for e in &batch.events {
                query = query
                    .bind(e.position)
                    .bind(e.aggregate_type.clone())
                    .bind(e.aggregate_id.clone())
                    .bind(e.sequence)
                    .bind(e.event_type.clone())
                    .bind(e.event_version.clone())
                    .bind(canonical_json(&e.payload))
                    .bind(canonical_json(&e.metadata))
                    .bind(canonical_time(e.recorded_at))
                    .bind(e.prev_hash.clone().unwrap_or_default())
                    .bind(e.hash.clone().unwrap_or_default());
            }
            query.execute(&mut *tx).await?;
            summary.events += batch.events.len() as u64;
            summary.last_position = batch.events.last().map_or(0, |e| e.position);
        }
        for cp in &batch.checkpoints {
            sqlx::query(checkpoint::insert_sql())
                .bind(cp.id)
                .bind(cp.position)
                .bind(cp.event_count)
                .bind(cp.feed_hash.clone())
                .bind(cp.created_at.clone())
                .bind(cp.signature.clone())
                .bind(cp.key_id.clone())
                .execute(&mut *tx)
                .await?;
            summary.checkpoints += 1;
        }
    }
    tx.commit().await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{event_hash, Hashed, GENESIS};

    fn sample() -> StoredEvent {
        let payload = json!({"Paid": {"amount": 36000, "renewal_id": "r", "note": "京A66666"}});
        let metadata = json!({"actor": "system", "role": "system", "correlation_id": "c",
                              "causation_id": "k", "request_id": "q"});
        let recorded_at: DateTime<Utc> = "2022-05-20T02:00:00.123456Z".parse().unwrap();
        let hash = event_hash(&Hashed {
            aggregate_type: "permit",
            aggregate_id: "p",
            sequence: 1,
            event_type: "Paid",
            event_version: "1",
            payload: &payload,
            metadata: &metadata,
            recorded_at,
            prev_hash: GENESIS,
        });
        StoredEvent {
            position: 7,
            aggregate_type: "permit".into(),
            aggregate_id: "p".into(),
            sequence: 1,
            event_type: "Paid".into(),
            event_version: "1".into(),
            payload,
            metadata,
            recorded_at,
            hash: Some(hash),
            prev_hash: Some(GENESIS.into()),
        }
    }

    #[test]
    fn an_event_line_reads_back_as_the_same_event() {
        let e = sample();
        let text = serde_json::to_string(&event_line(&e)).unwrap();
        assert!(text.contains("京A66666"), "UTF-8 kept: {text}");
        assert!(text.contains("\"recorded_at\":\"2022-05-20T02:00:00.123456Z\""));
        match parse_line(&text, 1).unwrap() {
            Line::Event(back) => assert_eq!(*back, e),
            other => panic!("{other:?}"),
        }
    }
}
