-- Audit checkpoints (docs/audit.md): each seals the global feed up to `position`, where the
-- feed holds `event_count` events whose running feed hash is `feed_hash`. Written by the
-- checkpoint worker as id n+1 only while checkpoint n is there (a conditional insert).
-- `signature` (Ed25519, hex) covers
-- "permit-ledger/checkpoint/v1\n{position}\n{event_count}\n{feed_hash}"; `key_id` names the key.
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
