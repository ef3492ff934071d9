-- The store's schema at version 21, for PostgreSQL (server mode). SQLite reached it through
-- migrations 1–21 (../00*.sql); PostgreSQL starts here, and each later version gets one file
-- per backend with the same number. Integers are BIGINT (flags are 0/1, as in SQLite), text
-- is TEXT and bytes are BYTEA, so both backends read and write the same values.
-- `rowid` is the insertion order SQLite keeps implicitly; here it is an identity column.

CREATE TABLE workflows (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    active          BIGINT NOT NULL DEFAULT 0,
    definition      TEXT NOT NULL,
    node_count      BIGINT NOT NULL DEFAULT 0,
    version         BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    untrusted       TEXT,
    approved_access TEXT
);
CREATE INDEX workflows_by_update ON workflows (updated_at DESC);

CREATE TABLE workflow_snapshots (
    hash       TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);

CREATE TABLE executions (
    rowid               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                  TEXT PRIMARY KEY,
    workflow_id         TEXT NOT NULL,
    workflow_name       TEXT NOT NULL,
    workflow_definition TEXT NOT NULL,
    status              TEXT NOT NULL,
    mode                TEXT NOT NULL,
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    duration_ms         BIGINT,
    error               TEXT,
    owner_pid           BIGINT,
    owner               TEXT,
    snapshot            TEXT REFERENCES workflow_snapshots (hash),
    parent_execution    TEXT,
    parent_node         TEXT,
    retry_of            TEXT,
    input               TEXT,
    start_node          TEXT,
    rerun_as            TEXT
);
CREATE INDEX executions_by_workflow ON executions (workflow_id, started_at DESC);
CREATE INDEX executions_by_start ON executions (started_at DESC);
CREATE INDEX executions_by_status ON executions (status);
CREATE INDEX executions_by_snapshot ON executions (snapshot);
CREATE INDEX executions_by_parent ON executions (parent_execution) WHERE parent_execution IS NOT NULL;
CREATE INDEX executions_interrupted ON executions (status) WHERE status = 'interrupted';

CREATE TABLE execution_nodes (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    node_id      TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE execution_blobs (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    blob         TEXT NOT NULL,
    PRIMARY KEY (execution_id, blob)
);
CREATE INDEX execution_blobs_by_blob ON execution_blobs (blob);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE vault_header (
    id                  BIGINT PRIMARY KEY CHECK (id = 1),
    vault_id            TEXT NOT NULL,
    key_source          TEXT NOT NULL,
    key_id              TEXT NOT NULL,
    kdf                 TEXT,
    wrapped_key         BYTEA,
    check_value         BYTEA NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    generation          BIGINT NOT NULL DEFAULT 1,
    recovery_wrapped    BYTEA,
    recovery_sealed     BYTEA,
    recovery_created_at TEXT
);

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    connection_type  TEXT NOT NULL,
    label            TEXT NOT NULL,
    is_default       BIGINT NOT NULL DEFAULT 0,
    status           TEXT NOT NULL,
    sealed           BYTEA NOT NULL,
    token_expires_at TEXT,
    last_test        TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (connection_type, label)
);

CREATE TABLE webhook_deliveries (
    rowid         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id            TEXT PRIMARY KEY,
    workflow_id   TEXT NOT NULL,
    node_id       TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        BIGINT NOT NULL,
    verification  TEXT NOT NULL,
    latency_ms    BIGINT NOT NULL,
    execution_id  TEXT,
    error         TEXT,
    body          TEXT,
    test          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_by_workflow ON webhook_deliveries (workflow_id, received_at DESC);
CREATE INDEX webhook_deliveries_by_workflow_rowid ON webhook_deliveries (workflow_id, rowid);

CREATE TABLE webhook_replay (
    key           TEXT PRIMARY KEY,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX webhook_replay_by_expiry ON webhook_replay (expires_at_ms);

CREATE TABLE schedule_state (
    workflow_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    rule        TEXT NOT NULL,
    next_fire   TEXT,
    last_fire   TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_id)
);

CREATE TABLE metric_buckets (
    workflow_id TEXT NOT NULL,
    node        TEXT NOT NULL DEFAULT '',
    width_ms    BIGINT NOT NULL,
    start_ms    BIGINT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node, width_ms, start_ms)
);
CREATE INDEX metric_buckets_time ON metric_buckets (width_ms, node, start_ms);

CREATE TABLE alert_rules (
    id       TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    rule     TEXT NOT NULL
);

CREATE TABLE alerts (
    id       TEXT PRIMARY KEY,
    rule_id  TEXT NOT NULL,
    state    TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    alert    TEXT NOT NULL
);
CREATE INDEX alerts_fired ON alerts (fired_at);

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The alert presets are added once, by the first process that opens the store.
INSERT INTO store_meta (key, value) VALUES ('alert_presets', 'pending');

CREATE TABLE folder_files (
    workflow_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, node_id, path)
);

CREATE TABLE trigger_state (
    workflow_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_id, key)
);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL,
    version     BIGINT NOT NULL,
    snapshot    TEXT NOT NULL REFERENCES workflow_snapshots (hash),
    saved_at    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    node_count  BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, version)
);
CREATE INDEX workflow_versions_by_snapshot ON workflow_versions (snapshot);

CREATE TABLE agent_memory (
    workflow_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    session     TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    role        TEXT NOT NULL,
    content     TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_id, session, seq)
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms   BIGINT
);

CREATE TABLE deployments (
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    server      TEXT NOT NULL,
    url         TEXT NOT NULL,
    version     BIGINT NOT NULL,
    deployed_ms BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, server)
);
