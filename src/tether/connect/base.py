"""The connector protocol: what a source of documents must offer so Tether stays in step with it.

A connector answers two questions and nothing else; the sync engine (:mod:`tether.connect.sync`)
does the rest (comparing versions, ingesting, retrying, deleting, counting):

- ``list(cursor)``: what is at the source now (or what changed since ``cursor``), each entry an
  :class:`ItemRef` with a ``version`` that changes whenever the item's bytes change (an ETag, an
  mtime + size, a git blob id, a content hash) and the item's source permissions as ACL entries
  (``public``, ``group:NAME``, ``user:NAME``). A :class:`Listing` is *complete* when it names
  every item (anything Tether holds that is not listed was deleted at the source) or
  *incremental* (it names changed items and ``deleted`` ids since ``cursor``). ``cursor`` of the
  listing is stored after the sync and handed back next time.
- ``fetch(ref)``: the item's bytes, a file name (its extension picks the loader), title and
  metadata, as an :class:`Item`.

A whole connector, for a source that is a Python dict::

    class DictConnector:
        kind = "dict"

        def __init__(self, docs: dict[str, str]) -> None:
            self.docs = docs

        def list(self, cursor: str | None) -> Listing:
            refs = [ItemRef(k, hashlib.sha256(v.encode()).hexdigest(), ("public",))
                    for k, v in sorted(self.docs.items())]
            return Listing(refs, complete=True)

        def fetch(self, ref: ItemRef) -> Item:
            return Item(ref, self.docs[ref.external_id].encode(), f"{ref.external_id}.txt")

        def close(self) -> None:
            pass

Errors: a source that cannot be reached raises :class:`~tether.errors.SourceUnreachable`,
refused credentials :class:`~tether.errors.CredentialsRejected` (the run stops, the
connector's status says why); a bad *item* raises an :class:`~tether.errors.IngestError`
(``FileTooLarge`` for one over ``max_bytes``) and only that item fails; an item that vanished
since it was listed raises :class:`ItemGone` and is removed. Every connector runs
the contract suite in ``tests/connect/contract.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class ItemRef:
    """One entry of a listing: a stable id at the source, its version and its permissions."""

    external_id: str
    version: str
    acl: tuple[str, ...]
    owner: str | None = None
    size: int | None = None  # bytes, when the listing knows (checked against the limit early)
    locator: str | None = None  # how ``fetch`` finds it when the id alone is not enough

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acl": list(self.acl)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ItemRef:
        return cls(d["external_id"], d["version"], tuple(d.get("acl") or ()), d.get("owner"), d.get("size"),
                   d.get("locator"))


@dataclass
class Listing:
    items: list[ItemRef]
    #: True: ``items`` is everything at the source; False: changes since the cursor only.
    complete: bool = True
    #: Ids deleted at the source since the cursor (incremental listings).
    deleted: list[str] = field(default_factory=list)
    #: Stored after the sync and passed to the next ``list``.
    cursor: str | None = None


@dataclass
class Item:
    ref: ItemRef
    data: bytes
    filename: str  # its extension picks the loader (``page.html``, ``notes.md``)
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The collection it goes to, when not the connector's (an IMAP folder mapped to its own).
    collection: str | None = None


@runtime_checkable
class Connector(Protocol):
    kind: ClassVar[str]

    def list(self, cursor: str | None) -> Listing: ...

    def fetch(self, ref: ItemRef) -> Item: ...

    def close(self) -> None: ...


class CommonConfig(BaseModel):
    """Options every kind has (each kind's ``Config`` extends it)."""

    model_config = ConfigDict(extra="forbid")

    classification: str = "internal"
    #: A failed item is retried after retry_base_s, then twice that... up to retry_max_s.
    retry_base_s: float = Field(default=60.0, ge=0)
    retry_max_s: float = Field(default=6 * 3600.0, ge=0)


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector factory gets besides its config: where secrets are looked up by name
    (the environment, read at the edge), a private working folder, and the item size limit."""

    secrets: Mapping[str, str]
    workdir: str
    max_bytes: int
    #: The push connector's inbox for this run (:class:`tether.connect.push.Inbox`), else None.
    inbox: Any = None


class ItemGone(Exception):
    """Raised by ``fetch`` for an item that vanished since it was listed: the sync removes it
    (never a failed item)."""


def secret(ctx: ConnectorContext, *, env: str | None = None, file: str | None = None, what: str) -> str | None:
    """A secret named by a config (``*_env``: an environment variable, ``*_file``: a file), or
    None when neither is named. Named but missing or empty: CredentialsRejected."""
    from pathlib import Path

    from tether.errors import CredentialsRejected

    if env:
        value = ctx.secrets.get(env)
        if not value:
            raise CredentialsRejected(f"{what}: the environment variable {env} is not set")
        return value
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialsRejected(f"{what}: cannot read the secret file {file} ({type(exc).__name__})") from exc
        if not value:
            raise CredentialsRejected(f"{what}: the secret file {file} is empty")
        return value
    return None
