-- A run called by another run (Execute Workflow) records the calling execution and node,
-- so the history can show "called by" and "calls" both ways.
ALTER TABLE executions ADD COLUMN parent_execution TEXT;
ALTER TABLE executions ADD COLUMN parent_node TEXT;
CREATE INDEX executions_by_parent ON executions (parent_execution) WHERE parent_execution IS NOT NULL;
