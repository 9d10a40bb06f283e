-- One row per request trace (spans as a JSON tree) and one row per model call for cost rollups.
CREATE TABLE traces (
    id            text PRIMARY KEY,                 -- 32 hex chars (also the OpenTelemetry trace id)
    kind          text NOT NULL,                    -- ask | stream | chat
    principal_id  bigint REFERENCES principals(id) ON DELETE SET NULL,
    api_key_id    bigint,
    started_at    timestamptz NOT NULL,
    duration_ms   real NOT NULL DEFAULT 0,
    status        text NOT NULL,                    -- answered | abstained | blocked | refused | error ...
    model         text NOT NULL DEFAULT '',
    question      text NOT NULL DEFAULT '',         -- redacted per the guard policy
    cost_usd      numeric(14, 8) NOT NULL DEFAULT 0,
    input_tokens  int NOT NULL DEFAULT 0,
    output_tokens int NOT NULL DEFAULT 0,
    attrs         jsonb NOT NULL DEFAULT '{}'::jsonb,
    root          jsonb NOT NULL                    -- the span tree
);
CREATE INDEX traces_principal ON traces (principal_id, started_at DESC);
CREATE INDEX traces_started ON traces (started_at DESC);

CREATE TABLE usage_events (
    id            bigserial PRIMARY KEY,
    trace_id      text,
    at            timestamptz NOT NULL DEFAULT now(),
    principal_id  bigint REFERENCES principals(id) ON DELETE SET NULL,
    api_key_id    bigint,
    kind          text NOT NULL,                    -- generate | embed | rerank | guard
    model         text NOT NULL,
    input_tokens  int NOT NULL DEFAULT 0,
    output_tokens int NOT NULL DEFAULT 0,
    cost_usd      numeric(14, 8) NOT NULL DEFAULT 0,
    latency_ms    real NOT NULL DEFAULT 0,
    ok            boolean NOT NULL DEFAULT true
);
CREATE INDEX usage_events_at ON usage_events (at);
CREATE INDEX usage_events_principal ON usage_events (principal_id, at);
