-- The desk's receipt numbers, one use per lot: claimed just before a renewal paid at the desk
-- is appended (and given up if the append is refused), so the same paper receipt cannot pay
-- for two renewals. The receipt number is also in the renewal's DeskRenewalPaid event.
CREATE TABLE desk_receipts
(
    lot_id     TEXT NOT NULL,
    receipt_no TEXT NOT NULL,
    renewal_id TEXT NOT NULL,
    PRIMARY KEY (lot_id, receipt_no)
);
