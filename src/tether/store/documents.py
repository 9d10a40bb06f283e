"""Documents and their chunks: every write for one document happens in one transaction.

``write_document`` decides between insert, unchanged (same content hash), metadata-only update
(same content, new ACL/title/classification: chunk ACL copies updated, nothing re-embedded) and
replace (new content: old chunks, vectors and BM25 postings deleted, new ones inserted,
version + 1). BM25 statistics are kept exact by triggers (see sql/0001_core.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from tether.errors import ConfigError, NotFound
from tether.store.rows import one
from tether.types import ChunkSpan

WriteStatus = Literal["created", "updated", "unchanged", "metadata"]


@dataclass(frozen=True)
class DocumentWrite:
    collection: str
    source_uri: str
    title: str
    format: str
    content_hash: str
    classification: str
    owner_id: int | None
    acl: list[str]
    size_bytes: int
    body: str
    metadata: dict[str, object]
    #: The language detected for the document (its chunks carry their own).
    language: str = "en"
    #: The API key the write came through (per-key quotas, ``store/quotas``); None: none.
    api_key_id: int | None = None


def collection_id(conn: psycopg.Connection[DictRow], name: str, *, create: bool = True) -> int:
    row = conn.execute("SELECT id FROM collections WHERE name = %s", (name,)).fetchone()
    if row:
        return int(row["id"])
    if not create:
        raise NotFound(f"collection {name!r} does not exist")
    row = one(conn.execute(
        "INSERT INTO collections (name) VALUES (%s) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        (name,),
    ))
    return int(row["id"])


def ensure_embedding_index(conn: psycopg.Connection[DictRow], model: str, dimension: int) -> None:
    """Record the embedding model of the index; refuse to silently mix models."""
    conn.execute("SELECT pg_advisory_xact_lock(7370001)")
    rows = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM index_meta").fetchall()}
    if "embed_model" in rows:
        if rows["embed_model"] != model or int(rows["embed_dim"]) != dimension:
            raise ConfigError(
                f"the index was built with embedding model {rows['embed_model']} "
                f"(dimension {rows['embed_dim']}) but {model} (dimension {dimension}) is configured; "
                "run `tether reindex` to re-embed every chunk with the new model"
            )
        return
    conn.execute(
        "INSERT INTO index_meta (key, value) VALUES ('embed_model', %s), ('embed_dim', %s)",
        (model, str(dimension)),
    )
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON chunks USING hnsw "
        f"((embedding::vector({int(dimension)})) vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )


def embedding_dimension(conn: psycopg.Connection[DictRow]) -> int | None:
    row = conn.execute("SELECT value FROM index_meta WHERE key = 'embed_dim'").fetchone()
    return int(row["value"]) if row else None


def find(conn: psycopg.Connection[DictRow], collection: str, source_uri: str, *, lock: bool = False) -> dict | None:
    return conn.execute(
        "SELECT d.* FROM documents d JOIN collections c ON c.id = d.collection_id"
        " WHERE c.name = %s AND d.source_uri = %s" + (" FOR UPDATE OF d" if lock else ""),
        (collection, source_uri),
    ).fetchone()


def write_document(
    conn: psycopg.Connection[DictRow],
    doc: DocumentWrite,
    chunks: list[ChunkSpan],
    embeddings: np.ndarray,
    terms: list[list[str]],
    *,
    k1: float,
    b: float,
    guard: list[tuple[bool, float, list[str]]] | None = None,
) -> tuple[int, int, WriteStatus]:
    """Insert or replace one document with its chunks; call inside a transaction.

    ``guard`` gives per chunk (quarantined, injection score, reasons) from the ingest scan."""
    from tether.retrieve import keyword

    coll_id = collection_id(conn, doc.collection)
    # serialise writers of the same document (also when it does not exist yet)
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{coll_id}:{doc.source_uri}",))
    old = find(conn, doc.collection, doc.source_uri, lock=True)
    if old is not None and old["content_hash"] == doc.content_hash:
        same_meta = (
            sorted(old["acl"]) == sorted(doc.acl)
            and old["classification"] == doc.classification
            and old["title"] == doc.title
            and old["owner_id"] == doc.owner_id
        )
        if same_meta:
            return int(old["id"]), int(old["version"]), "unchanged"
        conn.execute(
            "UPDATE documents SET acl = %s, classification = %s, title = %s, owner_id = %s,"
            " updated_at = now() WHERE id = %s",
            (doc.acl, doc.classification, doc.title, doc.owner_id, old["id"]),
        )
        conn.execute(
            "UPDATE chunks SET acl = %s, classification = %s WHERE document_id = %s",
            (doc.acl, doc.classification, old["id"]),
        )
        return int(old["id"]), int(old["version"]), "metadata"

    if old is None:
        row = one(conn.execute(
            "INSERT INTO documents (collection_id, source_uri, title, format, content_hash, classification,"
            " owner_id, acl, size_bytes, body, metadata, language, api_key_id)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id, version, updated_at",
            (coll_id, doc.source_uri, doc.title, doc.format, doc.content_hash, doc.classification,
             doc.owner_id, doc.acl, doc.size_bytes, doc.body, Jsonb(doc.metadata), doc.language, doc.api_key_id),
        ))
        status: WriteStatus = "created"
    else:
        conn.execute("DELETE FROM chunks WHERE document_id = %s", (old["id"],))
        row = one(conn.execute(
            "UPDATE documents SET title=%s, format=%s, content_hash=%s, classification=%s, owner_id=%s,"
            " acl=%s, size_bytes=%s, body=%s, metadata=%s, language=%s, api_key_id=%s, version = version + 1,"
            " updated_at = now() WHERE id = %s RETURNING id, version, updated_at",
            (doc.title, doc.format, doc.content_hash, doc.classification, doc.owner_id, doc.acl,
             doc.size_bytes, doc.body, Jsonb(doc.metadata), doc.language, doc.api_key_id, old["id"]),
        ))
        status = "updated"
    doc_id = int(row["id"])
    if chunks:
        vecs = ["[" + ",".join(f"{x:.7g}" for x in v) + "]" for v in embeddings]
        ids = conn.execute(
            "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end,"
            " section_path, page, token_count, acl, classification, source_uri, doc_date, bm25_len, embedding,"
            " quarantined, guard_score, guard_reasons, language)"
            " SELECT %(doc)s, %(coll)s, o, t, s, e, coalesce(string_to_array(sp, chr(31)), '{}'), p, tc,"
            " %(acl)s, %(cls)s,"
            " %(uri)s, %(date)s, bl, v::vector, q, gs, coalesce(string_to_array(gr, chr(31)), '{}'), lg"
            " FROM unnest(%(o)s::int[], %(t)s::text[], %(s)s::int[], %(e)s::int[], %(sp)s::text[],"
            "  %(p)s::int[], %(tc)s::int[], %(bl)s::int[], %(v)s::text[], %(q)s::bool[], %(gs)s::real[],"
            "  %(gr)s::text[], %(lg)s::text[]) AS x(o, t, s, e, sp, p, tc, bl, v, q, gs, gr, lg)"
            " ORDER BY o RETURNING id",
            {
                "doc": doc_id, "coll": coll_id, "acl": doc.acl, "cls": doc.classification,
                "uri": doc.source_uri, "date": row["updated_at"],
                "o": [c.ordinal for c in chunks], "t": [c.text for c in chunks],
                "s": [c.start for c in chunks], "e": [c.end for c in chunks],
                "sp": ["\x1f".join(c.section_path) if c.section_path else None for c in chunks],
                "p": [c.page for c in chunks], "tc": [c.token_count for c in chunks],
                "bl": [len(t) for t in terms], "v": vecs,
                "q": [g[0] for g in guard] if guard else [False] * len(chunks),
                "gs": [g[1] for g in guard] if guard else [None] * len(chunks),
                "gr": ["\x1f".join(g[2]) or None for g in guard] if guard else [None] * len(chunks),
                "lg": [c.language for c in chunks],
            },
        ).fetchall()
        chunk_ids = [int(r["id"]) for r in ids]
        keyword.index_chunks(conn, chunk_ids, terms, k1=k1, b=b)
    return doc_id, int(row["version"]), status


def delete_document(conn: psycopg.Connection[DictRow], doc_id: int) -> bool:
    """Delete a document and everything derived from it (chunks, vectors, postings cascade)."""
    return conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,)).rowcount > 0


def list_documents(
    conn: psycopg.Connection[DictRow], acl_tokens: list[str] | None, collection: str | None = None
) -> list[dict]:
    sql = (
        "SELECT d.id, d.title, d.source_uri, d.format, d.version, d.classification, d.acl,"
        " d.size_bytes, d.updated_at, c.name AS collection,"
        " (SELECT count(*) FROM chunks k WHERE k.document_id = d.id) AS chunks"
        " FROM documents d JOIN collections c ON c.id = d.collection_id WHERE true"
    )
    params: list[object] = []
    if acl_tokens is not None:
        sql += " AND d.acl && %s::text[]"
        params.append(acl_tokens)
    if collection:
        sql += " AND c.name = %s"
        params.append(collection)
    return conn.execute(sql + " ORDER BY c.name, d.source_uri", params).fetchall()


def get_document(conn: psycopg.Connection[DictRow], doc_id: int, acl_tokens: list[str] | None) -> dict:
    """A readable document, or NotFound (the same error whether absent or forbidden)."""
    sql = (
        "SELECT d.*, c.name AS collection FROM documents d JOIN collections c ON c.id = d.collection_id"
        " WHERE d.id = %s"
    )
    params: list[object] = [doc_id]
    if acl_tokens is not None:
        sql += " AND d.acl && %s::text[]"
        params.append(acl_tokens)
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise NotFound(f"document {doc_id} not found")
    return row


def document_chunks(conn: psycopg.Connection[DictRow], doc_id: int) -> list[dict]:
    return conn.execute(
        "SELECT id, ordinal, char_start, char_end, section_path, page, token_count, text"
        " FROM chunks WHERE document_id = %s ORDER BY ordinal",
        (doc_id,),
    ).fetchall()
