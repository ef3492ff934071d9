-- What started a run (its trigger's items, as JSON, and the trigger node it started from),
-- kept so that a run interrupted by a crash can be run again from it; and the run that re-ran
-- an interrupted one.
ALTER TABLE executions ADD COLUMN input TEXT;
ALTER TABLE executions ADD COLUMN start_node TEXT;
ALTER TABLE executions ADD COLUMN rerun_as TEXT;
CREATE INDEX executions_interrupted ON executions (status) WHERE status = 'interrupted';
