-- Workflows: the definition is the workflow file's JSON; name and description are copies
-- for listing and searching without parsing.
CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 0,
    definition  TEXT NOT NULL,
    node_count  INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX workflows_by_update ON workflows (updated_at DESC);

-- Executions keep the workflow as it ran, so a past run can be shown on its own canvas.
CREATE TABLE executions (
    id                  TEXT PRIMARY KEY,
    workflow_id         TEXT NOT NULL,
    workflow_name       TEXT NOT NULL,
    workflow_definition TEXT NOT NULL,
    status              TEXT NOT NULL,
    mode                TEXT NOT NULL,
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    duration_ms         INTEGER,
    error               TEXT,
    owner_pid           INTEGER
);
CREATE INDEX executions_by_workflow ON executions (workflow_id, started_at DESC);
CREATE INDEX executions_by_start ON executions (started_at DESC);
CREATE INDEX executions_by_status ON executions (status);

-- Each executed node's data (outputs already cut to the run-data limits), in run order.
CREATE TABLE execution_nodes (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    node_id      TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
