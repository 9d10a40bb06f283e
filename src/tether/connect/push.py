"""The push connector: for systems that send their changes (a wiki's webhook) instead of being read.

Items arrive through ``POST /v1/connectors/{id}/items``: the request stores each one durably in
the connector's inbox (:mod:`tether.store.connector_inbox`) and enqueues a sync run, so a big
push never holds the request. The run lists the inbox, fetches each item's bytes from it and
settles (deletes) its row in the transaction that writes the document; a worker killed mid-run
loses nothing (the run resumes, the rows still wait). ``DELETE`` removes an item at once, a
waiting push of it included. Both are idempotent by the item's external id (the same content
again is ``unchanged``). Without an inbox (the contract suite) a push connector lists nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import psycopg
from psycopg.rows import DictRow

from tether.connect.base import CommonConfig, ConnectorContext, Item, ItemGone, ItemRef, Listing
from tether.store import connector_inbox as inbox_store


class PushConfig(CommonConfig):
    #: The ACL of pushed items that do not bring their own.
    acl: list[str] = []


@dataclass
class Inbox:
    """One run's view of a connector's inbox, on the run's connection (idle between items)."""

    conn: psycopg.Connection[DictRow]
    connector_id: int
    run_id: int

    def list(self) -> list[ItemRef]:
        with self.conn.transaction():
            rows = inbox_store.list_for_run(self.conn, self.connector_id, self.run_id)
        return [ItemRef(r["external_id"], r["version"], tuple(r["acl"] or ()), size=int(r["size"]))
                for r in sorted(rows, key=lambda r: r["external_id"])]

    def get(self, external_id: str) -> dict | None:
        with self.conn.transaction():
            return inbox_store.get(self.conn, self.connector_id, external_id)


class PushConnector:
    kind: ClassVar[str] = "push"
    Config = PushConfig

    def __init__(self, config: PushConfig, inbox: Inbox | None = None) -> None:
        self.config = config
        self.inbox = inbox

    @classmethod
    def create(cls, config: PushConfig, ctx: ConnectorContext) -> PushConnector:
        return cls(config, ctx.inbox if isinstance(ctx.inbox, Inbox) else None)

    def list(self, cursor: str | None) -> Listing:
        return Listing(self.inbox.list() if self.inbox else [], complete=False, cursor=cursor)

    def fetch(self, ref: ItemRef) -> Item:
        row = self.inbox.get(ref.external_id) if self.inbox else None
        if row is None:  # deleted through the API since it was listed (or never pushed)
            raise ItemGone(ref.external_id)
        data = bytes(row["data"])
        return Item(ItemRef(ref.external_id, row["version"], tuple(row["acl"] or ()), size=len(data)), data,
                    row["filename"], title=row["title"])

    def settle(self, conn: psycopg.Connection[DictRow], external_id: str, version: str | None) -> str:
        """Called by the sync engine in the transaction that applies (or fails for good, or
        removes) the item: its inbox row goes with it."""
        if self.inbox is None:
            return "missing"
        return inbox_store.settle(conn, self.inbox.connector_id, external_id, version)

    def close(self) -> None:
        pass
