-- Per-API-key upload quotas (issue 17). A document remembers the API key that last wrote it
-- (NULL: a session, the CLI or a connector), so documents and bytes held can be counted per
-- key as well as per owner. A key may carry its own limits (NULL: the ``[ingest] key_max_*``
-- default); these apply to whoever uses the key, administrators included.
ALTER TABLE documents ADD COLUMN api_key_id bigint REFERENCES api_keys(id) ON DELETE SET NULL;
CREATE INDEX documents_api_key ON documents (api_key_id) WHERE api_key_id IS NOT NULL;

ALTER TABLE api_keys ADD COLUMN max_documents integer CHECK (max_documents >= 0);
ALTER TABLE api_keys ADD COLUMN max_bytes bigint CHECK (max_bytes >= 0);
ALTER TABLE api_keys ADD COLUMN max_chunks_per_document integer CHECK (max_chunks_per_document >= 0);
ALTER TABLE api_keys ADD COLUMN max_active_jobs integer CHECK (max_active_jobs >= 0);
