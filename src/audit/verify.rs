//! Verification: one streaming pass over the feed (from the store, or from an export) that
//! names every alteration it finds.
//!
//! Three layers of checks, each on the events in feed order:
//!
//! 1. **Each event**: its stored `hash` must equal the hash recomputed from its content and its
//!    stored `prev_hash` (else `altered`).
//! 2. **Each stream**: sequences 1, 2, 3, … with no gap (`missing`) and none twice (`inserted`);
//!    positions increasing with sequence (`reordered`); each `prev_hash` equal to the previous
//!    event's `hash` (`chain_broken`). Only a little state per stream is kept.
//! 3. **The whole feed, against the checkpoints**: the events between two checkpoints must be
//!    exactly as many as the later one sealed and fold to its feed hash. When they do not, the
//!    span is diagnosed: fewer events (`missing`: deleted rows or streams, a cut tail), one
//!    extra event whose removal restores the feed hash (`inserted`, named), two events in
//!    swapped places (`reordered`), or the same count with other content (`altered`). The
//!    check then starts again from that checkpoint, so one damaged span does not hide or
//!    blame the next. Only the current span's hashes are held, never the events.
//!
//! Signed checkpoints are checked against the keys given.

use super::checkpoint::Checkpoint;
use super::feed::{feed_step, FEED_START};
use super::signing::CheckpointKey;
use super::{checkpoint, AuditError};
use crate::store::{event_hash, Hashed, Store, StoredEvent, GENESIS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Events read from the store per batch.
pub const BATCH: i64 = 1000;
/// Problems listed in a report; more are counted in `problems_omitted`.
const MAX_PROBLEMS: usize = 1000;
/// Events held while no checkpoint is pending (the tail after the last checkpoint).
const PENDING_MAX: usize = 200_000;
/// Largest span searched for one inserted event (quadratic).
const EXCLUDE_MAX: usize = 5_000;
/// Largest span searched for two swapped events (cubic).
const SWAP_MAX: usize = 100;
/// Out-of-order events held per stream.
const STASH_MAX: usize = 100_000;

/// What kind of alteration a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// An event's content no longer matches its hash, or a span no longer matches what a
    /// checkpoint sealed although as many events are there, or a checkpoint's signature fails.
    Altered,
    /// A sequence number is gone from a stream, or events sealed by a checkpoint are gone.
    Missing,
    /// An event a checkpoint did not seal, or a sequence that appears twice.
    Inserted,
    /// Positions within a stream do not increase with sequence, or two events swapped places.
    Reordered,
    /// An event's `prev_hash` is not the previous event's hash in its stream.
    ChainBroken,
}

impl ProblemKind {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Altered => "altered",
            ProblemKind::Missing => "missing",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Reordered => "reordered",
            ProblemKind::ChainBroken => "chain_broken",
        }
    }
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// The stream, when known.
    pub aggregate_type: Option<String>,
    /// The stream, when known.
    pub aggregate_id: Option<String>,
    /// The event's sequence, when known.
    pub sequence: Option<i64>,
    /// The event's position (or, for a span, the position of the checkpoint that sealed it).
    pub position: Option<i64>,
    /// The checkpoint involved, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<i64>,
    /// What was found, for people.
    pub detail: String,
}

impl Problem {
    fn event(kind: ProblemKind, at: &Entry, detail: String) -> Self {
        Self {
            kind,
            aggregate_type: Some(at.aggregate_type.clone()),
            aggregate_id: Some(at.aggregate_id.clone()),
            sequence: Some(at.sequence),
            position: Some(at.position),
            checkpoint: None,
            detail,
        }
    }

    fn span(kind: ProblemKind, cp: &Checkpoint, detail: String) -> Self {
        Self {
            kind,
            aggregate_type: None,
            aggregate_id: None,
            sequence: None,
            position: Some(cp.position),
            checkpoint: Some(cp.id),
            detail,
        }
    }
}

