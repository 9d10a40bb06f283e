"""Ingest one file: load -> chunk -> analyse (BM25 terms) -> embed -> one write transaction.

The expensive work (parsing, embedding) happens before the transaction opens; the content hash
is checked first so an unchanged file costs one read and one query.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import psycopg
from psycopg.rows import DictRow

from tether.embed.base import Embedder, index_embedder
from tether.errors import DocumentTooComplex, FileTooLarge, IngestError, NotFound, TetherError
from tether.ingest.chunker import chunk_document
from tether.ingest.loaders import LoadOptions, load_bytes
from tether.retrieve.keyword import analyze
from tether.settings import Settings
from tether.store import audit
from tether.store import documents as docs
from tether.store.collections import check_publish
from tether.store.principals import acl_tokens, get_principal
from tether.store.rows import one
from tether.text.languages import detect
from tether.types import Acl, ChunkSpan, LoadedDocument

log = logging.getLogger(__name__)


@dataclass
class IngestRequest:
    path: str
    collection: str = "default"
    acl: list[str] = field(default_factory=list)
    owner: str | None = None
    classification: str = "internal"
    title: str | None = None
    source_uri: str | None = None
    #: A re-index of this document: it must still exist when the job runs (a deleted document
    #: is not brought back).
    document_id: int | None = None
    #: An audit record (``action``, ``actor_id``, ``details``) written with the document, so a
    #: change that fails leaves none.
    audit: dict | None = None
    #: The API key the upload came with (documents and jobs are counted per key, ``store/quotas``)
    #: and the uploader's tightest per-user or per-key chunk limit (None: only the server's).
    api_key_id: int | None = None
    max_chunks: int | None = None

    def uri(self) -> str:
        return self.source_uri or Path(self.path).resolve().as_uri()


@dataclass
class IngestResult:
    path: str
    status: str  # created | updated | unchanged | metadata | failed
    document_id: int | None = None
    version: int | None = None
    chunks: int = 0
    seconds: float = 0.0
    error: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def load_options(settings: Settings) -> LoadOptions:
    """The loaders' limits and switches from the settings. A table's header row is repeated
    every ``1.5 * chunk.max_tokens`` characters of rows (tables run about 2.3 characters per
    WordPiece token), so a group of rows with its header fits in one chunk."""
    ing = settings.ingest
    return LoadOptions(
        max_unpacked_bytes=ing.max_unpacked_bytes, max_entries=ing.max_archive_entries,
        max_attachments=ing.max_attachments, max_depth=ing.max_attachment_depth, ocr=ing.ocr,
        ocr_dpi=ing.ocr_dpi, ocr_engine=ing.ocr_engine, ocr_languages=tuple(ing.ocr_languages),
        table_group_chars=max(settings.chunk.max_tokens * 3 // 2, 80),
    )


def prepare_chunks(
    loaded: LoadedDocument, embedder: Embedder, settings: Settings, *, max_chunks: int | None = None
) -> tuple[list[ChunkSpan], list[list[str]], list[str]]:
    """Chunks, their BM25 terms (in each chunk's language) and the texts to embed (capped
    section path + chunk text). The document's language goes to ``loaded.metadata["language"]``.

    Refuses (``DocumentTooComplex``), before anything is embedded, a document with a heading
    over ``ingest.max_heading_chars`` or more than ``ingest.max_chunks_per_document`` chunks (or
    ``max_chunks``, the uploader's per-user or per-key limit, when that is lower)."""
    chunks = chunk_document(
        loaded,
        count_tokens=embedder.count_tokens,
        max_tokens=settings.chunk.max_tokens,
        overlap_tokens=settings.chunk.overlap_tokens,
        min_tokens=settings.chunk.min_tokens,
    )
    check_complexity(chunks, settings, max_chunks=max_chunks)
    cap = settings.chunk.max_context_chars
    loaded.metadata["language"], chunks = detect_languages(loaded, chunks, tuple(settings.ingest.languages))
    texts = [_with_context(loaded.title, c, cap) for c in chunks]
    terms = [analyze(t, c.language) for t, c in zip(texts, chunks)]
    return chunks, terms, texts


def detect_languages(
    loaded: LoadedDocument, chunks: list[ChunkSpan], languages: tuple[str, ...]
) -> tuple[str, list[ChunkSpan]]:
    """The document's language, and its chunks each with theirs: a chunk keeps the document's
    unless it is clearly in another (strict evidence, so tables, names and short chunks inherit)."""
    lang = detect(loaded.text, default=languages[0], languages=languages)
    return lang, [
        replace(c, language=detect(c.text, default=lang, languages=languages, min_score=3.0, margin=2.0))
        for c in chunks
    ]


def check_complexity(chunks: list[ChunkSpan], settings: Settings, *, max_chunks: int | None = None) -> None:
    """``DocumentTooComplex`` when a heading or the chunk count is over the ingest limits (the
    server's, or the uploader's ``max_chunks`` when lower)."""
    limits = settings.ingest
    longest = max((len(h) for c in chunks for h in c.section_path), default=0)
    if longest > limits.max_heading_chars:
        raise DocumentTooComplex(
            f"the document has a heading of {longest:,} characters; the limit is {limits.max_heading_chars:,}"
            " (a heading is repeated into every chunk of its section)",
            heading_chars=longest, limit=limits.max_heading_chars)
    widest = max((c.end - c.start for c in chunks), default=0)
    if widest > limits.max_chunk_chars:
        raise DocumentTooComplex(
            f"the document has a chunk of {widest:,} characters; the limit is {limits.max_chunk_chars:,}"
            " (a word or line too long to split)", chunk_chars=widest, limit=limits.max_chunk_chars)
    limit, whose = limits.max_chunks_per_document, ""
    if max_chunks and max_chunks < limit:
        limit, whose = max_chunks, " for your uploads"
    if len(chunks) > limit:
        raise DocumentTooComplex(
            f"the document would make {len(chunks):,} chunks; the limit{whose} is {limit:,}",
            chunks=len(chunks), limit=limit)


def scan_chunks(chunks: list[ChunkSpan], settings: Settings) -> list[tuple[bool, float, list[str]]]:
    """Indirect prompt-injection scan of every chunk: (quarantine?, score, reasons).

    Only the project's rules quarantine a chunk. The jailguard classifier (when
    ``ingest_classifier`` is on) can only flag one for review: measured on business text it
    fires on benign passages (salary tables, reference codes), and quarantining those would
    silently remove real content from every answer."""
    from tether.guard.injection import InjectionGuard

    gs = settings.guard
    mode = "combined" if settings.ingest_classifier else "heuristics"
    guard = InjectionGuard(gs.model_copy(update={"injection_mode": mode}), "context", at="ingest")
    out = []
    for clf, heur, hits in guard.scores([c.text for c in chunks]):
        reasons = [f"rule:{n}" for n in dict.fromkeys(h.name for h in hits)]
        clf_hit = mode != "heuristics" and clf >= guard.classifier_threshold
        if clf_hit:
            reasons.insert(0, f"classifier:{clf:.2f}")
        quarantine = heur >= gs.injection_threshold
        shown = reasons if (quarantine or clf_hit) else []
        out.append((quarantine, float(max(clf, heur)), shown))
    return out


def _with_context(title: str, chunk: ChunkSpan, cap: int = 300) -> str:
    """The chunk text prefixed by where it sits (title > sections, at most ``cap`` characters:
    the prefix repeats in every chunk of a section)."""
    path = [p for p in (title, *chunk.section_path) if p]
    head = " > ".join(dict.fromkeys(path))
    if len(head) > cap:
        head = head[: max(0, cap - 1)].rstrip() + "…" if cap else ""
    return f"{head}\n{chunk.text}" if head else chunk.text


def read_source(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLarge(
            f"{path.name} is {size:,} bytes; the limit is {max_bytes:,} bytes", size=size, limit=max_bytes
        )
    return path.read_bytes()


def ingest_one(
    conn: psycopg.Connection[DictRow], embedder: Embedder, settings: Settings, req: IngestRequest,
    *, on_commit: Callable[[psycopg.Connection[DictRow], IngestResult], None] | None = None,
) -> IngestResult:
    """Ingest ``req`` with ``conn`` (committed on success). ``on_commit(conn, result)`` runs in
    the same transaction just before commit (the worker marks its job done there)."""
    t0 = time.perf_counter()
    path = Path(req.path)
    data = read_source(path, settings.ingest.max_file_bytes)
    content_hash = hashlib.sha256(data).hexdigest()
    acl = Acl.parse(req.acl, owner=req.owner)

    with conn.transaction():
        tokens, owner_id = acl_tokens(conn, acl)
        existing = docs.find(conn, req.collection, req.uri())
        check_request(conn, req, existing)
    if existing is not None and existing["content_hash"] == content_hash:
        loaded = None  # content unchanged: no parsing or embedding needed
    else:
        loaded = load_bytes(data, path.name, max_bytes=settings.ingest.max_file_bytes,
                            options=load_options(settings))

    if loaded is not None:
        chunks, terms, texts = prepare_chunks(loaded, embedder, settings, max_chunks=req.max_chunks)
        vectors = index_embedder(embedder).embed(texts)
        guard = scan_chunks(chunks, settings) if settings.scan_ingest else None
        body, fmt, meta = loaded.text, loaded.format, dict(loaded.metadata)
        title = req.title or loaded.title or path.stem
    else:
        chunks, terms, vectors, guard = [], [], None, None
        assert existing is not None  # nothing loaded: the stored document is unchanged
        body, fmt, meta = existing["body"], existing["format"], existing["metadata"]
        title = req.title or existing["title"]

    write = docs.DocumentWrite(
        collection=req.collection, source_uri=req.uri(), title=title, format=fmt,
        content_hash=content_hash, classification=req.classification, owner_id=owner_id,
        acl=tokens, size_bytes=len(data), body=body, metadata=meta, language=str(meta.get("language", "en")),
        api_key_id=req.api_key_id,
    )
    with conn.transaction():
        docs.ensure_embedding_index(conn, index_embedder(embedder).name, index_embedder(embedder).dimension)
        if loaded is None:
            # re-check inside the transaction; the content may have changed meanwhile
            doc_id, version, status = docs.write_document(
                conn, write, [], None, [], k1=settings.retrieve.k1, b=settings.retrieve.b  # type: ignore[arg-type]
            )
            if status not in ("unchanged", "metadata"):
                raise IngestError(f"{path.name} changed while it was being ingested; retry")
            n_chunks = int(one(conn.execute("SELECT count(*) AS n FROM chunks WHERE document_id = %s",
                                            (doc_id,)))["n"])
        else:
            assert vectors is not None  # embedded above whenever something was loaded
            doc_id, version, status = docs.write_document(
                conn, write, chunks, vectors, terms, k1=settings.retrieve.k1, b=settings.retrieve.b,
                guard=guard,
            )
            n_chunks = len(chunks)
        result = IngestResult(str(path), status, doc_id, version, n_chunks, time.perf_counter() - t0)
        if req.audit:
            audit.record(conn, str(req.audit["action"]), actor_id=req.audit.get("actor_id"),
                         details={**(req.audit.get("details") or {}), "version": version})
        if on_commit is not None:
            on_commit(conn, result)
    return result


def check_request(conn: psycopg.Connection[DictRow], req: IngestRequest, existing: dict | None) -> None:
    """Checks made when the job runs (rights may have changed since it was queued): a re-index of
    a document deleted meanwhile is refused (NotFound), and an upload whose owner may no longer
    publish into the collection is refused (PermissionDenied). Both are final: no retry."""
    if req.document_id is not None and (existing is None or int(existing["id"]) != req.document_id):
        raise NotFound(f"document {req.document_id} was deleted before its re-index ran; it is not re-created")
    if req.owner:
        owner = get_principal(conn, req.owner)
        if not owner.is_system:
            check_publish(conn, owner, req.collection)


def error_dict(exc: BaseException) -> dict:
    if isinstance(exc, TetherError):
        return {"code": exc.code, "message": exc.message}
    if isinstance(exc, psycopg.errors.DataError | psycopg.errors.ProgramLimitExceeded):  # final (worker)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {"code": IngestError.code, "message": f"the database refused the document: {first}"}
    return {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}
