"""Stored documents as people see and manage them: who may read, who may change, and deletion.

The rules, decided here for the API, the CLI and the UI alike:

- **read** (``get``, ``list``): by the document's ACL, for everyone, administrators included
  (an administrator's ACL tokens give them nothing extra: answers and search obey ACLs);
- **browse** (``view``, ``catalogue``, ``collections``, ``list(every=True)``): the documents
  pages and API show administrators every document, everyone else what they may read;
- **manage** (``managed``, ``delete``, ``reindex``): the document's owner or an administrator.

An unreadable document is NotFound, with the same message as an absent one; a readable one
the caller may not manage is PermissionDenied. Writes are ingest jobs (the pipeline stays the
only writer) except deletion, which is one transaction here.
"""

from __future__ import annotations

import builtins
from pathlib import Path

from tether.errors import Conflict, InvalidInput, PermissionDenied
from tether.ingest.loaders import SUPPORTED_EXTENSIONS
from tether.ingest.pipeline import IngestRequest
from tether.services.ingest import Batch, IngestService, valid_label
from tether.services.permissions import actor_id, require_admin
from tether.store import audit, collections, doc_sources, principals
from tether.store import documents as docs
from tether.store.collections import check_publish
from tether.store.db import Database
from tether.types import Acl, Principal


def supported_extensions() -> list[str]:
    return sorted(SUPPORTED_EXTENSIONS)


