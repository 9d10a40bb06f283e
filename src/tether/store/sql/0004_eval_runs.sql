-- Evaluation runs of golden sets (`tether eval run`) and one row per asked case.

CREATE TABLE eval_runs (
    id            bigserial PRIMARY KEY,
    run_key       text NOT NULL UNIQUE,      -- the id written in the run's JSON file
    name          text NOT NULL,             -- golden set (or adapter) name
    source        text NOT NULL DEFAULT '',  -- golden file path or adapter spec
    model         text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- repeat, after_update, git revision, ...
    metrics       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- overall figures
    slices        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- per tag value
    gate          jsonb,                               -- baseline comparison, when one was asked
    passed        boolean                              -- the gate's verdict (NULL: no gate)
);
CREATE INDEX eval_runs_name ON eval_runs (name, started_at DESC);

CREATE TABLE eval_results (
    id            bigserial PRIMARY KEY,
    run_id        bigint NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
    phase         text NOT NULL DEFAULT 'run' CHECK (phase IN ('run', 'after_update')),
    repeat        int  NOT NULL DEFAULT 0,
    case_id       text NOT NULL,
    principal     text NOT NULL,
    question      text NOT NULL,
    passed        boolean NOT NULL,
    outcome       jsonb NOT NULL,            -- answer text, citations, verdicts, latency, cost
    metrics       jsonb NOT NULL,
    UNIQUE (run_id, phase, repeat, case_id)
);
CREATE INDEX eval_results_case ON eval_results (case_id, run_id);
