-- Desk actions that touch two aggregates (a card and its vehicle's binding), written before
-- their first step and deleted after their last: what a crash between the steps leaves here is
-- finished (or undone) by the service's recovery (src/app/desk_journal.rs).
CREATE TABLE desk_journal
(
    key        TEXT PRIMARY KEY,
    action     TEXT NOT NULL,
    metadata   TEXT NOT NULL,
    started_at TEXT NOT NULL
);
