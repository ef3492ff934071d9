-- Values a connection-holding trigger keeps across restarts, by workflow and node (an IMAP
-- mailbox's UIDVALIDITY and the highest UID that started a run).
CREATE TABLE trigger_state (
    workflow_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_id, key)
);
