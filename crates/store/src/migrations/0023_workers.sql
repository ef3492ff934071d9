-- Server mode's workers (`switchyard worker`) report here every heartbeat: what they run and
-- ran, for the dashboard and Prometheus on the mains. One row per worker process (its
-- consumer name in the queue); a stopped worker keeps its row, marked stopped.
CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    beat_ms INTEGER NOT NULL,
    stopped_ms INTEGER,
    concurrency INTEGER NOT NULL,
    running INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    claimed INTEGER NOT NULL,
    dead_letters INTEGER NOT NULL,
    memory_bytes INTEGER,
    cpu_percent REAL
);
