-- Code requests per client address over the last hour, in the store so that every instance
-- counts the same requests (one limit for all instances). Rows older than the window are
-- deleted as new requests come in.
CREATE TABLE code_requests_by_address
(
    address      TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
CREATE INDEX code_requests_by_address_window ON code_requests_by_address (address, requested_at);
CREATE INDEX code_requests_by_address_age ON code_requests_by_address (requested_at);

-- SMS sent per lot and business day (Asia/Shanghai), against the lot's daily budget.
CREATE TABLE sms_daily_count
(
    lot_id TEXT   NOT NULL,
    day    TEXT   NOT NULL,
    sent   BIGINT NOT NULL,
    PRIMARY KEY (lot_id, day)
);

-- Every attempt at sending an SMS and what the provider answered. An attempt without an
-- answer (the process died, or the answer was lost on the way) means the message may have
-- gone out: a notice is then not sent again without a recorded reason.
CREATE TABLE sms_attempts
(
    message_id    TEXT    NOT NULL,
    attempt       INTEGER NOT NULL,
    provider      TEXT    NOT NULL,
    template      TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    outcome       TEXT,
    provider_code TEXT,
    detail        TEXT,
    PRIMARY KEY (message_id, attempt)
);
