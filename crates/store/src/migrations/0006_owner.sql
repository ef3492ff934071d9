-- The owner of a running execution: the token of the open store (process) that runs it, whose
-- lock file tells whether it is still alive (see owner.rs). owner_pid stays for older rows.
ALTER TABLE executions ADD COLUMN owner TEXT;
