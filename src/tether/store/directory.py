"""Principals and groups as the directory sees them: their source (admin, oidc, scim), directory
ids, deactivation, memberships the directory decides, and the one-time OIDC sign-in states.

Why a module apart from ``principals``: these statements serve the identity provider (OIDC
just-in-time provisioning, SCIM), whose rules differ from an administrator's (names may be
e-mail addresses; a deleted user is kept, inactive and renamed, so their conversations, review
items and audit trail stay). Deactivation ends the user's sessions here; their API keys stop
working because every authentication query requires an active principal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from tether.errors import Conflict, InvalidInput, NotFound
from tether.store.rows import Conn, one

_USER_COLS = ("p.id, p.name, p.kind, p.role, p.source, p.external_id, p.oidc_subject, p.email, p.display_name,"
              " p.active, p.created_at, p.updated_at, p.deleted_at")
#: SCIM attribute -> column, for ``attr eq "value"`` filters.
USER_FILTERS = {"username": "lower(p.name)", "externalid": "p.external_id", "id": "p.id::text",
                "emails.value": "lower(p.email)", "emails": "lower(p.email)"}
GROUP_FILTERS = {"displayname": "lower(g.name)", "externalid": "g.external_id", "id": "g.id::text"}
_CASE_INSENSITIVE = {"username", "emails.value", "emails", "displayname"}


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


# --- OIDC sign-in states --------------------------------------------------------------------
def save_state(conn: Conn, state: str, *, nonce: str, code_verifier: str, return_to: str, ttl_s: int) -> None:
    conn.execute("DELETE FROM oidc_states WHERE expires_at < now()")
    conn.execute("INSERT INTO oidc_states (state_hash, nonce, code_verifier, return_to, expires_at)"
                 " VALUES (%s, %s, %s, %s, now() + %s)",
                 (_hash(state), nonce, code_verifier, return_to, timedelta(seconds=ttl_s)))


def take_state(conn: Conn, state: str) -> dict[str, Any] | None:
    """The sign-in ``state`` belongs to, deleted as it is read (a second use finds nothing)."""
    return conn.execute("DELETE FROM oidc_states WHERE state_hash = %s AND expires_at > now()"
                        " RETURNING nonce, code_verifier, return_to", (_hash(state),)).fetchone()


# --- users ----------------------------------------------------------------------------------
def user_by(conn: Conn, column: str, value: object) -> dict[str, Any] | None:
    assert column in ("id", "name", "oidc_subject")
    return conn.execute(f"SELECT {_USER_COLS} FROM principals p WHERE p.{column} = %s", (value,)).fetchone()


def create_user(conn: Conn, name: str, *, source: str, role: str = "member", external_id: str | None = None,
                oidc_subject: str | None = None, email: str | None = None, display_name: str | None = None,
                active: bool = True) -> int:
    row = conn.execute(
        "INSERT INTO principals (name, role, kind, source, external_id, oidc_subject, email, display_name, active,"
        " deactivated_at) VALUES (%s, %s, 'user', %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN NULL ELSE now() END)"
        " ON CONFLICT (name) DO NOTHING RETURNING id",
        (name, role, source, external_id, oidc_subject, email, display_name, active, active),
    ).fetchone()
    if row is None:
        raise Conflict(f"a user named {name!r} already exists")
    return int(row["id"])


def update_user(conn: Conn, pid: int, **fields: object) -> None:
    """Set the given columns (name, role, email, display_name, external_id, oidc_subject)."""
    allowed = {"name", "role", "email", "display_name", "external_id", "oidc_subject"}
    if not fields:
        return
    bad = set(fields) - allowed
    assert not bad, bad
    if "name" in fields:
        clash = conn.execute("SELECT 1 FROM principals WHERE name = %s AND id <> %s", (fields["name"], pid)).fetchone()
        if clash:
            raise Conflict(f"a user named {fields['name']!r} already exists")
    sets = ", ".join(f"{k} = %s" for k in fields)
    conn.execute(f"UPDATE principals SET {sets}, updated_at = now() WHERE id = %s", [*fields.values(), pid])


def set_active(conn: Conn, pid: int, active: bool) -> bool:
    """Activate or deactivate; True when it changed. Deactivation ends every session at once."""
    changed = conn.execute(
        "UPDATE principals SET active = %s, deactivated_at = CASE WHEN %s THEN NULL ELSE now() END,"
        " updated_at = now() WHERE id = %s AND active IS DISTINCT FROM %s", (active, active, pid, active),
    ).rowcount > 0
    if not active:
        conn.execute("DELETE FROM sessions WHERE principal_id = %s", (pid,))
    return changed


def mark_deleted(conn: Conn, pid: int) -> None:
    """Deleted by the directory: inactive, renamed (the name is free again), kept for audit."""
    set_active(conn, pid, False)
    conn.execute("UPDATE principals SET deleted_at = now(), name = name || '.deleted-' || id::text,"
                 " external_id = NULL, oidc_subject = NULL WHERE id = %s", (pid,))


def _where(filters: dict[str, str], attr: str | None, value: str | None) -> tuple[str, list[object]]:
    if attr is None:
        return "", []
    key = attr.lower()
    if key not in filters:
        raise InvalidInput(f"cannot filter on {attr!r}; filterable: {', '.join(sorted(filters))}")
    return f" AND {filters[key]} = %s", [(value or "").lower() if key in _CASE_INSENSITIVE else value]


def list_users(conn: Conn, *, attr: str | None = None, value: str | None = None, start: int = 1,
               count: int = 100) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of live user principals (not deleted), ordered by id; ``start`` is 1-based."""
    where, params = _where(USER_FILTERS, attr, value)
    base = f" FROM principals p WHERE p.kind = 'user' AND p.deleted_at IS NULL{where}"
    total = int(one(conn.execute("SELECT count(*) AS n" + base, params))["n"])
    rows = conn.execute(f"SELECT {_USER_COLS}" + base + " ORDER BY p.id OFFSET %s LIMIT %s",
                        [*params, max(start, 1) - 1, count]).fetchall()
    for r in rows:
        r["groups"] = user_groups(conn, int(r["id"]))
    return total, rows


