"""The push connector: for systems that send their changes (a wiki's webhook) instead of being read.

Items arrive through ``POST /v1/connectors/{id}/items`` and leave through ``DELETE``; both are
idempotent by the item's external id (the same content again is ``unchanged``). A sync of a
push connector lists nothing new: it only retries items that failed.
"""

from __future__ import annotations

from typing import ClassVar

from tether.connect.base import CommonConfig, ConnectorContext, Item, ItemRef, Listing
from tether.errors import InvalidInput


class PushConfig(CommonConfig):
    #: The ACL of pushed items that do not bring their own.
    acl: list[str] = []


class PushConnector:
    kind: ClassVar[str] = "push"
    Config = PushConfig

    def __init__(self, config: PushConfig) -> None:
        self.config = config

    @classmethod
    def create(cls, config: PushConfig, ctx: ConnectorContext) -> PushConnector:
        return cls(config)

    def list(self, cursor: str | None) -> Listing:
        return Listing([], complete=False, cursor=cursor)

    def fetch(self, ref: ItemRef) -> Item:
        raise InvalidInput(f"pushed item {ref.external_id} failed; push it again")

    def close(self) -> None:
        pass
