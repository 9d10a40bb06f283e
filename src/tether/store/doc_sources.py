"""Where a stored document came from: the ingest request of its latest successful job.

Re-indexing and ACL edits replay that request (with changes), so the ingest pipeline stays
the only writer of documents; an unchanged file with a new ACL becomes a metadata update.
"""

from __future__ import annotations

import psycopg


def last_ingest_request(conn: psycopg.Connection, doc_id: int) -> dict | None:
    """The payload (an ``IngestRequest`` as a dict) of the last done job that wrote ``doc_id``."""
    row = conn.execute(
        "SELECT payload FROM jobs WHERE kind = 'ingest_file' AND status = 'done'"
        " AND (result->>'document_id')::bigint = %s ORDER BY id DESC LIMIT 1",
        (doc_id,),
    ).fetchone()
    return dict(row["payload"]) if row else None


def collection_names(conn: psycopg.Connection) -> list[str]:
    return [r["name"] for r in conn.execute("SELECT name FROM collections ORDER BY name").fetchall()]
