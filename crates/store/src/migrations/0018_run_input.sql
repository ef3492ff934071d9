-- What started a run (its trigger's items, as JSON), kept so that a run interrupted by a
-- crash can be run again from it; and the run that re-ran an interrupted one.
ALTER TABLE executions ADD COLUMN input TEXT;
ALTER TABLE executions ADD COLUMN rerun_as TEXT;
CREATE INDEX executions_interrupted ON executions (status) WHERE status = 'interrupted';
