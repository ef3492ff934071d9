-- See ../0022_attempts.sql.
ALTER TABLE executions ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;
