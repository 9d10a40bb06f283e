"""The IMAP connector: messages of mailbox folders, each an ``.eml`` document (attachments too).

An item is one message: its id is ``FOLDER/UIDVALIDITY/UID``, which IMAP guarantees never to
reuse for another message, and messages never change, so an item once ingested is never fetched
again; a listing is ``UID SEARCH ALL`` per folder (numbers only), and a message gone from it was
deleted (or moved). The message goes through the ``.eml`` loader, which reads headers, body and
attachments through the other loaders. ``folder_collections`` puts a folder's messages in a
collection of its own (default: the connector's). Every message gets the fixed ``acl``.

The password comes from ``password_env`` or ``password_file``; a refused login is
``CredentialsRejected``, a server that cannot be reached ``SourceUnreachable``.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from typing import ClassVar

from tether.connect.base import CommonConfig, ConnectorContext, Item, ItemRef, Listing, secret
from tether.errors import ConnectorError, CredentialsRejected, SourceUnreachable

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class ImapConfig(CommonConfig):
    host: str
    port: int = 993
    security: str = "ssl"  # ssl | starttls | none (only for a server on this machine)
    username: str
    password_env: str | None = None
    password_file: str | None = None
    folders: list[str] = ["INBOX"]
    folder_collections: dict[str, str] = {}
    acl: list[str] = []
    timeout_s: float = 30.0


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapConnector:
    kind: ClassVar[str] = "imap"
    Config = ImapConfig

    def __init__(self, config: ImapConfig, password: str) -> None:
        self.config = config
        self._password = password
        self._conn: imaplib.IMAP4 | None = None
        self._selected: str | None = None
        self.where = f"mailbox {config.username}@{config.host}:{config.port}"

    @classmethod
    def create(cls, config: ImapConfig, ctx: ConnectorContext) -> ImapConnector:
        password = secret(ctx, env=config.password_env, file=config.password_file, what="IMAP password")
        if password is None:
            raise CredentialsRejected("IMAP: name the password's environment variable (password_env) or file")
        return cls(config, password)

    def _client(self) -> imaplib.IMAP4:
        if self._conn is not None:
            return self._conn
        cfg = self.config
        try:
            if cfg.security == "ssl":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s)
            else:
                conn = imaplib.IMAP4(cfg.host, cfg.port, timeout=cfg.timeout_s)
                if cfg.security == "starttls":
                    conn.starttls(ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error) as exc:  # TimeoutError is an OSError
            raise SourceUnreachable(f"{self.where}: cannot connect ({type(exc).__name__})") from exc
        try:
            conn.login(cfg.username, self._password)
        except imaplib.IMAP4.error as exc:
            conn.shutdown()
            raise CredentialsRejected(f"{self.where}: the login was refused") from exc
        self._conn = conn
        return conn

    def _select(self, folder: str) -> str:
        """Select ``folder`` (read-only); its UIDVALIDITY."""
        conn = self._client()
        status, _ = conn.select(_quote(folder), readonly=True)
        if status != "OK":
            raise SourceUnreachable(f"{self.where}: no folder {folder!r}")
        self._selected = folder
        _, data = conn.status(_quote(folder), "(UIDVALIDITY)")
        m = _UIDVALIDITY.search(data[0] if data and isinstance(data[0], bytes) else b"")
        if not m:
            raise ConnectorError(f"{self.where}: the server gave no UIDVALIDITY for {folder!r}")
        return m.group(1).decode()

    def list(self, cursor: str | None) -> Listing:
        acl = tuple(sorted(self.config.acl))
        refs = []
        try:
            for folder in self.config.folders:
                validity = self._select(folder)
                status, data = self._client().uid("SEARCH", "ALL")
                if status != "OK":
                    raise ConnectorError(f"{self.where}: SEARCH failed in {folder!r}")
                for uid in (data[0] or b"").split():
                    external_id = f"{folder}/{validity}/{uid.decode()}"
                    refs.append(ItemRef(external_id, "1", acl, locator=folder))
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise SourceUnreachable(f"{self.where}: the connection failed ({type(exc).__name__})") from exc
        return Listing(refs, complete=True)

    def fetch(self, ref: ItemRef) -> Item:
        folder, validity, uid = ref.external_id.rsplit("/", 2)
        if self._selected != folder and self._select(folder) != validity:
            raise SourceUnreachable(f"{self.where}: {folder!r} was recreated (UIDVALIDITY changed)")
        status, data = self._client().uid("FETCH", uid, "(BODY.PEEK[])")
        parts = [d for d in data if isinstance(d, tuple)]
        if status != "OK" or not parts:
            raise ConnectorError(f"{self.where}: message {uid} of {folder!r} could not be fetched")
        collection = self.config.folder_collections.get(folder)
        return Item(ref, bytes(parts[0][1]), "message.eml", collection=collection, metadata={"folder": folder})

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self._conn.logout()
            self._conn = None
