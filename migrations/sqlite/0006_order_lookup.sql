-- Which card a payment order belongs to, written just before the renewal that creates the
-- order is appended: payment callbacks and order queries find their renewal without waiting
-- for any projection. A row whose append then failed names a renewal the card does not have,
-- and a payment for it is refused like any unknown order.
CREATE TABLE order_lookup
(
    renewal_id TEXT PRIMARY KEY,
    permit_id  TEXT NOT NULL
);
