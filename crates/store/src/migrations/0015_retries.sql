-- A retried execution records the one it retries.
ALTER TABLE executions ADD COLUMN retry_of TEXT;