/// Signatures seen on checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signatures {
    /// Verified under a known key.
    pub verified: u64,
    /// Signed with a key not given to the verifier.
    pub unknown_key: u64,
    /// Not signed.
    pub unsigned: u64,
}

/// The result of checking a checkpoint kept from earlier against the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consistency {
    /// The checkpoint's position.
    pub position: i64,
    /// Its event count.
    pub event_count: i64,
    /// Its feed hash.
    pub feed_hash: String,
    /// Whether the history's first `event_count` events end at `position` and fold to
    /// `feed_hash`: the kept checkpoint is a prefix of this history.
    pub consistent: bool,
    /// `verified`, `invalid`, `unknown_key` or `unsigned`.
    pub signature: String,
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// No problem found.
    pub ok: bool,
    /// Events checked.
    pub checked: u64,
    /// Checkpoints whose span was checked.
    pub checkpoints: u64,
    /// The last position read.
    pub last_position: i64,
    /// The feed hash over every event read.
    pub feed_hash: String,
    /// Checkpoint signatures.
    pub signatures: Signatures,
    /// Kept checkpoints checked against this history (offline verification only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<Consistency>,
    /// What was found, in feed order.
    pub problems: Vec<Problem>,
    /// Problems beyond the listed ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub problems_omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Report {
    /// The kinds found, for quick checks.
    pub fn kinds(&self) -> Vec<ProblemKind> {
        self.problems.iter().map(|p| p.kind).collect()
    }
}

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The events are a filtered export: streams may start after sequence 1 and no checkpoints
    /// are expected.
    pub partial: bool,
    /// Public keys that checkpoint signatures are checked against.
    pub keys: Vec<CheckpointKey>,
    /// This key must have signed at least one checkpoint (`--public-key`).
    pub require_key: Option<CheckpointKey>,
    /// Checkpoints kept from earlier that must be prefixes of this history.
    pub kept: Vec<Checkpoint>,
}

/// An event as the checkpoint check needs it.
#[derive(Debug, Clone)]
struct Entry {
    position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    hash: String,
}

#[derive(Debug, Clone)]
struct Stashed {
    entry: Entry,
    prev_hash: String,
}

/// What the verifier keeps for every stream it has seen, kept small (about 100 bytes with the
/// map's share: a million-event ledger has some 360,000 streams): the key and the last hash as
/// fixed-size digests rather than strings.
#[derive(Debug)]
struct StreamState {
    /// The next sequence expected; `None` before the first event of a partial export.
    expected: Option<i64>,
    last_hash: ChainHash,
    /// Events that came before a smaller sequence of their stream (held until it comes).
    stash: BTreeMap<i64, Stashed>,
}

/// A stream's key in the verifier's map: 16 bytes of the SHA-256 of its type and id.
type StreamKey = [u8; 16];

