-- Poison events: a projection that cannot apply an event retries it with backoff, then parks it
-- (projections whose policy allows) or stays stalled before it until an operator acts
-- (`projections retry NAME`, `projections skip NAME POSITION`).
ALTER TABLE projection_state ADD COLUMN failing_position BIGINT;
ALTER TABLE projection_state ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projection_state ADD COLUMN failing_since TEXT;
ALTER TABLE projection_state ADD COLUMN retry_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projection_state ADD COLUMN skip_position BIGINT;
ALTER TABLE projection_state ADD COLUMN skip_reason TEXT;

-- Events a projection went past without applying, per generation (a rebuild that applies them
-- leaves its own generation's rows; the old generation's go with its tables).
CREATE TABLE projection_parked
(
    name       TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    position   BIGINT  NOT NULL,
    event_type TEXT    NOT NULL,
    error      TEXT    NOT NULL,
    parked_at  TEXT    NOT NULL,
    parked_by  TEXT    NOT NULL,
    PRIMARY KEY (name, generation, position)
);
