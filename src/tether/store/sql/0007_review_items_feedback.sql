-- The human hand-off queue (review items) and answer feedback.
--
-- review_requests (0002) becomes review_items: existing rows are kept ('closed' becomes
-- 'dismissed'; their source is 'user_request'). An item carries the asker's question, the draft
-- answer the system gave (or abstained with) and the evidence passages, copied from documents the
-- asker could read. Readers of the queue see evidence only from documents they may read themselves
-- (enforced by the application on every read, see store/reviews.py).
ALTER TABLE review_requests RENAME TO review_items;
ALTER SEQUENCE review_requests_id_seq RENAME TO review_items_id_seq;
ALTER INDEX review_requests_pkey RENAME TO review_items_pkey;
ALTER INDEX review_requests_open RENAME TO review_items_open;
ALTER TABLE review_items RENAME COLUMN answer TO draft_answer;
ALTER TABLE review_items DROP CONSTRAINT IF EXISTS review_requests_status_check;
UPDATE review_items SET status = 'dismissed' WHERE status = 'closed';

ALTER TABLE review_items
    ADD COLUMN source          text NOT NULL DEFAULT 'user_request',
    ADD COLUMN trace_id        text,              -- traces.id, loosely (traces are purged by age)
    ADD COLUMN evidence        jsonb NOT NULL DEFAULT '[]'::jsonb,
                               -- [{document_id, chunk_id, title, char_start, char_end, text}]
    ADD COLUMN claimed_by      bigint REFERENCES principals(id) ON DELETE SET NULL,
    ADD COLUMN claimed_at      timestamptz,
    ADD COLUMN reviewer_answer text,
    ADD COLUMN answered_by     bigint REFERENCES principals(id) ON DELETE SET NULL,
    ADD COLUMN answered_at     timestamptz,
    ADD COLUMN dismiss_reason  text,
    ADD COLUMN dismissed_by    bigint REFERENCES principals(id) ON DELETE SET NULL,
    ADD COLUMN dismissed_at    timestamptz,
    ADD COLUMN promoted        boolean NOT NULL DEFAULT false,
    ADD COLUMN golden_case_id  text,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();

ALTER TABLE review_items
    ADD CONSTRAINT review_items_status_check
        CHECK (status IN ('open', 'claimed', 'answered', 'dismissed')),
    ADD CONSTRAINT review_items_source_check
        CHECK (source IN ('abstention', 'low_confidence', 'budget_refusal', 'feedback', 'user_request')),
    ADD CONSTRAINT review_items_evidence_is_list CHECK (jsonb_typeof(evidence) = 'array');

CREATE INDEX review_items_queue ON review_items (status, source, id DESC);
CREATE INDEX review_items_asker ON review_items (principal_id, id DESC);
CREATE INDEX review_items_trace ON review_items (trace_id) WHERE trace_id IS NOT NULL;

-- Thumbs up / down on an answer, by the principal who asked it (one rating per trace and asker;
-- rating again replaces it). A thumbs-down opens a review item (review_id).
CREATE TABLE feedback (
    id            bigserial PRIMARY KEY,
    trace_id      text NOT NULL,                  -- traces.id, loosely
    principal_id  bigint NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    rating        text NOT NULL CHECK (rating IN ('up', 'down')),
    comment       text NOT NULL DEFAULT '',
    review_id     bigint REFERENCES review_items(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (trace_id, principal_id)
);
CREATE INDEX feedback_created ON feedback (created_at DESC);
CREATE INDEX feedback_rating ON feedback (rating, created_at DESC);
