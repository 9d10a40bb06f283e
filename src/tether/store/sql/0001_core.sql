-- Core schema: identities, collections, documents, chunks (with ACL copy), BM25 index, jobs.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE principals (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    kind        text NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'service')),
    role        text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member', 'reviewer')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    principal_id bigint NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    group_id     bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (principal_id, group_id)
);

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    principal_id bigint NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    prefix       text NOT NULL,
    key_hash     text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE collections (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Settings of the index that must not silently change (embedding model name and dimension).
CREATE TABLE index_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE documents (
    id              bigserial PRIMARY KEY,
    collection_id   bigint NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    source_uri      text NOT NULL,
    title           text NOT NULL DEFAULT '',
    format          text NOT NULL,
    content_hash    text NOT NULL,
    version         int  NOT NULL DEFAULT 1,
    classification  text NOT NULL DEFAULT 'internal',
    owner_id        bigint REFERENCES principals(id) ON DELETE SET NULL,
    acl             text[] NOT NULL,          -- tokens: 'public', 'u:<id>', 'g:<id>'
    size_bytes      bigint NOT NULL DEFAULT 0,
    body            text NOT NULL,            -- extracted text; chunk offsets index into it
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection_id, source_uri)
);
CREATE INDEX documents_acl_gin ON documents USING gin (acl);

CREATE TABLE chunks (
    id              bigserial PRIMARY KEY,
    document_id     bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    collection_id   bigint NOT NULL,
    ordinal         int  NOT NULL,
    text            text NOT NULL,
    char_start      int  NOT NULL,
    char_end        int  NOT NULL,
    section_path    text[] NOT NULL DEFAULT '{}',
    page            int,
    token_count     int  NOT NULL,
    -- copies of the document's filterable fields, so both searches filter inside one query
    acl             text[] NOT NULL,
    classification  text NOT NULL,
    source_uri      text NOT NULL,
    doc_date        timestamptz NOT NULL,
    quarantined     boolean NOT NULL DEFAULT false,
    bm25_len        int  NOT NULL DEFAULT 0,
    embedding       vector,
    UNIQUE (document_id, ordinal),
    CHECK (char_end >= char_start)
);
CREATE INDEX chunks_acl_gin ON chunks USING gin (acl);
CREATE INDEX chunks_collection ON chunks (collection_id);

-- BM25: term dictionary with document frequencies, and an impact table of postings.
-- weight = tf*(k1+1)/(tf + k1*(1-b+b*len/avgdl)) at the avgdl current when written; exact
-- scores are recomputed from tf and the chunk length at query time.
CREATE TABLE bm25_terms (
    id    serial PRIMARY KEY,
    term  text NOT NULL UNIQUE,
    df    int  NOT NULL DEFAULT 0
);

CREATE TABLE bm25_postings (
    term_id   int    NOT NULL REFERENCES bm25_terms(id),
    chunk_id  bigint NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    tf        int    NOT NULL,
    weight    real   NOT NULL,
    PRIMARY KEY (term_id, chunk_id)
);
CREATE INDEX bm25_postings_impact ON bm25_postings (term_id, weight DESC) INCLUDE (chunk_id, tf);
CREATE INDEX bm25_postings_chunk ON bm25_postings (chunk_id);

CREATE TABLE bm25_stats (
    id          int PRIMARY KEY CHECK (id = 1),
    n_chunks    bigint NOT NULL DEFAULT 0,
    total_len   bigint NOT NULL DEFAULT 0
);
INSERT INTO bm25_stats (id) VALUES (1);

-- Keep df and collection statistics exact under every insert and delete (cascades included).
CREATE FUNCTION bm25_postings_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM bm25_terms t WHERE t.id IN (SELECT DISTINCT term_id FROM new_rows) ORDER BY t.id FOR UPDATE;
    UPDATE bm25_terms t SET df = t.df + d.n
      FROM (SELECT term_id, count(*) AS n FROM new_rows GROUP BY term_id) d WHERE t.id = d.term_id;
    RETURN NULL;
END $$;

CREATE FUNCTION bm25_postings_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM bm25_terms t WHERE t.id IN (SELECT DISTINCT term_id FROM old_rows) ORDER BY t.id FOR UPDATE;
    UPDATE bm25_terms t SET df = t.df - d.n
      FROM (SELECT term_id, count(*) AS n FROM old_rows GROUP BY term_id) d WHERE t.id = d.term_id;
    RETURN NULL;
END $$;

CREATE TRIGGER bm25_postings_ins AFTER INSERT ON bm25_postings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bm25_postings_ins();
CREATE TRIGGER bm25_postings_del AFTER DELETE ON bm25_postings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bm25_postings_del();

CREATE FUNCTION chunks_stats_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bm25_stats SET n_chunks = n_chunks + (SELECT count(*) FROM new_rows),
                          total_len = total_len + (SELECT coalesce(sum(bm25_len), 0) FROM new_rows)
     WHERE id = 1;
    RETURN NULL;
END $$;

CREATE FUNCTION chunks_stats_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bm25_stats SET n_chunks = n_chunks - (SELECT count(*) FROM old_rows),
                          total_len = total_len - (SELECT coalesce(sum(bm25_len), 0) FROM old_rows)
     WHERE id = 1;
    RETURN NULL;
END $$;

CREATE TRIGGER chunks_stats_ins AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chunks_stats_ins();
CREATE TRIGGER chunks_stats_del AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION chunks_stats_del();

-- Jobs: a queue in PostgreSQL shared by any number of workers.
CREATE TABLE jobs (
    id            bigserial PRIMARY KEY,
    batch_id      text NOT NULL,
    kind          text NOT NULL,
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts      int  NOT NULL DEFAULT 0,
    worker        text,
    worker_pid    int,               -- backend pid of the worker's session connection
    heartbeat_at  timestamptz,
    result        jsonb,
    error         jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX jobs_pending ON jobs (id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_batch ON jobs (batch_id);
