-- Where this computer deployed each workflow (issue 19, "Deploy to…"): the server's account
-- label, its URL, and the version the server gave the workflow then. The next deploy checks
-- that the server still has that version (else it was changed there).
CREATE TABLE deployments (
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    server TEXT NOT NULL,
    url TEXT NOT NULL,
    version INTEGER NOT NULL,
    deployed_ms INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, server)
);
