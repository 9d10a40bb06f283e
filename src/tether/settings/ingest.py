"""``[chunk]`` and ``[ingest]``: how documents are cut into chunks, and the limits and job
leases of ingestion."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Language = Literal["en", "pt", "nl", "de", "fr", "es"]
#: The languages BM25 has analyzers for (tether.text.languages.LANGUAGES, checked by a test).
LANGUAGES: tuple[Language, ...] = ("en", "pt", "nl", "de", "fr", "es")


class ChunkSettings(BaseModel):
    max_tokens: int = 200
    overlap_tokens: int = 40
    min_tokens: int = 20
    #: Characters of the "title > section" context prefixed to each chunk for embedding and
    #: BM25 (the context repeats in every chunk of a section, so it is capped).
    max_context_chars: int = Field(default=300, ge=0, le=10_000)


class IngestSettings(BaseModel):
    max_file_bytes: int = 20 * 1024 * 1024
    #: Seconds without a heartbeat after which a running job is considered abandoned.
    job_lease_s: float = 30.0
    heartbeat_s: float = 5.0
    max_attempts: int = 3
    #: Pages of a PDF without a text layer go through OCR (offline); off: they stay
    #: empty and are listed in the document's ``metadata["pages_without_text"]``.
    ocr: bool = True
    #: Pixels per inch at which a scanned page is rendered for OCR.
    ocr_dpi: int = Field(default=200, ge=72, le=600)
    #: "auto": Tesseract where it is installed (``make setup-ocr``) with one of ``ocr_languages``,
    #: else rapidocr (bundled models, weaker on English); or force one of them.
    ocr_engine: Literal["auto", "tesseract", "rapidocr"] = "auto"
    #: Tesseract language models read with (installed ones only): more cost time per page.
    ocr_languages: list[str] = Field(default_factory=lambda: ["eng", "por", "nld"], min_length=1)
    #: Languages a document (and a chunk) is detected in, for BM25's stemmer and stopwords; the
    #: first is taken where the evidence is weak. ["en"]: everything is analysed as English.
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES), min_length=1)
    #: ZIP-based files (.docx, .pptx, .xlsx): caps on the declared unpacked size and the
    #: entry count, checked before parsing (zip bombs).
    max_unpacked_bytes: int = 200 * 1024 * 1024
    max_archive_entries: int = 10_000
    #: E-mail attachments loaded per message, and how deep attached messages nest.
    max_attachments: int = 50
    max_attachment_depth: int = 3
    #: Refused before embedding (``DocumentTooComplex``): a heading longer than this (it would be
    #: repeated into every chunk of its section), or more chunks than this in one document.
    max_heading_chars: int = Field(default=1000, ge=10)
    max_chunks_per_document: int = Field(default=5000, ge=1)
    #: Refused too: a chunk longer than this many characters (a word or line the tokenizer counts
    #: as one token, such as a million letters without a space, which would pass the token limits).
    max_chunk_chars: int = Field(default=20_000, ge=1000)
    #: Per-user upload quotas for non-administrators (``QuotaExceeded``); 0: no limit.
    user_max_documents: int = Field(default=1000, ge=0)
    user_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)
    user_max_active_jobs: int = Field(default=20, ge=0)
    #: A tighter chunk limit for non-administrators' uploads (0: ``max_chunks_per_document``).
    user_max_chunks_per_document: int = Field(default=0, ge=0)
    #: Per-API-key quotas (uploads through one key, counted apart from the user's other keys and
    #: sessions, and on top of the user's quotas); 0: no limit. For non-administrators' keys; a
    #: key's own limits (``tether keys create --max-documents ...``) replace these and bind
    #: administrators' keys too.
    key_max_documents: int = Field(default=0, ge=0)
    key_max_bytes: int = Field(default=0, ge=0)
    key_max_chunks_per_document: int = Field(default=0, ge=0)
    key_max_active_jobs: int = Field(default=0, ge=0)
