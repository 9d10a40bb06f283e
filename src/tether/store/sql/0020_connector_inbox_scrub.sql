-- Issue 18: deletion reaches every copy of a document's text, failed sync jobs end their run,
-- and pushed items wait in an inbox for a worker instead of being ingested inside the request.

-- 1. A deleted document leaves nothing quotable behind. In the statement that deletes it (so in
--    the transaction that deletes its chunks, vectors and postings), every stored answer that
--    quoted it is scrubbed: conversation turns (citations and sources become tombstones, the
--    answer text and sentences go), review items (draft answer and evidence), and the cached
--    answers built on it are deleted outright (the triggers of 0010 only invalidated them).
--    Ids stay, so the read-time permission check still sees a turn derived from a document
--    nobody can read any more; no text, title, URI or section of it remains.
CREATE FUNCTION tether_tombstone_citation(c jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('number', c->'number', 'document_id', c->'document_id', 'chunk_id', NULL,
                              'title', 'source removed', 'quote', 'source removed', 'doc_start', 0,
                              'doc_end', 0, 'source_uri', '', 'page', NULL, 'authoritative', false,
                              'removed', true)
$$;

-- An Answer (text, citations, sentences, data...) that derived from one of ``gone``.
CREATE FUNCTION tether_tombstone_answer(a jsonb, gone bigint[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a IS NULL OR jsonb_typeof(a) <> 'object' THEN a ELSE
        a || jsonb_build_object(
            'text', '(source removed)',
            'citations', coalesce((
                SELECT jsonb_agg(CASE WHEN c->>'document_id' = ANY(gone::text[]) THEN tether_tombstone_citation(c)
                                      ELSE c END ORDER BY o)
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(a->'citations') = 'array' THEN a->'citations'
                                               ELSE '[]'::jsonb END) WITH ORDINALITY AS x(c, o)), '[]'::jsonb),
            'sentences', '[]'::jsonb, 'data', NULL, 'reasons', '["source_removed"]'::jsonb, 'escalate', false)
    END
$$;

-- A stored answer record (``AskResult.to_dict()``: answer, sources, model...).
CREATE FUNCTION tether_tombstone_record(r jsonb, gone bigint[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN r IS NULL OR jsonb_typeof(r) <> 'object' THEN r ELSE
        r || jsonb_build_object(
            'answer', tether_tombstone_answer(r->'answer', gone),
            'sources', coalesce((
                SELECT jsonb_agg(CASE WHEN s->>'document_id' = ANY(gone::text[])
                                      THEN jsonb_build_object('n', s->'n', 'document_id', s->'document_id',
                                                              'title', 'source removed', 'removed', true)
                                      ELSE s END ORDER BY o)
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r->'sources') = 'array' THEN r->'sources'
                                               ELSE '[]'::jsonb END) WITH ORDINALITY AS x(s, o)), '[]'::jsonb),
            'source_removed', true)
    END
$$;

CREATE FUNCTION tether_cites(a jsonb, gone bigint[]) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(a->'citations') = 'array'
                                                            THEN a->'citations' ELSE '[]'::jsonb END) c
                   WHERE c->>'document_id' = ANY(gone::text[]))
$$;

CREATE FUNCTION tether_scrub_deleted_documents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gone bigint[];
BEGIN
    SELECT array_agg(id) INTO gone FROM old_rows;
    IF gone IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE conversation_turns
       SET answer = tether_tombstone_record(answer, gone),
           standalone = CASE WHEN rewrite_doc_ids && gone THEN question ELSE standalone END,
           rewrite = CASE WHEN rewrite_doc_ids && gone
                          THEN rewrite || jsonb_build_object('standalone', question, 'carried', '[]'::jsonb,
                                                             'reason', 'source removed')
                          ELSE rewrite END
     WHERE document_ids && gone OR rewrite_doc_ids && gone;
    DELETE FROM answer_cache WHERE doc_ids && gone;
    UPDATE review_items
       SET draft_answer = CASE WHEN tether_cites(draft_answer, gone) THEN tether_tombstone_answer(draft_answer, gone)
                               ELSE draft_answer END,
           evidence = (SELECT coalesce(jsonb_agg(CASE WHEN e->>'document_id' = ANY(gone::text[])
                                                      THEN jsonb_build_object('document_id', e->'document_id',
                                                           'title', 'source removed', 'text', '', 'removed', true)
                                                      ELSE e END ORDER BY o), '[]'::jsonb)
                         FROM jsonb_array_elements(evidence) WITH ORDINALITY AS x(e, o))
     WHERE tether_cites(draft_answer, gone)
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(evidence) e WHERE e->>'document_id' = ANY(gone::text[]));
    RETURN NULL;
END $$;

CREATE TRIGGER documents_scrub_deleted AFTER DELETE ON documents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tether_scrub_deleted_documents();

CREATE INDEX conversation_turns_documents ON conversation_turns USING gin (document_ids);
CREATE INDEX conversation_turns_rewrite_documents ON conversation_turns USING gin (rewrite_doc_ids);
CREATE INDEX answer_cache_documents ON answer_cache USING gin (doc_ids);

-- Turns stored before this migration that quote documents already deleted.
UPDATE conversation_turns t
   SET answer = tether_tombstone_record(t.answer, g.gone)
  FROM (SELECT t2.id, array_agg(d) AS gone FROM conversation_turns t2, unnest(t2.document_ids) d
         WHERE NOT EXISTS (SELECT 1 FROM documents x WHERE x.id = d) GROUP BY t2.id) g
 WHERE g.id = t.id;

-- 2. A sync job that ends failed (its worker died on every attempt, or it failed for good) ends
--    its run as failed with the job's typed error, and the connector's status says so, in the
--    transaction that fails the job -- whichever worker noticed.
CREATE FUNCTION tether_connector_job_failed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    err jsonb;
BEGIN
    err := jsonb_build_object(
        'code', coalesce(NEW.error->>'code', 'worker_lost'),
        'message', 'the sync job failed after ' || NEW.attempts || ' attempt(s): '
                   || coalesce(NEW.error->>'message', 'no error recorded'),
        'attempts', NEW.attempts, 'job_id', NEW.id);
    UPDATE connector_runs SET status = 'failed', error = err, finished_at = now()
     WHERE job_id = NEW.id AND status IN ('queued', 'running');
    IF FOUND THEN
        UPDATE connectors SET status = 'error', last_error = err, updated_at = now()
         WHERE id = (NEW.payload->>'connector_id')::bigint;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_connector_sync_failed AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed'
                       AND NEW.kind = 'connector_sync')
    EXECUTE FUNCTION tether_connector_job_failed();

-- 3. The push connector's inbox: an item pushed through the API waits here (durably, with its
--    bytes) until a sync run ingests it; the run deletes the row in the transaction that writes
--    the document. One row per external id: pushing again replaces the waiting version.
CREATE TABLE connector_inbox (
    connector_id  bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    external_id   text NOT NULL,
    version       text NOT NULL,                -- sha256 of data
    data          bytea NOT NULL,
    filename      text NOT NULL,
    title         text,
    acl           text[] NOT NULL DEFAULT '{}',
    listed_by     bigint,                       -- the run that listed this version (NULL: pushed since)
    pushed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, external_id)
);
CREATE INDEX connector_inbox_unlisted ON connector_inbox (connector_id) WHERE listed_by IS NULL;
