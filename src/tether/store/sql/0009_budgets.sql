-- Spending budgets per user, group or API key, per day or month (UTC), soft (warn) or hard (refuse),
-- with a spend ledger per budget and period and the open reservations (holds) of requests in flight.
CREATE TABLE budgets (
    id           bigserial PRIMARY KEY,
    scope        text NOT NULL CHECK (scope IN ('user', 'group', 'api_key')),
    principal_id bigint REFERENCES principals(id) ON DELETE CASCADE,
    group_id     bigint REFERENCES groups(id) ON DELETE CASCADE,
    api_key_id   bigint REFERENCES api_keys(id) ON DELETE CASCADE,
    scope_id     bigint GENERATED ALWAYS AS (coalesce(principal_id, group_id, api_key_id)) STORED,
    period       text NOT NULL CHECK (period IN ('day', 'month')),
    kind         text NOT NULL CHECK (kind IN ('soft', 'hard')),
    limit_usd    numeric(14, 8) NOT NULL CHECK (limit_usd >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- exactly the column of the scope is set
    CHECK ((scope = 'user') = (principal_id IS NOT NULL)
       AND (scope = 'group') = (group_id IS NOT NULL)
       AND (scope = 'api_key') = (api_key_id IS NOT NULL)),
    -- a soft and a hard budget may share a scope and period (warn at $8, refuse at $10)
    UNIQUE (scope, scope_id, period, kind)
);
CREATE INDEX budgets_principal ON budgets (principal_id) WHERE principal_id IS NOT NULL;
CREATE INDEX budgets_group ON budgets (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX budgets_api_key ON budgets (api_key_id) WHERE api_key_id IS NOT NULL;

-- The ledger: what a budget's period has spent (settled) and holds in reservations (in flight).
CREATE TABLE budget_spend (
    budget_id    bigint NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    period_start date NOT NULL,                     -- UTC day, or the first day of the UTC month
    spent_usd    numeric(14, 8) NOT NULL DEFAULT 0,
    reserved_usd numeric(14, 8) NOT NULL DEFAULT 0,
    PRIMARY KEY (budget_id, period_start)
);

-- One row per reservation and budget; a hold older than the reservation TTL belongs to a process
-- that died and is released by the next reservation on that budget.
CREATE TABLE budget_holds (
    reservation_id text NOT NULL,
    budget_id      bigint NOT NULL,
    period_start   date NOT NULL,
    amount_usd     numeric(14, 8) NOT NULL,
    created_at     timestamptz NOT NULL,
    trace_id       text,
    PRIMARY KEY (reservation_id, budget_id),
    FOREIGN KEY (budget_id, period_start) REFERENCES budget_spend (budget_id, period_start) ON DELETE CASCADE
);
CREATE INDEX budget_holds_age ON budget_holds (budget_id, period_start, created_at);

-- rollups by day / principal / key read usage_events by time (0006 indexes at and principal_id, at)
CREATE INDEX usage_events_key_at ON usage_events (api_key_id, at) WHERE api_key_id IS NOT NULL;
