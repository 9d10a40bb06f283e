"""The folder connector: a local or mounted folder, polled (or watched), POSIX permissions as ACLs.

Each supported file under ``path`` (hidden files and folders skipped) is an item; its id is the
path relative to the folder, its version the mtime and size. Permissions come from the file's
mode unless a fixed ``acl`` is configured: readable by its owner -> ``user:`` (owner's Unix
name mapped through ``users``), by its group -> ``group:`` (through ``groups``), by others ->
``public``. Unix names without a mapping are dropped (``unmapped = "drop"``, the default) or
used as they are (``"same"``). A file nobody in Tether may read is revoked: its document goes.

``watch`` yields after each batch of changes (``watchfiles``), for ``tether connectors sync
--watch``; polling is the scheduled interval.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from tether.connect.base import CommonConfig, ConnectorContext, Item, ItemRef, Listing
from tether.errors import FileTooLarge, SourceUnreachable
from tether.ingest.loaders import SUPPORTED_EXTENSIONS
from tether.types import PUBLIC


class FolderConfig(CommonConfig):
    path: str
    #: A fixed ACL for every file (``public``, ``group:NAME``...); empty: from POSIX permissions.
    acl: list[str] = []
    users: dict[str, str] = {}  # Unix user -> Tether user
    groups: dict[str, str] = {}  # Unix group -> Tether group
    unmapped: Literal["drop", "same"] = "drop"
    recursive: bool = True


def _name(lookup, ident: int) -> str | None:
    try:
        return str(lookup(ident)[0])
    except KeyError:
        return None


class FolderConnector:
    kind: ClassVar[str] = "folder"
    Config = FolderConfig

    def __init__(self, config: FolderConfig, max_bytes: int) -> None:
        self.config = config
        self.root = Path(config.path).expanduser()
        self.max_bytes = max_bytes

    @classmethod
    def create(cls, config: FolderConfig, ctx: ConnectorContext) -> FolderConnector:
        return cls(config, ctx.max_bytes)

    def _map(self, name: str | None, mapping: dict[str, str]) -> str | None:
        if name is None:
            return None
        if name in mapping:
            return mapping[name] or None
        return name if self.config.unmapped == "same" else None

    def permissions(self, st: os.stat_result) -> tuple[str, ...]:
        """ACL entries for a file's mode and ownership (or the fixed ACL)."""
        if self.config.acl:
            return tuple(sorted(self.config.acl))
        if st.st_mode & stat.S_IROTH:
            return (PUBLIC,)
        out = []
        if st.st_mode & stat.S_IRUSR and (user := self._map(_name(pwd.getpwuid, st.st_uid), self.config.users)):
            out.append(f"user:{user}")
        if st.st_mode & stat.S_IRGRP and (group := self._map(_name(grp.getgrgid, st.st_gid), self.config.groups)):
            out.append(f"group:{group}")
        return tuple(sorted(out))

    def _files(self) -> Iterator[Path]:
        pattern = "**/*" if self.config.recursive else "*"
        for p in sorted(self.root.glob(pattern)):
            rel = p.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts) or p.suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue
            if p.is_file():
                yield p

    def list(self, cursor: str | None) -> Listing:
        if not self.root.is_dir():
            raise SourceUnreachable(f"the folder {self.root} does not exist or is not a folder (not mounted?)")
        refs = []
        for p in self._files():
            try:
                st = p.stat()
            except OSError:
                continue  # removed while listing: gone at the next sync
            refs.append(ItemRef(p.relative_to(self.root).as_posix(), f"{st.st_mtime_ns}:{st.st_size}",
                                self.permissions(st), size=st.st_size))
        return Listing(refs, complete=True)

    def fetch(self, ref: ItemRef) -> Item:
        path = self.root / ref.external_id
        size = path.stat().st_size
        if size > self.max_bytes:
            raise FileTooLarge(f"{ref.external_id} is {size:,} bytes; the limit is {self.max_bytes:,} bytes",
                               size=size, limit=self.max_bytes)
        return Item(ref, path.read_bytes(), path.name)

    def watch(self, stop: threading.Event) -> Iterator[int]:
        """Yield the number of changed paths after each batch of changes, until ``stop`` is set."""
        import watchfiles

        for changes in watchfiles.watch(self.root, stop_event=stop, recursive=self.config.recursive,
                                        rust_timeout=1000, yield_on_timeout=False):
            yield len(changes)

    def close(self) -> None:
        pass
