"""Single sign-on: OIDC sign-in for the web UI (just-in-time provisioning, roles and groups that
follow the directory at every sign-in) and the issuer's JWT access tokens for the API.

Why a service: a sign-in changes who may read what (a group claim added or dropped at the
provider changes the user's memberships here), so it is made in one transaction with its audit
records (``identity.sign_in``, ``identity.user.provision``, ``identity.member.add/remove``, each
with ``source: "oidc"``); a refused sign-in is audited too (``identity.sign_in.refused``).
Permissions are still resolved from the database on every request, never from a token, so a
membership change reaches the user's very next request wherever it came from.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tether.errors import ConfigError, Unauthenticated
from tether.identity.oidc import DirectoryIdentity, OidcClient
from tether.settings.identity import OidcSettings
from tether.store import audit, directory, principals, sessions
from tether.store.db import Database
from tether.store.rows import Conn
from tether.types import Principal

SOURCE = "oidc"


def record_membership(conn: Conn, added: list[str], removed: list[str], *, user: str, source: str,
                      actor: int | None) -> None:
    """One audit record per membership the directory added or removed."""
    for g in added:
        audit.record(conn, "identity.member.add", actor_id=actor, target=g, details={"user": user, "source": source})
    for g in removed:
        audit.record(conn, "identity.member.remove", actor_id=actor, target=g,
                     details={"user": user, "source": source})


class DirectoryService:
    def __init__(self, db: Database, cfg: OidcSettings, secrets: Mapping[str, str]) -> None:
        self.db = db
        self.cfg = cfg
        self.secrets = secrets
        self._client: OidcClient | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    def client(self) -> OidcClient:
        if not self.cfg.enabled:
            raise ConfigError("single sign-on is not configured: set [oidc] issuer and client_id")
        with self._lock:
            if self._client is None:
                self._client = OidcClient(self.cfg, self.secrets.get(self.cfg.client_secret_env, ""))
            return self._client

    # browser sign-in -------------------------------------------------------------------------
    def begin_sign_in(self, redirect_uri: str, return_to: str = "/ui/chat") -> tuple[str, str]:
        """(the identity provider's URL to send the browser to, its state); the state's nonce
        and PKCE verifier are kept server-side."""
        req = self.client().start(redirect_uri)
        with self.db.transaction() as conn:
            directory.save_state(conn, req.state, nonce=req.nonce, code_verifier=req.code_verifier,
                                 return_to=return_to, ttl_s=self.cfg.state_ttl_s)
        return req.url, req.state

    def complete_sign_in(self, *, state: str, code: str, redirect_uri: str,
                         ttl_s: int) -> tuple[Principal, str, str]:
        """Redeem the provider's answer: (principal, session id, where to go next).
        Unauthenticated for an unknown, expired or reused state and for any token failure."""
        with self.db.transaction() as conn:  # committed first: a replay finds nothing, even if this fails
            pending = directory.take_state(conn, state) if state else None
        if pending is None:
            self._refused("unknown, expired or already used state")
            raise Unauthenticated("sign-in state unknown, expired or already used; start the sign-in again")
        try:
            ident = self.client().finish(code, code_verifier=pending["code_verifier"], nonce=pending["nonce"],
                                         redirect_uri=redirect_uri)
            with self.db.transaction() as conn:
                principal, created = self._provision(conn, ident)
                sid = sessions.open_sso_session(conn, principal, ttl_s=ttl_s)
                audit.record(conn, "identity.sign_in", actor_id=principal.id, target=principal.name,
                             details={"source": SOURCE, "subject": ident.subject, "provisioned": created,
                                      "groups": list(principal.group_names), "role": principal.role})
        except Unauthenticated as exc:
            self._refused(exc.message)
            raise
        return principal, sid, pending["return_to"]

    def _refused(self, reason: str, subject: str | None = None) -> None:
        with self.db.transaction() as conn:
            audit.record(conn, "identity.sign_in.refused", details={"source": SOURCE, "reason": reason,
                                                                      **({"subject": subject} if subject else {})})

    def _link(self, conn: Conn, ident: DirectoryIdentity) -> tuple[dict[str, Any], bool]:
        """The principal row of ``ident`` (found, linked by name, or created): (row, created)."""
        row = directory.user_by(conn, "oidc_subject", ident.subject)
        if row is not None:
            return row, False
        row = directory.user_by(conn, "name", ident.username)
        if row is not None:
            if row["oidc_subject"] is not None:
                raise Unauthenticated(f"user name {ident.username!r} is already linked to another identity")
            if row["source"] == "admin" and not self.cfg.link_by_username:
                raise Unauthenticated(f"a local user named {ident.username!r} exists and is not linked to the "
                                      "directory (an administrator may set [oidc] link_by_username)")
            directory.update_user(conn, int(row["id"]), oidc_subject=ident.subject)
            return row, False
        if not self.cfg.jit_provision:
            raise Unauthenticated(f"{ident.username!r} has no Tether account and just-in-time provisioning is off")
        pid = directory.create_user(conn, ident.username, source=SOURCE, role=ident.role, oidc_subject=ident.subject,
                                    email=ident.email, display_name=ident.display_name)
        audit.record(conn, "identity.user.provision", actor_id=pid, target=ident.username,
                     details={"source": SOURCE, "subject": ident.subject, "role": ident.role})
        return {"id": pid, "name": ident.username, "active": True, "role": ident.role}, True

    def _provision(self, conn: Conn, ident: DirectoryIdentity) -> tuple[Principal, bool]:
        row, created = self._link(conn, ident)
        if not row["active"]:
            raise Unauthenticated("this account is deactivated")
        pid, name = int(row["id"]), row["name"]
        if not created:
            updates: dict[str, object] = {"email": ident.email, "display_name": ident.display_name}
            if ident.role_claimed and ident.role != row["role"]:
                updates["role"] = ident.role
                audit.record(conn, "identity.user.role", actor_id=pid, target=name,
                             details={"source": SOURCE, "from": row["role"], "to": ident.role})
            directory.update_user(conn, pid, **updates)
        added, removed = directory.sync_user_groups(conn, pid, ident.groups, ident.managed_groups, source=SOURCE)
        record_membership(conn, added, removed, user=name, source=SOURCE, actor=pid)
        return principals.get_principal(conn, name), created

    # API bearer tokens -----------------------------------------------------------------------
    def authenticate_access_token(self, token: str) -> Principal:
        """The active principal an OAuth2 JWT access token of the issuer names, or Unauthenticated.
        Its groups and role come from the database, not from the token."""
        if not self.cfg.accept_bearer_tokens:
            raise Unauthenticated("invalid or expired API key")
        ident = self.client().verify_access_token(token)
        with self.db.connection() as conn:
            row = directory.user_by(conn, "oidc_subject", ident.subject)
            if row is None and ident.username:
                by_name = directory.user_by(conn, "name", ident.username)
                if by_name is not None and by_name["oidc_subject"] is None and (
                        by_name["source"] != "admin" or self.cfg.link_by_username):
                    row = by_name
            if row is None or not row["active"]:
                raise Unauthenticated("access token rejected: no active Tether user for its subject")
            return principals.get_principal(conn, row["name"])
