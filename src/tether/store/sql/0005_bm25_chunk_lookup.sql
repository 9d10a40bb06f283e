-- BM25 search looks chunks up by id only to check the permission filter and read bm25_len for
-- the few candidates that can still reach the top k. A covering index makes those look-ups
-- index-only (no visit to the wide chunks row) whenever the filter uses only the ACL.
CREATE INDEX chunks_bm25_lookup ON chunks (id) INCLUDE (bm25_len, quarantined, acl);
