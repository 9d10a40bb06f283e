-- Conversations (issue 16): threads owned by one principal, and their turns. A turn keeps the
-- question as typed, the standalone question retrieval used, the answer as served (citations,
-- sentence verdicts, sources), the documents it derives from (re-checked against the reader's
-- permissions every time the turn is shown or fed to the rewriter), its trace and its cache key.
CREATE TABLE conversations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),  -- unguessable: ids reveal nothing
    principal_id  bigint NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    title         text NOT NULL DEFAULT '',
    turn_count    int NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_principal ON conversations (principal_id, updated_at DESC);
CREATE INDEX conversations_updated ON conversations (updated_at);

CREATE TABLE conversation_turns (
    id               bigserial PRIMARY KEY,
    conversation_id  uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    ordinal          int NOT NULL,                 -- 1, 2, ... within the thread
    question         text NOT NULL,                -- as the user typed it
    standalone       text NOT NULL,                -- what retrieval used (= question when not rewritten)
    rewrite          jsonb NOT NULL DEFAULT '{}',  -- kind, reason, carried terms, documents it used
    answer           jsonb NOT NULL,               -- answer (citations, verdicts), sources, model, as served
    document_ids     bigint[] NOT NULL DEFAULT '{}',  -- every document the answer derives from
    rewrite_doc_ids  bigint[] NOT NULL DEFAULT '{}',  -- documents whose text shaped the standalone question
    trace_id         text,
    cache_key        text,                         -- the answer cache entry this turn's answer may live in
    feedback         text CHECK (feedback IN ('up', 'down')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, ordinal)
);