def user_groups(conn: Conn, pid: int) -> list[dict[str, Any]]:
    return conn.execute("SELECT g.id, g.name FROM memberships m JOIN groups g ON g.id = m.group_id"
                        " WHERE m.principal_id = %s ORDER BY g.id", (pid,)).fetchall()


def live_user(conn: Conn, pid: int) -> dict[str, Any]:
    row = conn.execute(f"SELECT {_USER_COLS} FROM principals p WHERE p.id = %s AND p.kind = 'user'"
                       " AND p.deleted_at IS NULL", (pid,)).fetchone()
    if row is None:
        raise NotFound(f"no user {pid}")
    row["groups"] = user_groups(conn, pid)
    return row


# --- groups and memberships -----------------------------------------------------------------
def create_group(conn: Conn, name: str, *, source: str, external_id: str | None = None) -> int:
    row = conn.execute("INSERT INTO groups (name, source, external_id) VALUES (%s, %s, %s)"
                       " ON CONFLICT (name) DO NOTHING RETURNING id", (name, source, external_id)).fetchone()
    if row is None:
        raise Conflict(f"a group named {name!r} already exists")
    return int(row["id"])


def ensure_groups(conn: Conn, names: Iterable[str], *, source: str) -> dict[str, int]:
    """Ids of the named groups, creating missing ones with ``source``."""
    out: dict[str, int] = {}
    for name in sorted(set(names)):
        row = conn.execute("SELECT id FROM groups WHERE name = %s", (name,)).fetchone()
        out[name] = int(row["id"]) if row else create_group(conn, name, source=source)
    return out


def update_group(conn: Conn, gid: int, **fields: object) -> None:
    allowed = {"name", "external_id"}
    assert not set(fields) - allowed
    if not fields:
        return
    if "name" in fields:
        clash = conn.execute("SELECT 1 FROM groups WHERE name = %s AND id <> %s", (fields["name"], gid)).fetchone()
        if clash:
            raise Conflict(f"a group named {fields['name']!r} already exists")
    sets = ", ".join(f"{k} = %s" for k in fields)
    conn.execute(f"UPDATE groups SET {sets}, updated_at = now() WHERE id = %s", [*fields.values(), gid])


def group(conn: Conn, gid: int) -> dict[str, Any]:
    row = conn.execute("SELECT g.id, g.name, g.source, g.external_id, g.created_at, g.updated_at"
                       " FROM groups g WHERE g.id = %s", (gid,)).fetchone()
    if row is None:
        raise NotFound(f"no group {gid}")
    row["members"] = group_members(conn, gid)
    return row


