-- Alerts raised by the drift monitors (observe/drift.py): a figure of the current window
-- (e.g. the last hour's p95 latency) compared with a baseline window (the 7 days before) crossed
-- its threshold. One open (unacknowledged) alert per monitor at most: the partial unique index
-- makes the dedupe hold across server replicas.
CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    monitor          text NOT NULL,                 -- drift.<metric>
    metric           text NOT NULL,                 -- latency_p95_ms, abstention_rate, ...
    window_hours     real NOT NULL,                 -- the current window
    baseline_days    real NOT NULL,                 -- the baseline window before it
    baseline_value   double precision,
    current_value    double precision,
    threshold        double precision,              -- the limit the current value crossed
    rule             jsonb NOT NULL DEFAULT '{}'::jsonb,  -- {absolute, relative, direction}
    samples          int NOT NULL DEFAULT 0,        -- requests in the current window
    baseline_samples int NOT NULL DEFAULT 0,
    message          text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_by  bigint REFERENCES principals(id) ON DELETE SET NULL,
    acknowledged_at  timestamptz
);
CREATE UNIQUE INDEX alerts_one_open_per_monitor ON alerts (monitor) WHERE acknowledged_at IS NULL;
CREATE INDEX alerts_created ON alerts (created_at DESC);
