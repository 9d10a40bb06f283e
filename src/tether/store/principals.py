"""Principals (users, service accounts), groups and memberships.

Permissions are resolved fresh from these tables on every request, so revoking a membership
takes effect on the next request.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import DictRow

from tether.errors import Conflict, InvalidInput, UnknownPrincipal
from tether.types import PUBLIC, Acl, Principal

ROLES = ("admin", "member", "reviewer")


def add_user(conn: psycopg.Connection[DictRow], name: str, *, role: str = "member", kind: str = "user") -> int:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidInput(f"invalid principal name {name!r}: use letters, digits, '.', '-', '_'")
    row = conn.execute(
        "INSERT INTO principals (name, role, kind) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO NOTHING RETURNING id",
        (name, role, kind),
    ).fetchone()
    if row is None:
        raise Conflict(f"principal {name!r} already exists")
    return int(row["id"])


def ensure_user(conn: psycopg.Connection[DictRow], name: str, *, role: str = "member") -> int:
    row = conn.execute("SELECT id FROM principals WHERE name = %s", (name,)).fetchone()
    return int(row["id"]) if row else add_user(conn, name, role=role)


def add_group(conn: psycopg.Connection[DictRow], name: str) -> int:
    row = conn.execute(
        "INSERT INTO groups (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id", (name,)
    ).fetchone()
    if row is None:
        raise Conflict(f"group {name!r} already exists")
    return int(row["id"])


def ensure_group(conn: psycopg.Connection[DictRow], name: str) -> int:
    row = conn.execute("SELECT id FROM groups WHERE name = %s", (name,)).fetchone()
    return int(row["id"]) if row else add_group(conn, name)


def add_member(conn: psycopg.Connection[DictRow], user: str, group: str) -> None:
    uid = _user_id(conn, user)
    gid = _group_id(conn, group)
    conn.execute(
        "INSERT INTO memberships (principal_id, group_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (uid, gid),
    )


def remove_member(conn: psycopg.Connection[DictRow], user: str, group: str) -> bool:
    cur = conn.execute(
        "DELETE FROM memberships WHERE principal_id = %s AND group_id = %s",
        (_user_id(conn, user), _group_id(conn, group)),
    )
    return cur.rowcount > 0


def _user_id(conn: psycopg.Connection[DictRow], name: str) -> int:
    row = conn.execute("SELECT id FROM principals WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise UnknownPrincipal(f"unknown user {name!r}")
    return int(row["id"])


def _group_id(conn: psycopg.Connection[DictRow], name: str) -> int:
    row = conn.execute("SELECT id FROM groups WHERE name = %s", (name,)).fetchone()
    if row is None:
        known = [r["name"] for r in conn.execute("SELECT name FROM groups ORDER BY name").fetchall()]
        raise UnknownPrincipal(f"unknown group {name!r}; known groups: {', '.join(known) or 'none'}")
    return int(row["id"])


def get_principal(conn: psycopg.Connection[DictRow], name: str) -> Principal:
    row = conn.execute(
        "SELECT p.id, p.name, p.kind, p.role,"
        " coalesce(array_agg(g.id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS gids,"
        " coalesce(array_agg(g.name ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS gnames"
        " FROM principals p LEFT JOIN memberships m ON m.principal_id = p.id"
        " LEFT JOIN groups g ON g.id = m.group_id WHERE p.name = %s GROUP BY p.id",
        (name,),
    ).fetchone()
    if row is None:
        raise UnknownPrincipal(f"unknown user {name!r}")
    return Principal(
        id=int(row["id"]), name=row["name"], kind=row["kind"], role=row["role"],
        group_ids=tuple(int(g) for g in row["gids"]), group_names=tuple(row["gnames"]),
    )


def list_users(conn: psycopg.Connection[DictRow]) -> list[dict[str, object]]:
    return conn.execute(
        "SELECT p.name, p.kind, p.role, p.source, p.active, p.email, coalesce(array_agg(g.name ORDER BY g.name)"
        " FILTER (WHERE g.id IS NOT NULL), '{}') AS groups FROM principals p"
        " LEFT JOIN memberships m ON m.principal_id = p.id LEFT JOIN groups g ON g.id = m.group_id"
        " GROUP BY p.id ORDER BY p.name"
    ).fetchall()


def names_by_id(conn: psycopg.Connection[DictRow]) -> dict[int, str]:
    """Every principal's name by id (to label audit records)."""
    return {int(r["id"]): r["name"] for r in conn.execute("SELECT id, name FROM principals").fetchall()}


def list_groups(conn: psycopg.Connection[DictRow]) -> list[dict[str, object]]:
    return conn.execute(
        "SELECT g.name, g.source, count(m.principal_id) AS members FROM groups g"
        " LEFT JOIN memberships m ON m.group_id = g.id GROUP BY g.id ORDER BY g.name"
    ).fetchall()


def acl_tokens(conn: psycopg.Connection[DictRow], acl: Acl) -> tuple[list[str], int | None]:
    """Resolve an :class:`Acl` of names into stored tokens; unknown names are an error."""
    tokens: list[str] = [PUBLIC] if acl.public else []
    owner_id = _user_id(conn, acl.owner) if acl.owner else None
    if owner_id is not None:
        tokens.append(f"u:{owner_id}")
    tokens += [f"u:{_user_id(conn, u)}" for u in acl.users]
    tokens += [f"g:{_group_id(conn, g)}" for g in acl.groups]
    if not tokens:
        raise InvalidInput("a document needs an ACL: give an owner, --acl public, group:NAME or user:NAME")
    return sorted(set(tokens)), owner_id


def describe_acl(conn: psycopg.Connection[DictRow], tokens: list[str]) -> list[str]:
    """Tokens back to readable specs (``group:legal``); for admins and owners."""
    out = []
    for t in tokens:
        kind, _, ident = t.partition(":")
        if t == PUBLIC:
            out.append(PUBLIC)
            continue
        table = "principals" if kind == "u" else "groups"
        row = conn.execute(f"SELECT name FROM {table} WHERE id = %s", (int(ident),)).fetchone()
        if row is None:
            out.append(f"{'user' if kind == 'u' else 'group'}:#{ident} (deleted)")
            continue
        out.append(("user:" if kind == "u" else "group:") + row["name"])
    return out
