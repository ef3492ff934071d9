-- Each version of a workflow that ran, stored once (pinned data and all) and referenced by
-- its runs through the SHA-256 of its JSON, instead of a whole copy in every execution row.
-- Older rows keep their copy in executions.workflow_definition.
CREATE TABLE workflow_snapshots (
    hash       TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);
ALTER TABLE executions ADD COLUMN snapshot TEXT REFERENCES workflow_snapshots (hash);
CREATE INDEX executions_by_snapshot ON executions (snapshot);
