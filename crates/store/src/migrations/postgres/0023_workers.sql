-- See ../0023_workers.sql.
CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL,
    beat_ms BIGINT NOT NULL,
    stopped_ms BIGINT,
    concurrency BIGINT NOT NULL,
    running BIGINT NOT NULL,
    runs BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    claimed BIGINT NOT NULL,
    dead_letters BIGINT NOT NULL,
    memory_bytes BIGINT,
    cpu_percent DOUBLE PRECISION
);