def group_members(conn: Conn, gid: int) -> list[dict[str, Any]]:
    return conn.execute("SELECT p.id, p.name FROM memberships m JOIN principals p ON p.id = m.principal_id"
                        " WHERE m.group_id = %s AND p.deleted_at IS NULL ORDER BY p.id", (gid,)).fetchall()


def list_groups(conn: Conn, *, attr: str | None = None, value: str | None = None, start: int = 1,
                count: int = 100, members: bool = True) -> tuple[int, list[dict[str, Any]]]:
    where, params = _where(GROUP_FILTERS, attr, value)
    base = f" FROM groups g WHERE true{where}"
    total = int(one(conn.execute("SELECT count(*) AS n" + base, params))["n"])
    rows = conn.execute("SELECT g.id, g.name, g.source, g.external_id, g.created_at, g.updated_at" + base
                        + " ORDER BY g.id OFFSET %s LIMIT %s", [*params, max(start, 1) - 1, count]).fetchall()
    for r in rows:
        r["members"] = group_members(conn, int(r["id"])) if members else []
    return total, rows


def delete_group(conn: Conn, gid: int) -> list[int]:
    """Delete a group (its memberships go with it); the former members' ids."""
    former = [int(r["principal_id"]) for r in
              conn.execute("SELECT principal_id FROM memberships WHERE group_id = %s", (gid,)).fetchall()]
    if conn.execute("DELETE FROM groups WHERE id = %s", (gid,)).rowcount == 0:
        raise NotFound(f"no group {gid}")
    return former


def existing_users(conn: Conn, ids: Iterable[int]) -> dict[int, str]:
    """The live users among ``ids`` (id -> name)."""
    wanted = sorted(set(ids))
    rows = conn.execute("SELECT id, name FROM principals WHERE id = ANY(%s) AND deleted_at IS NULL",
                        (wanted,)).fetchall()
    return {int(r["id"]): r["name"] for r in rows}


def add_members(conn: Conn, gid: int, pids: Iterable[int]) -> list[int]:
    """Add members; the ids actually added (not members before)."""
    rows = conn.execute("INSERT INTO memberships (principal_id, group_id) SELECT unnest(%s::bigint[]), %s"
                        " ON CONFLICT DO NOTHING RETURNING principal_id", (sorted(set(pids)), gid)).fetchall()
    return sorted(int(r["principal_id"]) for r in rows)


def remove_members(conn: Conn, gid: int, pids: Iterable[int] | None = None) -> list[int]:
    """Remove the given members (None: all); the ids actually removed."""
    if pids is None:
        rows = conn.execute("DELETE FROM memberships WHERE group_id = %s RETURNING principal_id", (gid,)).fetchall()
    else:
        rows = conn.execute("DELETE FROM memberships WHERE group_id = %s AND principal_id = ANY(%s)"
                            " RETURNING principal_id", (gid, sorted(set(pids)))).fetchall()
    return sorted(int(r["principal_id"]) for r in rows)


def sync_user_groups(conn: Conn, pid: int, want: Iterable[str], managed: Iterable[str], *,
                     source: str) -> tuple[list[str], list[str]]:
    """Make ``pid``'s memberships among the ``managed`` groups exactly ``want`` (created with
    ``source`` when missing); other memberships are untouched. Returns (added, removed) names."""
    want_ids = ensure_groups(conn, want, source=source)
    managed_rows = conn.execute("SELECT id, name FROM groups WHERE name = ANY(%s)", (sorted(set(managed)),)).fetchall()
    drop = [int(r["id"]) for r in managed_rows if r["name"] not in want_ids]
    removed = conn.execute("DELETE FROM memberships m USING groups g WHERE g.id = m.group_id AND m.principal_id = %s"
                           " AND m.group_id = ANY(%s) RETURNING g.name", (pid, drop)).fetchall()
    added = conn.execute("INSERT INTO memberships (principal_id, group_id) SELECT %s, unnest(%s::bigint[])"
                         " ON CONFLICT DO NOTHING RETURNING group_id", (pid, list(want_ids.values()))).fetchall()
    names = {v: k for k, v in want_ids.items()}
    return sorted(names[int(r["group_id"])] for r in added), sorted(r["name"] for r in removed)
