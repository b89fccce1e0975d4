-- The event store. The first seven columns are postgres-es 0.5's `events` table, so its
-- repository and tools can read this table; the rest is what the ledger adds:
--   position    commit-ordered global position: (writing transaction's xid8 << 16) + index of
--               the event within that transaction's single append statement. Readers read only
--               below (pg_snapshot_xmin(pg_current_snapshot()) << 16), so no reader ever sees a
--               position and later finds a new event below it. See docs/decisions/0002.
--   tx_id       the writing transaction (xid8), kept for the check below and for operators.
--   recorded_at when the event was appended (UTC, microseconds), set by the writer.
--   prev_hash   the previous event's hash in this stream (64 zeros for the first).
--   hash        SHA-256 over the event's canonical encoding and prev_hash (docs/audit.md).
CREATE TABLE events
(
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence >= 1),
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        json        NOT NULL,
    metadata       json        NOT NULL,
    position       bigint      NOT NULL,
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    prev_hash      text        NOT NULL,
    hash           text        NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    CONSTRAINT events_position_in_tx CHECK ((position >> 16) = (tx_id::text::bigint))
);

CREATE UNIQUE INDEX events_position ON events (position);

-- Staff bearer tokens, by SHA-256 digest; rebuilt from StaffAdded events when missing.
CREATE TABLE staff_credentials
(
    token_digest text PRIMARY KEY,
    staff_id     text NOT NULL UNIQUE,
    name         text NOT NULL,
    roles        text NOT NULL -- comma-separated
);