fn stream_key(aggregate_type: &str, aggregate_id: &str) -> StreamKey {
    let digest = Sha256::new()
        .chain_update(aggregate_type.as_bytes())
        .chain_update([0])
        .chain_update(aggregate_id.as_bytes())
        .finalize();
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// A chain hash as 32 bytes: decoded when it is 64 hex digits (as every hash the store writes
/// is), else the SHA-256 of the text (an altered row may hold anything), so two hashes are equal
/// exactly when their texts are.
type ChainHash = [u8; 32];

fn chain_hash(text: &str) -> ChainHash {
    let mut out = [0; 32];
    if text.len() == 64 && hex::decode_to_slice(text, &mut out).is_ok() {
        return out;
    }
    Sha256::new()
        .chain_update(b"not a hex digest:")
        .chain_update(text.as_bytes())
        .finalize()
        .into()
}

/// What makes two problems the same: kind, stream, sequence, position.
type ProblemKey = (
    ProblemKind,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The streaming verifier. Feed it checkpoints before the events they seal
/// ([`Verifier::add_checkpoint`]) and events in feed order ([`Verifier::push`]), then
/// [`Verifier::finish`].
pub struct Verifier {
    opts: Options,
    streams: HashMap<StreamKey, StreamState>,
    queue: VecDeque<Checkpoint>,
    last_added: Option<Checkpoint>,
    base_count: i64,
    base_hash: String,
    pending: VecDeque<Entry>,
    seg_hash: String,
    prefix_checked: bool,
    dropped: bool,
    checked: u64,
    total_hash: String,
    last_position: Option<i64>,
    checkpoints_checked: u64,
    signatures: Signatures,
    consistency: Vec<Consistency>,
    kept: VecDeque<Checkpoint>,
    problems: Vec<Problem>,
    seen: HashSet<ProblemKey>,
    omitted: u64,
    required_key_used: bool,
}

impl Verifier {
    /// A verifier with the given options.
    pub fn new(mut opts: Options) -> Self {
        if let Some(k) = &opts.require_key {
            if !opts.keys.contains(k) {
                opts.keys.push(k.clone());
            }
        }
        let mut kept: Vec<Checkpoint> = std::mem::take(&mut opts.kept);
        kept.sort_by_key(|c| c.event_count);
        let mut v = Self {
            opts,
            streams: HashMap::new(),
            queue: VecDeque::new(),
            last_added: None,
            base_count: 0,
            base_hash: FEED_START.to_string(),
            pending: VecDeque::new(),
            seg_hash: FEED_START.to_string(),
            prefix_checked: false,
            dropped: false,
            checked: 0,
            total_hash: FEED_START.to_string(),
            last_position: None,
            checkpoints_checked: 0,
            signatures: Signatures::default(),
            consistency: Vec::new(),
            kept: VecDeque::new(),
            problems: Vec::new(),
            seen: HashSet::new(),
            omitted: 0,
            required_key_used: false,
        };
        for cp in kept {
            let signature = v.signature_state(&cp).to_string();
            if signature == "invalid" {
                v.problem(Problem::span(
                    ProblemKind::Altered,
                    &cp,
                    "the kept checkpoint's signature does not verify".into(),
                ));
            }
            v.consistency.push(Consistency {
                position: cp.position,
                event_count: cp.event_count,
                feed_hash: cp.feed_hash.clone(),
                consistent: false,
                signature,
            });
            v.kept.push_back(cp);
        }
        v
    }

    fn problem(&mut self, p: Problem) {
        let key = (
            p.kind,
            p.aggregate_type.clone(),
            p.aggregate_id.clone(),
            p.sequence,
            p.position,
        );
        if !self.seen.insert(key) {
            return;
        }
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.omitted += 1;
        }
    }

    fn signature_state(&mut self, cp: &Checkpoint) -> &'static str {
        let (Some(signature), Some(key_id)) = (&cp.signature, &cp.key_id) else {
            return "unsigned";
        };
        let Some(key) = self.opts.keys.iter().find(|k| &k.key_id() == key_id) else {
            return "unknown_key";
        };
        if key.verify(cp.position, cp.event_count, &cp.feed_hash, signature) {
            if self.opts.require_key.as_ref() == Some(key) {
                self.required_key_used = true;
            }
            "verified"
        } else {
            "invalid"
        }
    }

    /// The position of the last checkpoint added (0 before any).
    pub fn last_checkpoint_position(&self) -> i64 {
        self.last_added.as_ref().map_or(0, |c| c.position)
    }

    /// Adds the next checkpoint (in id order), before the events it seals.
    pub fn add_checkpoint(&mut self, cp: Checkpoint) {
        match self.signature_state(&cp) {
            "verified" => self.signatures.verified += 1,
            "unknown_key" => self.signatures.unknown_key += 1,
            "unsigned" => self.signatures.unsigned += 1,
            _ => self.problem(Problem::span(
                ProblemKind::Altered,
                &cp,
                format!(
                    "checkpoint {}'s signature does not verify under key {}",
                    cp.id,
                    cp.key_id.as_deref().unwrap_or("?")
                ),
            )),
        }
        let (prev_id, prev_position, prev_count) = self
            .last_added
            .as_ref()
            .map_or((0, 0, 0), |c| (c.id, c.position, c.event_count));
        if cp.position <= prev_position || cp.event_count <= prev_count {
            self.problem(Problem::span(
                ProblemKind::Altered,
                &cp,
                format!(
                    "checkpoint {} (position {}, {} events) does not extend checkpoint {} \
                     (position {prev_position}, {prev_count} events)",
                    cp.id, cp.position, cp.event_count, prev_id
                ),
            ));
            return;
        }
        if cp.id != prev_id + 1 {
            self.problem(Problem::span(
                ProblemKind::Missing,
                &cp,
                format!(
                    "checkpoints {}..{} are gone (the next one is {})",
                    prev_id + 1,
                    cp.id - 1,
                    cp.id
                ),
            ));
        }
        self.last_added = Some(cp.clone());
        if self.dropped {
            // Events after the last checkpoint were let go while none was pending: this one
            // came after (part of) its span and cannot be checked. Start again from it.
            self.problem(Problem::span(
                ProblemKind::Reordered,
                &cp,
                format!(
                    "checkpoint {} comes after events it seals; its span cannot be checked",
                    cp.id
                ),
            ));
            self.base_count = cp.event_count;
            self.base_hash = cp.feed_hash.clone();
            self.pending.retain(|e| e.position > cp.position);
            self.seg_hash = fold_entries(&self.base_hash, self.pending.iter());
            self.dropped = false;
            self.prefix_checked = false;
            return;
        }
        self.queue.push_back(cp);
        self.settle(false);
    }

    /// Checks one event (in feed order).
    pub fn push(&mut self, e: &StoredEvent) {
        self.checked += 1;
        let stored_hash = e.hash.clone().unwrap_or_default();
        let prev_hash = e.prev_hash.clone().unwrap_or_default();
        let entry = Entry {
            position: e.position,
            aggregate_type: e.aggregate_type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            sequence: e.sequence,
            hash: stored_hash.clone(),
        };
        if let Some(last) = self.last_position {
            if e.position <= last {
                self.problem(Problem::event(
                    ProblemKind::Reordered,
                    &entry,
                    format!(
                        "position {} comes after position {last} in the feed",
                        e.position
                    ),
                ));
            }
        }
        self.last_position = Some(e.position);

        // 1. The event's own hash.
        let recomputed = event_hash(&Hashed {
            aggregate_type: &e.aggregate_type,
            aggregate_id: &e.aggregate_id,
            sequence: e.sequence,
            event_type: &e.event_type,
            event_version: &e.event_version,
            payload: &e.payload,
            metadata: &e.metadata,
            recorded_at: e.recorded_at,
            prev_hash: &prev_hash,
        });
        if recomputed != stored_hash {
            self.problem(Problem::event(
                ProblemKind::Altered,
                &entry,
                "the stored hash does not match the event's content".into(),
            ));
        }

        // 2. The stream.
        self.stream_event(Stashed {
            entry: entry.clone(),
            prev_hash,
        });

        // 3. The feed and the checkpoints.
        self.total_hash = feed_step(&self.total_hash, &stored_hash);
        self.check_kept(e.position);
        self.seg_hash = feed_step(&self.seg_hash, &stored_hash);
        self.pending.push_back(entry);
        self.settle(false);
    }

    fn check_kept(&mut self, position: i64) {
        while let Some(k) = self.kept.front() {
            if k.event_count > self.checked as i64 {
                break;
            }
            let k = self.kept.pop_front().expect("front exists");
            let consistent = k.event_count == self.checked as i64
                && k.position == position
                && k.feed_hash == self.total_hash;
            self.kept_result(&k, consistent);
        }
    }

    fn kept_result(&mut self, k: &Checkpoint, consistent: bool) {
        if let Some(c) = self
            .consistency
            .iter_mut()
            .find(|c| c.event_count == k.event_count && c.feed_hash == k.feed_hash)
        {
            c.consistent = consistent;
        }
        if !consistent {
            self.problem(Problem::span(
                ProblemKind::Altered,
                k,
                format!(
                    "the kept checkpoint ({} events up to position {}) is not a prefix of this \
                     history",
                    k.event_count, k.position
                ),
            ));
        }
    }

    fn stream_event(&mut self, s: Stashed) {
        let key = stream_key(&s.entry.aggregate_type, &s.entry.aggregate_id);
        let partial = self.opts.partial;
        let mut found = Vec::new();
        {
            let st = self.streams.entry(key).or_insert_with(|| StreamState {
                expected: (!partial).then_some(1),
                last_hash: chain_hash(GENESIS),
                stash: BTreeMap::new(),
            });
            let seq = s.entry.sequence;
            // A filtered export starts the stream wherever its first event is.
            let expected = *st.expected.get_or_insert(seq);
            if partial && seq == expected && st.last_hash == chain_hash(GENESIS) && seq > 1 {
                st.last_hash = chain_hash(&s.prev_hash);
            }
            if seq < expected || st.stash.contains_key(&seq) {
                found.push(Problem::event(
                    ProblemKind::Inserted,
                    &s.entry,
                    format!("sequence {seq} appears twice in the stream"),
                ));
            } else if seq > expected {
                st.stash.insert(seq, s);
                if st.stash.len() > STASH_MAX {
                    flush_gap(st, &mut found);
                }
            } else {
                accept(st, &s, false, &mut found);
                while let Some(next) = st.expected.and_then(|n| st.stash.remove(&n)) {
                    found.push(Problem::event(
                        ProblemKind::Reordered,
                        &next.entry,
                        format!(
                            "sequence {} is stored at position {}, before sequence {} \
                             (position {})",
                            next.entry.sequence,
                            next.entry.position,
                            s.entry.sequence,
                            s.entry.position
                        ),
                    ));
                    accept(st, &next, false, &mut found);
                }
            }
        }
        for p in found {
            self.problem(p);
        }
    }

    fn settle(&mut self, at_end: bool) {
        loop {
            let Some(cp) = self.queue.front() else {
                if self.pending.len() > PENDING_MAX {
                    self.pending.clear();
                    self.dropped = true;
                }
                return;
            };
            let e = (cp.event_count - self.base_count) as usize;
            if !self.prefix_checked && self.pending.len() >= e {
                self.prefix_checked = true;
                let h = if self.pending.len() == e {
                    self.seg_hash.clone()
                } else {
                    fold_entries(&self.base_hash, self.pending.iter().take(e))
                };
                if h == cp.feed_hash {
                    self.resolve(e);
                    continue;
                }
            }
            let past = self
                .pending
                .back()
                .is_some_and(|x| x.position > cp.position);
            let ready =
                at_end || (past && self.pending.len() > e) || self.pending.len() > 2 * e + 1000;
            if !ready {
                return;
            }
            self.diagnose(e);
        }
    }

    /// The span before the pending checkpoint does not match it: say how, then go on from it.
    fn diagnose(&mut self, e: usize) {
        let cp = self.queue.front().expect("a pending checkpoint").clone();
        let n = self.pending.len();
        let bp = self
            .pending
            .iter()
            .take_while(|x| x.position <= cp.position)
            .count();
        if bp >= e && n > e && e <= EXCLUDE_MAX {
            if let Some(j) = self.find_excluded(e, &cp.feed_hash) {
                let x = self.pending[j].clone();
                self.problem(Problem::event(
                    ProblemKind::Inserted,
                    &x,
                    format!(
                        "not sealed by checkpoint {}: without this event the feed matches it",
                        cp.id
                    ),
                ));
                self.resolve(e + 1);
                return;
            }
        }
        if bp < e {
            self.problem(Problem::span(
                ProblemKind::Missing,
                &cp,
                format!(
                    "{} event(s) sealed by checkpoint {} are gone: {bp} found up to position {} \
                     where {e} were sealed",
                    e - bp,
                    cp.id,
                    cp.position
                ),
            ));
        } else if bp > e {
            self.problem(Problem::span(
                ProblemKind::Inserted,
                &cp,
                format!(
                    "{} event(s) more than checkpoint {} sealed: {bp} found up to position {} \
                     where {e} were sealed",
                    bp - e,
                    cp.id,
                    cp.position
                ),
            ));
        } else if let Some((i, j)) = (e <= SWAP_MAX)
            .then(|| self.find_swap(e, &cp.feed_hash))
            .flatten()
        {
            let (a, b) = (self.pending[i].clone(), self.pending[j].clone());
            self.problem(Problem::event(
                ProblemKind::Reordered,
                &a,
                format!(
                    "swapped with position {} ({} {} sequence {}): checkpoint {} sealed them in \
                     the other order",
                    b.position, b.aggregate_type, b.aggregate_id, b.sequence, cp.id
                ),
            ));
        } else {
            self.problem(Problem::span(
                ProblemKind::Altered,
                &cp,
                format!(
                    "the {e} events up to position {} are not the ones checkpoint {} sealed",
                    cp.position, cp.id
                ),
            ));
        }
        self.resolve(bp);
    }

    /// The prefix hashes of the first `upto` pending entries: `p[i]` before entry `i`.
    fn prefixes(&self, upto: usize) -> Vec<String> {
        let mut p = Vec::with_capacity(upto + 1);
        p.push(self.base_hash.clone());
        for x in self.pending.iter().take(upto) {
            let next = feed_step(p.last().expect("non-empty"), &x.hash);
            p.push(next);
        }
        p
    }

    /// The index among the first `e + 1` pending entries whose removal makes the first `e`
    /// fold to `target`.
    fn find_excluded(&self, e: usize, target: &str) -> Option<usize> {
        let p = self.prefixes(e + 1);
        (0..=e).rev().find(|&j| {
            let mut h = p[j].clone();
            for x in self.pending.iter().take(e + 1).skip(j + 1) {
                h = feed_step(&h, &x.hash);
            }
            h == target
        })
    }

    /// Two indices among the first `e` pending entries whose swap makes them fold to `target`.
    fn find_swap(&self, e: usize, target: &str) -> Option<(usize, usize)> {
        let p = self.prefixes(e);
        let hashes: Vec<&str> = self
            .pending
            .iter()
            .take(e)
            .map(|x| x.hash.as_str())
            .collect();
        for i in 0..e {
            for j in i + 1..e {
                let mut h = feed_step(&p[i], hashes[j]);
                for x in &hashes[i + 1..j] {
                    h = feed_step(&h, x);
                }
                h = feed_step(&h, hashes[i]);
                for x in &hashes[j + 1..e] {
                    h = feed_step(&h, x);
                }
                if h == target {
                    return Some((i, j));
                }
            }
        }
        None
    }

    /// The pending checkpoint is settled by the first `consumed` pending entries.
    fn resolve(&mut self, consumed: usize) {
        let cp = self.queue.pop_front().expect("a pending checkpoint");
        let consumed = consumed.min(self.pending.len());
        self.pending.drain(..consumed);
        self.base_count = cp.event_count;
        self.base_hash = cp.feed_hash;
        self.seg_hash = fold_entries(&self.base_hash, self.pending.iter());
        self.prefix_checked = false;
        self.checkpoints_checked += 1;
    }

    /// Ends the pass: settles the remaining checkpoints and streams, and reports.
    pub fn finish(mut self) -> Report {
        self.settle(true);
        let mut found = Vec::new();
        for st in self.streams.values_mut() {
            while !st.stash.is_empty() {
                flush_gap(st, &mut found);
            }
        }
        for p in found {
            self.problem(p);
        }
        while let Some(k) = self.kept.pop_front() {
            self.kept_result(&k, false);
        }
        if let Some(key) = &self.opts.require_key {
            if !self.required_key_used {
                let detail = format!("no checkpoint is signed by the given key {}", key.key_id());
                self.problem(Problem {
                    kind: ProblemKind::Missing,
                    aggregate_type: None,
                    aggregate_id: None,
                    sequence: None,
                    position: None,
                    checkpoint: None,
                    detail,
                });
            }
        }
        let mut problems = self.problems;
        problems.sort_by_key(|p| p.position.unwrap_or(i64::MAX));
        Report {
            ok: problems.is_empty() && self.omitted == 0,
            checked: self.checked,
            checkpoints: self.checkpoints_checked,
            last_position: self.last_position.unwrap_or(0),
            feed_hash: self.total_hash,
            signatures: self.signatures,
            consistency: self.consistency,
            problems,
            problems_omitted: self.omitted,
        }
    }
}

