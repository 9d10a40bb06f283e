"""Where a stored document came from: the ingest request of its latest successful job.

Re-indexing and ACL edits replay that request (with changes), so the ingest pipeline stays
the only writer of documents; an unchanged file with a new ACL becomes a metadata update.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow

from tether.store.rows import one


def last_ingest_request(conn: psycopg.Connection[DictRow], doc_id: int) -> dict | None:
    """The payload (an ``IngestRequest`` as a dict) of the last done job that wrote ``doc_id``."""
    row = conn.execute(
        "SELECT payload FROM jobs WHERE kind = 'ingest_file' AND status = 'done'"
        " AND (result->>'document_id')::bigint = %s ORDER BY id DESC LIMIT 1",
        (doc_id,),
    ).fetchone()
    return dict(row["payload"]) if row else None


def collection_names(conn: psycopg.Connection[DictRow]) -> list[str]:
    return [r["name"] for r in conn.execute("SELECT name FROM collections ORDER BY name").fetchall()]


def documents_under(conn: psycopg.Connection[DictRow], collection: str, uri_prefix: str) -> list[dict]:
    """Id and source URI of every document of ``collection`` whose source starts with the prefix."""
    return conn.execute(
        "SELECT d.id, d.source_uri FROM documents d JOIN collections c ON c.id = d.collection_id"
        " WHERE c.name = %s AND starts_with(d.source_uri, %s)",
        (collection, uri_prefix),
    ).fetchall()


def corpus_size(conn: psycopg.Connection[DictRow]) -> dict[str, int]:
    """How many documents and chunks the database holds."""
    row = one(conn.execute("SELECT count(*) AS n, (SELECT count(*) FROM chunks) AS c FROM documents"))
    return {"documents": int(row["n"]), "chunks": int(row["c"])}
