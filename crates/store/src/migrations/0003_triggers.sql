-- Triggers: the webhook delivery log and the scheduler's next-fire times.

-- Every request the webhook listener answered for a known endpoint.
CREATE TABLE webhook_deliveries (
    id            TEXT PRIMARY KEY,
    workflow_id   TEXT NOT NULL,
    node_id       TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        INTEGER NOT NULL,
    -- "none", "passed" or "failed"
    verification  TEXT NOT NULL,
    latency_ms    INTEGER NOT NULL,
    execution_id  TEXT,
    error         TEXT,
    -- Kept only when the Webhook node's "keep bodies" is on.
    body          TEXT,
    test          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_by_workflow ON webhook_deliveries (workflow_id, received_at DESC);

-- One row per Schedule trigger: survives restarts so missed fires can be caught up.
CREATE TABLE schedule_state (
    workflow_id  TEXT NOT NULL,
    node_id      TEXT NOT NULL,
    -- The rule as described when next_fire was computed; a changed rule starts afresh.
    rule         TEXT NOT NULL,
    next_fire    TEXT,
    last_fire    TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_id)
);
