-- Appends no longer NOTIFY in their own transaction: a NOTIFY serialises commits on the
-- notification queue's lock and halved append throughput. Instead each instance sends one
-- coalesced NOTIFY (its own statement) shortly after its appends; see src/read_side/mod.rs.
DROP TRIGGER IF EXISTS events_notify ON events;
DROP FUNCTION IF EXISTS permit_ledger_notify_events();
