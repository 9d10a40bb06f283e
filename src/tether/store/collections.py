"""Publishing rights: who may add or replace documents in a collection, and which are authoritative.

Why this module exists: read rights (document ACLs) say nothing about who may *publish*. Without
write rights any member could upload a public "Expenses Policy" into ``handbook`` and colleagues
would be answered from it. A collection row carries:

- ``writers``: ACL tokens (``u:<id>``, ``g:<id>``) of who may add or replace documents; NULL
  means every member, unless the collection is authoritative;
- ``authoritative``: its documents are the organisation's official sources. Answers prefer them
  and label the others; an authoritative collection with no writers listed is written by
  administrators only.

``check_publish`` is the one decision, made when an upload is accepted, when a document is
re-indexed, and again when the ingest job writes (rights may change in between): a principal
who may not write the collection gets PermissionDenied. So nobody without the right can create a
look-alike (same title) of an authoritative document in its collection: they cannot create any
document there.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import DictRow

from tether.errors import PermissionDenied
from tether.types import Principal

__all__ = ["Policy", "check_publish", "policy", "set_policy"]


@dataclass(frozen=True)
class Policy:
    name: str
    authoritative: bool = False
    writers: tuple[str, ...] | None = None  # None: every member (unless authoritative)

    def may_write(self, principal: Principal) -> bool:
        if principal.is_admin:
            return True
        if self.writers is None:
            return not self.authoritative
        return bool(set(self.writers) & set(principal.acl_tokens) - {"public"})


def policy(conn: psycopg.Connection[DictRow], name: str) -> Policy:
    """The collection's policy (a collection that does not exist yet is open, not authoritative)."""
    row = conn.execute("SELECT authoritative, writers FROM collections WHERE name = %s", (name,)).fetchone()
    if row is None:
        return Policy(name)
    writers = tuple(row["writers"]) if row["writers"] is not None else None
    return Policy(name, bool(row["authoritative"]), writers)


def set_policy(conn: psycopg.Connection[DictRow], name: str, *, authoritative: bool | None = None,
               writers: list[str] | None = None, open_to_all: bool = False) -> Policy:
    """Create or update a collection's policy (``writers`` as tokens; ``open_to_all`` clears them)."""
    conn.execute("INSERT INTO collections (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (name,))
    if authoritative is not None:
        conn.execute("UPDATE collections SET authoritative = %s WHERE name = %s", (authoritative, name))
    if open_to_all:
        conn.execute("UPDATE collections SET writers = NULL WHERE name = %s", (name,))
    elif writers is not None:
        conn.execute("UPDATE collections SET writers = %s WHERE name = %s", (sorted(set(writers)), name))
    return policy(conn, name)


def check_publish(conn: psycopg.Connection[DictRow], principal: Principal, collection: str) -> Policy:
    """PermissionDenied unless ``principal`` may add or replace documents in ``collection``."""
    pol = policy(conn, collection)
    if not pol.may_write(principal):
        raise PermissionDenied(f"you may not add or replace documents in collection {collection!r}"
                               + (" (authoritative: ask its maintainers)" if pol.authoritative else ""),
                               collection=collection)
    return pol
