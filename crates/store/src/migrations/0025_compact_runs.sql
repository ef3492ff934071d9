-- Runs are looked up by status only while running (finding runs a crash interrupted, the
-- oldest run in progress): a finished run leaves no entry in a status index.
DROP INDEX executions_by_status;
CREATE INDEX executions_running ON executions (started_at) WHERE status = 'running';
-- A run that started and ended within one write of the history keeps its nodes' data in its
-- own row (a JSON array, in run order) instead of a row per node in execution_nodes.
ALTER TABLE executions ADD COLUMN nodes TEXT;