fn fold_entries<'a>(start: &str, entries: impl Iterator<Item = &'a Entry>) -> String {
    super::feed::fold(start, entries.map(|x| x.hash.as_str()))
}

fn accept(st: &mut StreamState, s: &Stashed, after_gap: bool, found: &mut Vec<Problem>) {
    if !after_gap && chain_hash(&s.prev_hash) != st.last_hash {
        found.push(Problem::event(
            ProblemKind::ChainBroken,
            &s.entry,
            "prev_hash is not the previous event's hash in the stream".into(),
        ));
    }
    st.last_hash = chain_hash(&s.entry.hash);
    st.expected = Some(s.entry.sequence + 1);
}

/// The smallest held sequence is past a gap: the sequences before it are gone.
fn flush_gap(st: &mut StreamState, found: &mut Vec<Problem>) {
    let Some((&first, _)) = st.stash.iter().next() else {
        return;
    };
    let next = st.stash.remove(&first).expect("first exists");
    let expected = st.expected.unwrap_or(first);
    for seq in expected..first {
        if seq - expected >= 100 {
            break;
        }
        found.push(Problem {
            kind: ProblemKind::Missing,
            aggregate_type: Some(next.entry.aggregate_type.clone()),
            aggregate_id: Some(next.entry.aggregate_id.clone()),
            sequence: Some(seq),
            position: None,
            checkpoint: None,
            detail: format!(
                "sequence {seq} is gone from the stream (sequence {} is at position {})",
                next.entry.sequence, next.entry.position
            ),
        });
    }
    accept(st, &next, true, found);
    while let Some(more) = st.expected.and_then(|n| st.stash.remove(&n)) {
        accept(st, &more, false, found);
    }
}

/// Verifies the whole readable feed of a store against its checkpoints, in batches.
pub async fn verify_store(store: &Store, opts: Options) -> Result<Report, AuditError> {
    let mut v = Verifier::new(opts);
    // Only checkpoints written before the pass began: each covers events this pass will read.
    let last_id = checkpoint::latest(&store.db).await?.map_or(0, |c| c.id);
    let mut cp_after = 0;
    let mut after = 0;
    loop {
        let batch = store.log.read_feed(after, BATCH).await?;
        let upto = batch.last().map_or(i64::MAX, |e| e.position);
        while cp_after < last_id && v.last_checkpoint_position() < upto {
            let page = checkpoint::page(&store.db, cp_after, 500).await?;
            if page.is_empty() {
                break;
            }
            for cp in page {
                if cp.id > last_id {
                    cp_after = last_id;
                    break;
                }
                cp_after = cp.id;
                v.add_checkpoint(cp);
            }
        }
        let Some(last) = batch.last() else {
            break;
        };
        after = last.position;
        for e in &batch {
            v.push(e);
        }
    }
    Ok(v.finish())
}
