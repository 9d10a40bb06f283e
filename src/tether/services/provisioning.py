"""SCIM provisioning: the identity provider creates, updates, deactivates and deletes users and
manages groups and their members (``/scim/v2``, ``api/routes_scim.py``).

Why a service: provisioning decides who may read what, so each change is made in one
transaction with its audit records (``identity.user.*``, ``identity.group.*``,
``identity.member.add/remove``, all with ``source: "scim"`` and no actor: the directory acted).
Deactivation (``active: false``) or deletion ends the user's sessions and stops their API keys
on the very next request; nothing they made (conversations, review items, audit) is deleted:
a deleted user is kept inactive under a freed name. The bearer token is compared in constant
time with the one named by ``[scim] token_env``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from tether.errors import InvalidInput, NotFound, Unauthenticated
from tether.identity.oidc import valid_username
from tether.services.directory import record_membership
from tether.settings.identity import ScimSettings
from tether.store import audit, directory
from tether.store.db import Database
from tether.store.rows import Conn

SOURCE = "scim"


def _id(resource_id: str, what: str) -> int:
    if not resource_id.isdigit():
        raise NotFound(f"no {what} {resource_id!r}")
    return int(resource_id)


class ProvisioningService:
    def __init__(self, db: Database, cfg: ScimSettings, secrets: Mapping[str, str]) -> None:
        self.db = db
        self.cfg = cfg
        self.secrets = secrets

    def check_token(self, presented: str | None) -> None:
        """Unauthenticated unless SCIM is on and ``presented`` is its bearer token."""
        expected = self.secrets.get(self.cfg.token_env, "")
        if not self.cfg.enabled:
            raise NotFound("SCIM provisioning is not enabled ([scim] enabled = true)")
        if not expected or not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
            raise Unauthenticated("invalid SCIM bearer token")

    def page(self, count: int | None) -> int:
        return self.cfg.max_results if count is None else max(0, min(count, self.cfg.max_results))

    @staticmethod
    def _audit(conn: Conn, action: str, target: str, **details: object) -> None:
        audit.record(conn, action, target=target, details={"source": SOURCE, **details})

    # users ---------------------------------------------------------------------------------
    def users(self, flt: tuple[str, str] | None, start: int, count: int | None) -> tuple[int, list[dict[str, Any]]]:
        attr, value = flt if flt else (None, None)
        with self.db.connection() as conn:
            return directory.list_users(conn, attr=attr, value=value, start=start, count=self.page(count))

    def user(self, resource_id: str) -> dict[str, Any]:
        with self.db.connection() as conn:
            return directory.live_user(conn, _id(resource_id, "user"))

    def create_user(self, fields: dict[str, Any]) -> dict[str, Any]:
        name = fields["user_name"]
        if not valid_username(name):
            raise InvalidInput(f"invalid userName {name!r}: letters, digits, '.', '_', '-', '@', '+'",
                               scim_type="invalidValue")
        with self.db.transaction() as conn:
            pid = directory.create_user(conn, name, source=SOURCE, external_id=fields.get("external_id"),
                                        email=fields.get("email"), display_name=fields.get("display_name"),
                                        active=fields.get("active", True))
            self._audit(conn, "identity.user.provision", name, external_id=fields.get("external_id"),
                        active=fields.get("active", True))
            return directory.live_user(conn, pid)

    def replace_user(self, resource_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self.patch_user(resource_id, fields, replace=True)

    def patch_user(self, resource_id: str, changes: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
        """Apply ``changes`` (``identity.scim.user_fields`` names); PUT (``replace``) clears what it omits."""
        pid = _id(resource_id, "user")
        if replace:
            changes = {"external_id": None, "display_name": None, "email": None, **changes}
        with self.db.transaction() as conn:
            row = directory.live_user(conn, pid)
            cols: dict[str, object] = {}
            if changes.get("user_name") and changes["user_name"] != row["name"]:
                if not valid_username(changes["user_name"]):
                    raise InvalidInput(f"invalid userName {changes['user_name']!r}", scim_type="invalidValue")
                cols["name"] = changes["user_name"]
            for key in ("external_id", "display_name", "email"):
                if key in changes and changes[key] != row[key]:
                    cols[key] = changes[key]
            directory.update_user(conn, pid, **cols)
            if cols:
                self._audit(conn, "identity.user.update", row["name"], fields=sorted(cols),
                            **({"renamed_to": cols["name"]} if "name" in cols else {}))
            if "active" in changes and directory.set_active(conn, pid, bool(changes["active"])):
                self._audit(conn, "identity.user." + ("reactivate" if changes["active"] else "deactivate"),
                            str(cols.get("name", row["name"])))
            return directory.live_user(conn, pid)

    def delete_user(self, resource_id: str) -> None:
        pid = _id(resource_id, "user")
        with self.db.transaction() as conn:
            row = directory.live_user(conn, pid)
            directory.mark_deleted(conn, pid)
            self._audit(conn, "identity.user.delete", row["name"], kept_as=f"{row['name']}.deleted-{pid}")

    # groups --------------------------------------------------------------------------------
    def groups(self, flt: tuple[str, str] | None, start: int, count: int | None,
               members: bool = True) -> tuple[int, list[dict[str, Any]]]:
        attr, value = flt if flt else (None, None)
        with self.db.connection() as conn:
            return directory.list_groups(conn, attr=attr, value=value, start=start, count=self.page(count),
                                         members=members)

    def group(self, resource_id: str) -> dict[str, Any]:
        with self.db.connection() as conn:
            return directory.group(conn, _id(resource_id, "group"))

    @staticmethod
    def _users(conn: Conn, ids: list[int]) -> dict[int, str]:
        found = directory.existing_users(conn, ids)
        missing = sorted(set(ids) - set(found))
        if missing:
            raise InvalidInput(f"unknown member id(s): {', '.join(map(str, missing))}", scim_type="invalidValue")
        return found

    def _members(self, conn: Conn, gid: int, group_name: str, action: str, ids: list[int] | None) -> None:
        if action == "remove" and ids is None:
            removed, added = directory.remove_members(conn, gid), []
        else:
            names = self._users(conn, ids or [])
            if action == "replace":
                removed = directory.remove_members(conn, gid, [i for i in self._current(conn, gid) if i not in names])
                added = directory.add_members(conn, gid, list(names))
            elif action == "add":
                removed, added = [], directory.add_members(conn, gid, list(names))
            else:
                removed, added = directory.remove_members(conn, gid, list(names)), []
        users = directory.existing_users(conn, added + removed)
        for pid in added:
            record_membership(conn, [group_name], [], user=users.get(pid, str(pid)), source=SOURCE, actor=None)
        for pid in removed:
            record_membership(conn, [], [group_name], user=users.get(pid, str(pid)), source=SOURCE, actor=None)

    @staticmethod
    def _current(conn: Conn, gid: int) -> list[int]:
        return [int(m["id"]) for m in directory.group_members(conn, gid)]

    def create_group(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not valid_username(fields["name"]):
            raise InvalidInput(f"invalid displayName {fields['name']!r}: letters, digits, '.', '_', '-', '@', '+'",
                               scim_type="invalidValue")
        with self.db.transaction() as conn:
            gid = directory.create_group(conn, fields["name"], source=SOURCE, external_id=fields.get("external_id"))
            self._audit(conn, "identity.group.create", fields["name"], external_id=fields.get("external_id"))
            self._members(conn, gid, fields["name"], "add", fields.get("members") or [])
            return directory.group(conn, gid)

    def replace_group(self, resource_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        actions = [("name", fields["name"]), ("external_id", fields.get("external_id")),
                   ("replace", fields.get("members") or [])]
        return self.patch_group(resource_id, actions)

    def patch_group(self, resource_id: str, actions: list[tuple[str, Any]]) -> dict[str, Any]:
        gid = _id(resource_id, "group")
        with self.db.transaction() as conn:
            row = directory.group(conn, gid)
            name = row["name"]
            for action, value in actions:
                if action == "name" and value != name:
                    if not valid_username(value):
                        raise InvalidInput(f"invalid displayName {value!r}", scim_type="invalidValue")
                    directory.update_group(conn, gid, name=value)
                    self._audit(conn, "identity.group.update", name, renamed_to=value)
                    name = value
                elif action == "external_id" and value != row["external_id"]:
                    directory.update_group(conn, gid, external_id=value)
                elif action in ("add", "remove", "replace"):
                    self._members(conn, gid, name, action, value)
            return directory.group(conn, gid)

    def delete_group(self, resource_id: str) -> None:
        gid = _id(resource_id, "group")
        with self.db.transaction() as conn:
            row = directory.group(conn, gid)
            former = directory.delete_group(conn, gid)
            self._audit(conn, "identity.group.delete", row["name"], members=len(former))
