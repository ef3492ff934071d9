-- Server mode's run queue runs a run again from the start when the worker that ran it died:
-- the record says which attempt it is (1 for every run that ran once).
ALTER TABLE executions ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
