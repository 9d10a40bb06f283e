-- Answer cache (src/tether/cache/answers.py): exact and semantic entries, each scoped by the
-- asker's effective permission key and the index version of those permissions.
CREATE TABLE answer_cache (
    id            bigserial PRIMARY KEY,
    key_hash      text NOT NULL UNIQUE,     -- exact key: normalised question + scope
    scope_hash    text NOT NULL,            -- model, schema, filter, permission key, index version, config
    perm_key      text NOT NULL,            -- hash of the asker's sorted effective ACL tokens
    index_version text NOT NULL,            -- hash of those tokens' change counters (answer_cache_changes)
    question_sig  text NOT NULL DEFAULT '', -- numbers, negations, contrast words (semantic hits need equality)
    embedding     vector,                   -- the question's embedding (no fixed dimension: exact scan per scope)
    model         text NOT NULL,
    answer        jsonb NOT NULL,           -- the answer as served: after grounding and the output guard
    passages      jsonb NOT NULL,           -- the packed sources the model saw, [1]..[n]
    doc_ids       bigint[] NOT NULL,        -- every source document (cited and packed) ...
    doc_versions  int[] NOT NULL,           -- ... with its version ...
    doc_stamps    timestamptz[] NOT NULL,   -- ... and updated_at (metadata/ACL changes keep the version)
    chunk_ids     bigint[] NOT NULL,
    confidence    real NOT NULL DEFAULT 0,
    cost_usd      double precision NOT NULL DEFAULT 0,  -- what the original answer cost (saved per hit)
    latency_ms    double precision NOT NULL DEFAULT 0,  -- how long it took
    hits          bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_hit_at   timestamptz,
    CHECK (cardinality(doc_ids) = cardinality(doc_versions) AND cardinality(doc_ids) = cardinality(doc_stamps))
);
CREATE INDEX answer_cache_scope ON answer_cache (scope_hash, question_sig);
CREATE INDEX answer_cache_created ON answer_cache (created_at);
CREATE INDEX answer_cache_expires ON answer_cache (expires_at);

-- Hit/miss counters, sharded so concurrent requests do not queue on one row.
CREATE TABLE answer_cache_counters (
    shard          int PRIMARY KEY,
    hits_exact     bigint NOT NULL DEFAULT 0,
    hits_semantic  bigint NOT NULL DEFAULT 0,
    misses         bigint NOT NULL DEFAULT 0,
    stores         bigint NOT NULL DEFAULT 0,
    invalidated    bigint NOT NULL DEFAULT 0,
    evicted        bigint NOT NULL DEFAULT 0,
    saved_usd      double precision NOT NULL DEFAULT 0,
    saved_ms       double precision NOT NULL DEFAULT 0
);

-- Index version per ACL token: every insert, update or delete of a document (and every update
-- of chunks: quarantine, ACL copies) appends one row per token of its old and new ACL. A
-- token's version is sum(n) over its rows; rows are only ever inserted by writers (no lock
-- held, no ordering between concurrent ingests), and the cache compacts a token's rows into
-- one (same sum) now and then.
CREATE TABLE answer_cache_changes (
    token  text NOT NULL,
    n      bigint NOT NULL DEFAULT 1
);
CREATE INDEX answer_cache_changes_token ON answer_cache_changes (token) INCLUDE (n);

-- documents that already exist count as one change of each of their tokens
INSERT INTO answer_cache_changes (token, n)
SELECT t, 1 FROM (SELECT DISTINCT unnest(acl) AS t FROM documents) x;

CREATE FUNCTION answer_cache_touch_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO answer_cache_changes (token, n)
    SELECT t, 1 FROM (SELECT DISTINCT unnest(acl) AS t FROM new_rows) x;
    RETURN NULL;
END $$;

CREATE FUNCTION answer_cache_touch_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO answer_cache_changes (token, n)
    SELECT t, 1 FROM (SELECT DISTINCT unnest(acl) AS t FROM old_rows) x;
    RETURN NULL;
END $$;

CREATE FUNCTION answer_cache_touch_both() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO answer_cache_changes (token, n)
    SELECT t, 1 FROM (SELECT unnest(acl) AS t FROM new_rows UNION SELECT unnest(acl) FROM old_rows) x;
    RETURN NULL;
END $$;

CREATE TRIGGER answer_cache_documents_ins AFTER INSERT ON documents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION answer_cache_touch_new();
CREATE TRIGGER answer_cache_documents_upd AFTER UPDATE ON documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION answer_cache_touch_both();
CREATE TRIGGER answer_cache_documents_del AFTER DELETE ON documents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION answer_cache_touch_old();
CREATE TRIGGER answer_cache_chunks_upd AFTER UPDATE ON chunks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION answer_cache_touch_both();

-- TRUNCATE names no rows: every entry goes
CREATE FUNCTION answer_cache_flush() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM answer_cache;
    RETURN NULL;
END $$;
CREATE TRIGGER answer_cache_documents_truncate AFTER TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION answer_cache_flush();

-- the hit check runs as tether_reader (row-level security on documents and chunks underneath
-- the explicit ACL predicate), so that role reads the entries it validates
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tether_reader') THEN
        GRANT SELECT ON answer_cache TO tether_reader;
    END IF;
END $$;
