-- Every saved version of a workflow: its definition is stored once, in workflow_snapshots
-- (which executions reference too), by the SHA-256 of its JSON. Workflows saved before
-- this get their current version recorded when the store opens.
CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    snapshot    TEXT NOT NULL REFERENCES workflow_snapshots (hash),
    saved_at    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    node_count  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
);
CREATE INDEX workflow_versions_by_snapshot ON workflow_versions (snapshot);
