-- Browser sessions (the web UI signs in with an API key) and human-review requests.
-- A session stores only a SHA-256 hash of its random id; it dies with the API key it was
-- opened with (revoking the key signs the browser out on its next request).
CREATE TABLE sessions (
    id_hash       text PRIMARY KEY,
    principal_id  bigint NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    api_key_id    bigint REFERENCES api_keys(id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- "Ask a human": a question the system abstained on (or a user doubted), waiting for a reviewer.
-- Minimal on purpose: the review queue issue owns answering and routing these.
CREATE TABLE review_requests (
    id            bigserial PRIMARY KEY,
    principal_id  bigint NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    question      text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    answer        jsonb,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_requests_open ON review_requests (id) WHERE status = 'open';
