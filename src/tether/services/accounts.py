"""Who is who: principals, groups, API keys, browser sessions, request rate limits.

Why a service: the API's authentication, the admin API and the CLI's ``users``/``groups``/
``keys`` commands change the same tables under the same rules: only administrators manage
accounts (``actor`` is checked on every change), and every change is in the append-only audit
log, in the change's own transaction. Credentials are resolved fresh from the database on
every call, so a revoked key or membership takes effect at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tether.errors import RateLimited
from tether.services.permissions import actor_id, require_admin
from tether.store import api_keys, audit, principals, rate_limits, sessions
from tether.store.db import Database
from tether.types import Principal


class AccountService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # identities -----------------------------------------------------------------------------
    def principal(self, name: str) -> Principal:
        """The named user or service account with its groups (UnknownPrincipal when unknown)."""
        with self.db.connection() as conn:
            return principals.get_principal(conn, name)

    def authenticate_key(self, key: str) -> Principal:
        """The principal an API key belongs to, or Unauthenticated (unknown, revoked, expired)."""
        with self.db.connection() as conn:
            return api_keys.authenticate(conn, key)

    def session_principal(self, session_id: str) -> Principal:
        """The principal of a live session whose key is still valid, or Unauthenticated."""
        with self.db.connection() as conn:
            return sessions.session_principal(conn, session_id)

    def open_session(self, key: str, *, ttl_s: int) -> tuple[Principal, str]:
        """Authenticate ``key`` (Unauthenticated if bad) and open a session: (principal, id)."""
        with self.db.transaction() as conn:
            principal = api_keys.authenticate(conn, key)
            return principal, sessions.open_session(conn, key, principal, ttl_s=ttl_s)

    def close_session(self, session_id: str) -> None:
        with self.db.transaction() as conn:
            sessions.close_session(conn, session_id)

    def count_request(self, principal: Principal, limit_per_minute: int) -> None:
        """Count one request against the caller's per-minute limit (per API key, else per
        principal); RateLimited over it, raised after the count is committed."""
        key = f"k:{principal.api_key_id}" if principal.api_key_id is not None else f"p:{principal.id}"
        refused: RateLimited | None = None
        with self.db.connection() as conn:
            try:
                rate_limits.hit(conn, key, limit_per_minute)
            except RateLimited as exc:
                refused = exc
        if refused is not None:
            raise refused

    def check_auth_failures(self, keys: list[str], limit_per_minute: int) -> None:
        """RateLimited when any of ``keys`` (a source address, a key prefix) has had
        ``limit_per_minute`` failed authentications in the current minute."""
        with self.db.connection() as conn:
            rate_limits.refuse_over(conn, keys, limit_per_minute,
                                    "too many failed authentication attempts")

    def record_auth_failure(self, keys: list[str]) -> None:
        """Count one failed authentication against each of ``keys``."""
        with self.db.connection() as conn:
            rate_limits.add(conn, keys)

    # administration (every change audited) ---------------------------------------------------
    @staticmethod
    def _audit(conn, actor: Principal, action: str, target: str, via: str | None, **details: object) -> None:
        audit.record(conn, action, actor_id=actor_id(actor), target=target,
                     details={**({"via": via} if via else {}), "source": "admin", **details})

    def users(self, actor: Principal) -> list[dict]:
        require_admin(actor, "the user list")
        with self.db.connection() as conn:
            return principals.list_users(conn)

    def add_user(self, actor: Principal, name: str, *, role: str = "member", kind: str = "user",
                 groups: list[str] | None = None, via: str | None = None) -> dict[str, Any]:
        require_admin(actor, "adding users")
        groups = list(groups or [])
        with self.db.transaction() as conn:
            pid = principals.add_user(conn, name, role=role, kind=kind)
            for g in groups:
                principals.ensure_group(conn, g)
                principals.add_member(conn, name, g)
            self._audit(conn, actor, "admin.user.add", name, via, role=role, kind=kind, groups=groups)
        return {"id": pid, "name": name, "role": role, "kind": kind, "groups": groups}

    def ensure_user(self, actor: Principal, name: str, *, role: str = "member") -> int:
        """The user's id, created first when missing (demo and evaluation setup)."""
        require_admin(actor, "adding users")
        with self.db.transaction() as conn:
            return principals.ensure_user(conn, name, role=role)

    def apply_manifest(self, actor: Principal, manifest: Any) -> None:
        """Create the users and groups an ingest manifest names (``ingest/manifest.py``)."""
        require_admin(actor, "adding users")
        with self.db.transaction() as conn:
            manifest.apply_principals(conn)

    def groups(self, actor: Principal) -> list[dict]:
        require_admin(actor, "the group list")
        with self.db.connection() as conn:
            return principals.list_groups(conn)

    def add_group(self, actor: Principal, name: str, *, members: list[str] | None = None,
                  via: str | None = None) -> dict[str, Any]:
        require_admin(actor, "managing groups")
        members = list(members or [])
        with self.db.transaction() as conn:
            principals.ensure_group(conn, name)
            for m in members:
                principals.add_member(conn, m, name)
            self._audit(conn, actor, "admin.group.add", name, via, members=members)
        return {"name": name, "members": members}

    def add_member(self, actor: Principal, group: str, user: str, *, via: str | None = None) -> dict[str, Any]:
        require_admin(actor, "managing groups")
        with self.db.transaction() as conn:
            principals.add_member(conn, user, group)
            self._audit(conn, actor, "admin.member.add", group, via, user=user)
        return {"group": group, "user": user}

    def remove_member(self, actor: Principal, group: str, user: str, *, via: str | None = None) -> bool:
        require_admin(actor, "managing groups")
        with self.db.transaction() as conn:
            removed = principals.remove_member(conn, user, group)
            self._audit(conn, actor, "admin.member.remove", group, via, user=user, removed=removed)
        return removed

    def keys(self, actor: Principal, user: str | None = None) -> list[dict]:
        """API keys (never the keys themselves), optionally one user's."""
        require_admin(actor, "the API key list")
        with self.db.connection() as conn:
            return api_keys.list_keys(conn, user)

    def create_key(self, actor: Principal, user: str, *, name: str = "", expires_at: datetime | None = None,
                   limits: dict[str, int | None] | None = None, via: str | None = None) -> dict:
        """A new key for ``user``; the returned ``key`` is shown once (only a hash is stored).
        ``limits``: the key's own upload quotas (``store/quotas.py``; None: the defaults)."""
        require_admin(actor, "creating API keys")
        with self.db.transaction() as conn:
            created = api_keys.create_key(conn, user, name=name, expires_at=expires_at, limits=limits)
            self._audit(conn, actor, "admin.key.create", user, via, key_id=created.get("id"),
                        prefix=created.get("prefix"), expires_at=expires_at.isoformat() if expires_at else None,
                        **{k: created[k] for k in api_keys.LIMITS if created.get(k) is not None})
        return created

    def revoke_key(self, actor: Principal, key: str, *, via: str | None = None) -> None:
        """Revoke a key by id or prefix; it (and its sessions) stop working at once."""
        require_admin(actor, "revoking API keys")
        with self.db.transaction() as conn:
            api_keys.revoke(conn, key)
            self._audit(conn, actor, "admin.key.revoke", key, via)
