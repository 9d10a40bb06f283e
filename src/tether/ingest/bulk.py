"""Bulk indexing of many in-memory texts (evaluation corpora, benchmarks, migrations).

Same chunking, analysis, embedding and store write as the file pipeline, but embeddings are
computed across documents in length-sorted batches and documents are written many per
transaction, which is what makes tens of thousands of documents practical on two cores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tether.embed.base import Embedder, index_embedder
from tether.ingest.loaders import load_bytes
from tether.ingest.pipeline import prepare_chunks
from tether.settings import Settings
from tether.store import documents as docs
from tether.store.db import Database


@dataclass(frozen=True)
class TextItem:
    uri: str
    title: str
    text: str
    acl: tuple[str, ...] = ("public",)  # stored ACL tokens
    classification: str = "internal"


def index_texts(
    db: Database, embedder: Embedder, settings: Settings, items: Iterable[TextItem], *,
    collection: str, group_size: int = 256, progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Index ``items``; returns counts. ``progress(n_docs_done)`` is called after each group."""
    counts = {"documents": 0, "chunks": 0}
    items = list(items)
    with db.transaction() as conn:
        docs.ensure_embedding_index(conn, index_embedder(embedder).name, index_embedder(embedder).dimension)
    for g in range(0, len(items), group_size):
        group = items[g : g + group_size]
        prepared = []
        all_texts: list[str] = []
        for it in group:
            loaded = load_bytes(it.text.encode("utf-8"), "item.txt", max_bytes=settings.ingest.max_file_bytes)
            loaded.title = ""
            chunks, terms, texts = prepare_chunks(loaded, embedder, settings)
            prepared.append((it, loaded, chunks, terms, len(all_texts)))
            all_texts += texts
        vectors = index_embedder(embedder).embed(all_texts)
        with db.transaction() as conn:
            for it, loaded, chunks, terms, offset in prepared:
                write = docs.DocumentWrite(
                    collection=collection, source_uri=it.uri, title=it.title, format="txt",
                    content_hash=hashlib.sha256(it.text.encode("utf-8")).hexdigest(),
                    classification=it.classification, owner_id=None, acl=list(it.acl),
                    size_bytes=len(it.text.encode("utf-8")), body=loaded.text, metadata={},
                    language=str(loaded.metadata.get("language", "en")),
                )
                docs.write_document(conn, write, chunks, vectors[offset : offset + len(chunks)], terms,
                                    k1=settings.retrieve.k1, b=settings.retrieve.b)
                counts["documents"] += 1
                counts["chunks"] += len(chunks)
        if progress:
            progress(counts["documents"])
    return counts
