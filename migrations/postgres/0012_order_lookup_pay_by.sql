-- The payment window of each renewal, written with the lookup before the submission is
-- appended: the expiry timer finds unpaid renewals past their window here, without a view.
-- `settled` is set once the timer has seen the renewal leave `awaiting_payment`. Renewals
-- submitted before this column existed have no `pay_by`; the timer still finds those through
-- the `renewals` view.
ALTER TABLE order_lookup ADD COLUMN pay_by TEXT;
ALTER TABLE order_lookup ADD COLUMN settled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX order_lookup_due ON order_lookup (settled, pay_by);
