-- The event store on SQLite. The seven sqlite-es 0.5 columns, plus:
--   position    the global position: the rowid, assigned at insert. SQLite has one writer at a
--               time and the service appends through a single connection, so insert order is
--               commit order (see docs/decisions/0003).
--   recorded_at append time, UTC, RFC 3339 with microseconds, set by the writer.
--   prev_hash   the previous event's hash in this stream (64 zeros for the first).
--   hash        SHA-256 over the event's canonical encoding and prev_hash (docs/audit.md).
CREATE TABLE events
(
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
) STRICT;

CREATE TABLE staff_credentials
(
    token_digest TEXT PRIMARY KEY,
    staff_id     TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    roles        TEXT NOT NULL -- comma-separated
) STRICT;
