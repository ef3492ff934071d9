-- Metrics rollups and alerts.

-- Per-minute buckets of recent time and per-hour buckets of older time, per workflow (node
-- '') and per node. `record` is a metrics BucketRecord as JSON: counts, errors by class and
-- the HDR duration histogram (V2, base64), so that buckets merge without losing precision.
CREATE TABLE metric_buckets (
    workflow_id TEXT NOT NULL,
    node        TEXT NOT NULL DEFAULT '',
    width_ms    INTEGER NOT NULL,
    start_ms    INTEGER NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (workflow_id, node, width_ms, start_ms)
) WITHOUT ROWID;
-- The dashboard reads one width of workflow rows (node '') over a time range.
CREATE INDEX metric_buckets_time ON metric_buckets (width_ms, node, start_ms);

-- Alert rules (an AlertRule as JSON each).
CREATE TABLE alert_rules (
    id         TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    rule       TEXT NOT NULL
);

-- Alerts raised (an Alert as JSON each), newest last.
CREATE TABLE alerts (
    id        TEXT PRIMARY KEY,
    rule_id   TEXT NOT NULL,
    state     TEXT NOT NULL,
    fired_at  TEXT NOT NULL,
    alert     TEXT NOT NULL
);
CREATE INDEX alerts_fired ON alerts (fired_at);

-- One-time work still to do: the predefined alert rules are added (switched off) once.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO store_meta (key, value) VALUES ('alert_presets', 'pending');
