-- Connectors (src/tether/connect/): where documents live and how Tether keeps in step with them.
-- A connector's config never holds a secret: only the NAME of an environment variable or of a
-- file that holds it (keys ending in _env / _file); the service refuses anything else.
CREATE TABLE connectors (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    kind         text NOT NULL,
    collection   text NOT NULL DEFAULT 'default',
    config       jsonb NOT NULL DEFAULT '{}',
    interval_s   integer CHECK (interval_s IS NULL OR interval_s > 0),  -- NULL: synced on demand only
    enabled      boolean NOT NULL DEFAULT true,
    cursor       text,                          -- the connector's own resume point (commit, JSON...)
    status       text NOT NULL DEFAULT 'new',   -- new | queued | running | ok | error
    last_error   jsonb,                         -- {code, message} of the last failed run
    next_run_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connectors_due ON connectors (next_run_at) WHERE enabled AND interval_s IS NOT NULL;

-- One row per sync run; its counters are updated in the same transaction as each item's effect,
-- so a run resumed after a crash counts every item once.
CREATE TABLE connector_runs (
    id            bigserial PRIMARY KEY,
    connector_id  bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    job_id        bigint,
    status        text NOT NULL DEFAULT 'queued',  -- queued | running | done | failed
    trigger       text NOT NULL DEFAULT 'manual',  -- manual | schedule
    listed        integer NOT NULL DEFAULT 0,
    processed     integer NOT NULL DEFAULT 0,
    added         integer NOT NULL DEFAULT 0,
    updated       integer NOT NULL DEFAULT 0,
    unchanged     integer NOT NULL DEFAULT 0,
    deleted       integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    deferred      integer NOT NULL DEFAULT 0,
    error         jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX connector_runs_connector ON connector_runs (connector_id, id DESC);

-- What Tether holds of each item at the source: the version it last applied (ETag, mtime,
-- blob id... with the permissions), the document it became, and failures with their backoff.
CREATE TABLE connector_items (
    connector_id     bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    external_id      text NOT NULL,
    version          text,                       -- NULL until applied once
    document_id      bigint REFERENCES documents (id) ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'ok', -- ok | failed
    attempts         integer NOT NULL DEFAULT 0, -- consecutive failures
    next_attempt_at  timestamptz,                -- a failed item is retried from then on
    error            jsonb,
    ref              jsonb,                      -- the listing entry, to retry a failed item
    run_id           bigint,                     -- the run that last applied it (a resumed run skips it)
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, external_id)
);
CREATE INDEX connector_items_failed ON connector_items (connector_id, next_attempt_at) WHERE status = 'failed';
