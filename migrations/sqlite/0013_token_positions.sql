-- The last ledger position each bearer token's own commands reached (keyed by the token's
-- SHA-256, as sessions and staff credentials are): a read by that token waits for its views to
-- reach it, so nobody reads a view that does not show their own last write yet. In the store,
-- so every instance honours it.
CREATE TABLE token_positions
(
    token_digest TEXT PRIMARY KEY,
    position     BIGINT NOT NULL
);
