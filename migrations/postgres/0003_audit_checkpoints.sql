-- Audit checkpoints (docs/audit.md): each seals the global feed up to `position`, where the
-- feed holds `event_count` events whose running feed hash is `feed_hash`. Written by the
-- checkpoint worker as id n+1 only while checkpoint n is there (a conditional insert), so
-- several instances write each checkpoint once. `signature` (Ed25519, hex) covers
-- "permit-ledger/checkpoint/v1\n{position}\n{event_count}\n{feed_hash}"; `key_id` names the key.
-- Instants are TEXT (RFC 3339, UTC), as in every side table.
CREATE TABLE ledger_checkpoints
(
    id          BIGINT PRIMARY KEY,
    position    BIGINT NOT NULL UNIQUE,
    event_count BIGINT NOT NULL,
    feed_hash   TEXT   NOT NULL,
    created_at  TEXT   NOT NULL,
    signature   TEXT,
    key_id      TEXT
);

-- Import (`permit-ledger audit import`) keeps the positions of an exported ledger, which were
-- not drawn from this database's transaction ids. The check becomes "a position is below the
-- end of its writing transaction's range": every native row still satisfies it (position =
-- (tx_id << 16) + i with 1 <= i < 65536), and so does an imported row whose position is below
-- the importing transaction's range. Import is for an empty, not-yet-serving database, and it
-- refuses when the export's positions reach this database's transaction counter.
ALTER TABLE events DROP CONSTRAINT events_position_in_tx;
ALTER TABLE events
    ADD CONSTRAINT events_position_in_tx CHECK (position < ((tx_id::text::bigint + 1) << 16));
