-- Guard verdicts on chunks, the audit log, and row-level security as a second wall.

ALTER TABLE chunks ADD COLUMN guard_score real;
ALTER TABLE chunks ADD COLUMN guard_reasons text[] NOT NULL DEFAULT '{}';
CREATE INDEX chunks_quarantined ON chunks (document_id) WHERE quarantined;

-- Append-only: no UPDATE or DELETE is ever issued by the application (a trigger refuses them).
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_id      bigint,            -- principal id (NULL: the system / CLI operator)
    action        text NOT NULL,     -- ask, search, guard.block, admin.user.add, acl.change, ...
    target        text,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Row-level security: searches on behalf of a principal run as the role tether_reader with
-- the principal's ACL tokens in the setting tether.acl; the policies then hide every row the
-- principal may not read, even if the application's own filter had a bug.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tether_reader') THEN
        CREATE ROLE tether_reader NOLOGIN;
    END IF;
    EXECUTE format('GRANT tether_reader TO %I', current_user);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot create role tether_reader; row-level security stays off (application filter only)';
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tether_reader') THEN
        GRANT USAGE ON SCHEMA public TO tether_reader;
        GRANT SELECT ON chunks, documents, collections, bm25_terms, bm25_postings, bm25_stats, index_meta
            TO tether_reader;
    END IF;
END $$;

ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION tether_acl() RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT string_to_array(nullif(current_setting('tether.acl', true), ''), ',')
$$;

-- The tables' owner (the application's own connection) bypasses RLS as owners do; every other
-- role sees only rows whose ACL shares a token with tether.acl (no setting: nothing).
CREATE POLICY chunks_reader ON chunks FOR SELECT USING (acl && tether_acl());
CREATE POLICY documents_reader ON documents FOR SELECT USING (acl && tether_acl());
