-- Languages (issue 24): the language a document and each of its chunks were analysed in for BM25
-- (ISO 639-1: en, pt, nl, de, fr, es; detected at ingest, see tether/text/languages.py). A
-- chunk's BM25 terms are its language's stems (non-English ones prefixed 'pt:', 'nl:'...), so
-- the column says which analyzer wrote its postings. Rows written before this migration were
-- analysed as English.
ALTER TABLE documents ADD COLUMN language text NOT NULL DEFAULT 'en';
ALTER TABLE chunks ADD COLUMN language text NOT NULL DEFAULT 'en';
