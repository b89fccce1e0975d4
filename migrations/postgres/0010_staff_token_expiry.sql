-- When each staff token stops working (RFC 3339, UTC, milliseconds). Rows written before this
-- column get '' and so refuse until the service starts and rewrites every row from the ledger
-- (StaffAdded, StaffTokenRotated, StaffRevoked).
ALTER TABLE staff_credentials ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
