-- Publishing rights and resource limits (issue 17).
-- A collection says who may add or replace documents in it (``writers``: ACL tokens 'u:<id>' /
-- 'g:<id>'; NULL = every member) and whether its documents are authoritative (answers prefer
-- them and label the others). An authoritative collection with no writers listed is written by
-- administrators only.
ALTER TABLE collections ADD COLUMN authoritative boolean NOT NULL DEFAULT false;
ALTER TABLE collections ADD COLUMN writers text[];

-- Per-owner quota look-ups (documents and bytes an uploader holds).
CREATE INDEX documents_owner ON documents (owner_id) WHERE owner_id IS NOT NULL;

-- Who asked the question a cached answer was made for: semantic (paraphrase) hits are served only
-- to the same asker, because an answer may restate its question and another user's question text
-- is not theirs to see. Exact hits (the same normalised question) stay shared within a permission key.
ALTER TABLE answer_cache ADD COLUMN asker_id bigint;
