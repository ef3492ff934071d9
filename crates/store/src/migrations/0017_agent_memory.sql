-- AI agents' conversations kept between runs: per workflow, agent node and conversation key
-- (a chat id), the user's prompts and the agent's answers in order.
CREATE TABLE agent_memory (
    workflow_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    session     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    role        TEXT NOT NULL,
    content     TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node_id, session, seq)
) WITHOUT ROWID;
