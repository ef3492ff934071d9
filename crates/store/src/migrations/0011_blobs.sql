-- The files (blob references) each execution's stored node data holds. Pruning an execution
-- drops its rows; a sweep then removes blobs that no row names any more.
CREATE TABLE execution_blobs (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    blob         TEXT NOT NULL,
    PRIMARY KEY (execution_id, blob)
);
CREATE INDEX execution_blobs_by_blob ON execution_blobs (blob);