class DocumentService:
    def __init__(self, db: Database, ingest: IngestService) -> None:
        self.db = db
        self.ingest = ingest

    # reading --------------------------------------------------------------------------------
    def _rows(self, conn, principal: Principal, collection: str | None, every: bool) -> list[dict]:
        if every:
            require_admin(principal, "listing every document")
        return docs.list_documents(conn, None if every else principal.acl_tokens, collection)

    def list(self, principal: Principal, collection: str | None = None, *, every: bool = False) -> list[dict]:
        """The documents ``principal`` may read (by ACL); ``every``: all of them, with their ACL
        tokens (administrators only)."""
        with self.db.connection() as conn:
            rows = self._rows(conn, principal, collection, every)
        if not every:
            for r in rows:
                r.pop("acl", None)
        return rows

    def get(self, principal: Principal, doc_id: int) -> dict:
        """A document ``principal`` may read by its ACL, with chunks and readable ACL; NotFound
        otherwise (the same error as for an id that does not exist)."""
        return self._get(doc_id, principal.acl_tokens)

    def view(self, principal: Principal, doc_id: int) -> dict:
        """A document as the documents API and pages show it: readable by ``principal``, or any
        document for an administrator. NotFound otherwise."""
        return self._get(doc_id, None if principal.is_admin else principal.acl_tokens)

    def _get(self, doc_id: int, acl_tokens: builtins.list[str] | None) -> dict:
        with self.db.connection() as conn:
            row = docs.get_document(conn, doc_id, acl_tokens)
            row["chunks"] = docs.document_chunks(conn, doc_id)
            row["acl_readable"] = principals.describe_acl(conn, row["acl"])
            return row

    def listing(self, principal: Principal, collection: str | None = None, *, every: bool = False,
                field: str = "acl") -> builtins.list[dict]:
        """``list`` for the documents API and page: administrators also get each document's
        readers spelled out (``group:hr``) in ``field``; nobody else sees an ACL."""
        with self.db.connection() as conn:
            rows = self._rows(conn, principal, collection, every)
            for r in rows:
                tokens = r.pop("acl")
                if principal.is_admin:
                    r[field] = principals.describe_acl(conn, tokens)
        return rows

    def catalogue(self, principal: Principal) -> builtins.list[dict]:
        """The documents page: administrators every document with its readers
        (``acl_readable``); everyone else what they may read (``acl_readable`` None)."""
        rows = self.listing(principal, every=principal.is_admin, field="acl_readable")
        for r in rows:
            r.setdefault("acl_readable", None)
        return rows

    def collections(self, principal: Principal) -> builtins.list[dict]:
        """Collections with the number of documents the caller may browse (administrators:
        every collection, empty ones too)."""
        counts: dict[str, int] = {}
        if principal.is_admin:
            with self.db.connection() as conn:
                counts = {n: 0 for n in doc_sources.collection_names(conn)}
        for d in self.list(principal, every=principal.is_admin):
            counts[d["collection"]] = counts.get(d["collection"], 0) + 1
        with self.db.connection() as conn:
            pols = {n: collections.policy(conn, n) for n in counts}
        return [{"name": n, "documents": c, "authoritative": pols[n].authoritative,
                 "may_write": pols[n].may_write(principal)} for n, c in sorted(counts.items())]

    def set_policy(self, actor: Principal, name: str, *, authoritative: bool | None = None,
                   writers: builtins.list[str] | None = None) -> dict:
        """Administrators: make ``name`` authoritative (or not) and say who may publish into it
        (``writers``: ``group:NAME`` / ``user:NAME`` specs; ``[]``: every member, or only
        administrators when authoritative). Audited as ``collection.policy``."""
        require_admin(actor, "setting a collection's publishing rights")
        valid_label("collection", name)
        with self.db.transaction() as conn:
            tokens = None
            if writers:
                acl = Acl.parse(list(writers))
                if acl.public:
                    raise InvalidInput("writers are users or groups ('group:NAME', 'user:NAME'), not 'public'")
                tokens, _ = principals.acl_tokens(conn, acl)
            pol = collections.set_policy(conn, name, authoritative=authoritative, writers=tokens,
                                         open_to_all=writers == [])
            audit.record(conn, "collection.policy", actor_id=actor_id(actor), target=f"collection:{name}",
                         details={"authoritative": pol.authoritative, "writers": list(writers or [])})
            shown = principals.describe_acl(conn, list(pol.writers)) if pol.writers is not None else None
        return {"name": name, "authoritative": pol.authoritative, "writers": shown}

    def original_file(self, principal: Principal, doc_id: int) -> Path | None:
        """The file the document was last ingested from, when it is still on this server."""
        self.view(principal, doc_id)
        src = self.ingest.source_request(doc_id)
        path = Path(src["path"]) if src else None
        return path if path is not None and path.is_file() else None

    # managing -------------------------------------------------------------------------------
    @staticmethod
    def can_manage(principal: Principal, doc: dict) -> bool:
        return principal.is_admin or doc.get("owner_id") == principal.id

    def managed(self, principal: Principal, doc_id: int) -> dict:
        """The document, if ``principal`` may change it (its owner or an administrator);
        NotFound when they cannot read it, PermissionDenied when they can but do not own it."""
        doc = self.view(principal, doc_id)
        if not self.can_manage(principal, doc):
            raise PermissionDenied("only the document's owner or an administrator may change it")
        return doc

    def delete(self, principal: Principal, doc_id: int) -> bool:
        """Delete a document and everything derived from it, audited, in one transaction."""
        self.managed(principal, doc_id)
        with self.db.transaction() as conn:
            deleted = docs.delete_document(conn, doc_id)
            audit.record(conn, "document.delete", actor_id=actor_id(principal), details={"document_id": doc_id})
        return deleted

    def reindex(self, principal: Principal, doc_id: int, *, acl: builtins.list[str] | None = None,
                classification: str | None = None, title: str | None = None) -> Batch:
        """Re-ingest from the recorded source; a new ACL, classification or title makes it a
        metadata update. ACL and classification changes are audited *by the job*, with the
        document write (a re-index that fails leaves no ``acl.change`` record), and a document
        deleted before the job runs stays deleted. Needs the right to publish into its
        collection (``store/collections.py``)."""
        doc = self.managed(principal, doc_id)
        with self.db.connection() as conn:
            check_publish(conn, principal, doc["collection"])
        src = self.ingest.source_request(doc_id)
        if src is None or not Path(src["path"]).is_file():
            raise Conflict(f"document {doc_id} has no recorded source file on this server; ingest it again")
        req = IngestRequest(**src)
        req.source_uri = doc["source_uri"]
        req.collection = doc["collection"]
        req.document_id, req.audit = doc_id, None
        if acl is not None:
            req.acl = list(acl)
            self.ingest.check_acl(req.acl, req.owner)
        if classification is not None:
            valid_label("classification", classification)
        if acl is not None or classification is not None:
            req.audit = {"action": "acl.change", "actor_id": actor_id(principal),
                         "details": {"document_id": doc_id, "acl": req.acl, "classification": classification}}
        if classification is not None:
            req.classification = classification
        if title is not None:
            req.title = title or None
        return self.ingest.enqueue([req])
