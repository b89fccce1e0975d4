-- Side tables beside the event log: read-model bookkeeping, the outbox, owner sessions,
-- idempotency keys, photos and service secrets. Same shapes on both stores (TEXT instants in
-- RFC 3339 UTC), so their SQL is written once.

CREATE TABLE projection_state
(
    name                TEXT PRIMARY KEY,
    version             INTEGER NOT NULL,
    generation          INTEGER NOT NULL,
    position            BIGINT  NOT NULL,
    building_generation INTEGER,
    building_version    INTEGER,
    building_position   BIGINT,
    rebuild_requested   INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    owner               TEXT,
    lease_until         TEXT,
    updated_at          TEXT    NOT NULL
);

CREATE TABLE outbox
(
    id              TEXT PRIMARY KEY,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    done_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE owner_sessions
(
    token_digest TEXT PRIMARY KEY,
    phone        TEXT NOT NULL,
    lot_id       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);

CREATE TABLE idempotency_keys
(
    scope          TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    request_digest TEXT    NOT NULL,
    status         INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE photos
(
    sha256       TEXT PRIMARY KEY,
    content_type TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    bytes        BYTEA  NOT NULL,
    created_at   TEXT   NOT NULL
);

CREATE TABLE service_secrets
(
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Wake other instances' projection runners when events are appended (delivered on commit).
CREATE FUNCTION permit_ledger_notify_events() RETURNS trigger AS
$$
BEGIN
    PERFORM pg_notify('permit_ledger_events', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_notify
    AFTER INSERT
    ON events
    FOR EACH STATEMENT
EXECUTE FUNCTION permit_ledger_notify_events();
