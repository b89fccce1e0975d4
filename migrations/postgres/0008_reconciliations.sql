-- Reconciliation results: one row per run of `permit-ledger reconcile` or of the daily run,
-- the day's comparison of WeChat Pay's trade bill with the ledger as served by
-- GET /api/v1/admin/reconciliation. Runs that could not compare (no bill, bad digest) leave
-- no row, so the daily run tries that day again.
CREATE TABLE reconciliations
(
    run_id    TEXT PRIMARY KEY,
    bill_date TEXT    NOT NULL, -- YYYY-MM-DD, the business day (Asia/Shanghai)
    ok        INTEGER NOT NULL, -- 1 when nothing disagreed
    report    TEXT    NOT NULL, -- the JSON report, as the CLI prints it
    ran_at    TEXT    NOT NULL, -- RFC 3339 UTC, microseconds (sorts as text)
    ran_by    TEXT    NOT NULL  -- 'cli' or 'daily'
);
CREATE INDEX reconciliations_by_date ON reconciliations (bill_date, ran_at);
