"""SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol) without storage: rendering users and groups
as SCIM resources, reading the ones an identity provider sends, ``attr eq "value"`` filters,
and PATCH operations turned into a plain list of changes.

Why a module: the wire format is the identity provider's (Entra ID, Okta, ... each spell PATCH
a little differently: ``"Replace"`` or ``"replace"``, a path or a value object, ``"False"`` as
a string); ``services/directory.py`` then applies plain changes under Tether's rules. Bad input
is :class:`~tether.errors.InvalidInput` carrying the SCIM ``scimType`` in its details.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tether.errors import InvalidInput

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MEDIA_TYPE = "application/scim+json"

_FILTER = re.compile(r'^\s*([A-Za-z][\w.]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_MEMBER_PATH = re.compile(r'^members\[\s*value\s+eq\s+"([^"]+)"\s*\]$', re.IGNORECASE)


def invalid(message: str, scim_type: str = "invalidValue") -> InvalidInput:
    return InvalidInput(message, scim_type=scim_type)


def parse_filter(text: str | None) -> tuple[str, str] | None:
    """``userName eq "ana"`` -> ("userName", "ana"); None without a filter."""
    if not text:
        return None
    m = _FILTER.match(text)
    if not m:
        raise invalid(f"unsupported filter {text!r}: only 'attribute eq \"value\"' is supported", "invalidFilter")
    return m.group(1), m.group(2).replace('\\"', '"').replace("\\\\", "\\")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _meta(kind: str, row: dict[str, Any], location: str) -> dict[str, Any]:
    changed = row.get("updated_at") or row.get("created_at")
    return {"resourceType": kind, "created": _iso(row.get("created_at")), "lastModified": _iso(changed),
            "location": location, "version": f'W/"{int(changed.timestamp() * 1e6)}"' if changed else None}


def user_resource(row: dict[str, Any], base: str) -> dict[str, Any]:
    """A principal row (``store.directory``) as a SCIM User."""
    loc = f"{base}/Users/{row['id']}"
    out: dict[str, Any] = {
        "schemas": [USER], "id": str(row["id"]), "userName": row["name"], "active": bool(row["active"]),
        "meta": _meta("User", row, loc),
        "groups": [{"value": str(g["id"]), "display": g["name"], "$ref": f"{base}/Groups/{g['id']}"}
                   for g in row.get("groups", [])],
    }
    if row.get("external_id"):
        out["externalId"] = row["external_id"]
    if row.get("display_name"):
        out["displayName"] = row["display_name"]
        out["name"] = {"formatted": row["display_name"]}
    if row.get("email"):
        out["emails"] = [{"value": row["email"], "primary": True, "type": "work"}]
    return out


def group_resource(row: dict[str, Any], base: str) -> dict[str, Any]:
    loc = f"{base}/Groups/{row['id']}"
    out: dict[str, Any] = {
        "schemas": [GROUP], "id": str(row["id"]), "displayName": row["name"], "meta": _meta("Group", row, loc),
        "members": [{"value": str(m["id"]), "display": m["name"], "$ref": f"{base}/Users/{m['id']}",
                     "type": "User"} for m in row.get("members", [])],
    }
    if row.get("external_id"):
        out["externalId"] = row["external_id"]
    return out


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {"schemas": [LIST], "totalResults": total, "startIndex": start, "itemsPerPage": len(resources),
            "Resources": resources}


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(f"'active' must be a boolean, got {value!r}")


def _email(value: Any) -> str | None:
    if not value:
        return None
    if isinstance(value, list):
        primary = [e for e in value if isinstance(e, dict) and e.get("primary")] or value
        first = primary[0]
        return first.get("value") if isinstance(first, dict) else None
    return None


def _display(resource: dict[str, Any]) -> str | None:
    name = resource.get("name")
    formatted = name.get("formatted") if isinstance(name, dict) else None
    given = " ".join(str(name.get(k)) for k in ("givenName", "familyName")
                     if isinstance(name, dict) and name.get(k)) or None
    return resource.get("displayName") or formatted or given


def user_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """The fields of a User a POST or PUT sends: user_name, external_id, display_name, email, active."""
    if not isinstance(resource, dict):
        raise invalid("the body must be a SCIM User object")
    name = resource.get("userName")
    if not isinstance(name, str) or not name.strip():
        raise invalid("'userName' is required")
    return {"user_name": name.strip(), "external_id": resource.get("externalId"),
            "display_name": _display(resource), "email": _email(resource.get("emails")),
            "active": _bool(resource.get("active", True))}


def _ops(body: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or PATCH not in (body.get("schemas") or []):
        raise invalid(f"a PATCH body must name the schema {PATCH}", "invalidSyntax")
    ops = body.get("Operations")
    if not isinstance(ops, list) or not ops:
        raise invalid("a PATCH body needs a non-empty 'Operations' list", "invalidSyntax")
    for op in ops:
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("add", "replace", "remove"):
            raise invalid(f"unsupported PATCH operation {op!r}: use add, replace or remove", "invalidSyntax")
    return ops


_USER_PATHS = {"active": "active", "username": "user_name", "externalid": "external_id",
               "displayname": "display_name", "name.formatted": "display_name",
               'emails[type eq "work"].value': "email", "emails": "email", "emails.value": "email"}


def user_patch(body: dict[str, Any]) -> dict[str, Any]:
    """A PATCH of a User as the fields it sets (``user_fields`` names; None clears)."""
    out: dict[str, Any] = {}
    for op in _ops(body):
        kind, path, value = str(op["op"]).lower(), op.get("path"), op.get("value")
        if path is None:
            if kind == "remove" or not isinstance(value, dict):
                raise invalid("an operation without 'path' needs an object 'value'", "noTarget")
            items = list(value.items())
        else:
            items = [(path, value)]
        for attr, val in items:
            field = _USER_PATHS.get(str(attr).lower())
            if field is None and str(attr).lower().startswith(("name.", "emails[")):
                field = "display_name" if str(attr).lower().startswith("name.") else "email"
            if field is None:
                raise invalid(f"cannot modify {attr!r}; modifiable: active, userName, externalId, displayName, "
                              "name, emails", "invalidPath")
            if kind == "remove":
                if field in ("active", "user_name"):
                    raise invalid(f"{attr!r} cannot be removed", "mutability")
                out[field] = None
            elif field == "active":
                out["active"] = _bool(val)
            elif field == "email":
                out["email"] = _email(val) if isinstance(val, list) else val
            elif field == "display_name" and isinstance(val, dict):
                out["display_name"] = _display({"name": val})
            else:
                out[field] = val
    if "user_name" in out and (not isinstance(out["user_name"], str) or not out["user_name"].strip()):
        raise invalid("'userName' must be a non-empty string")
    return out


def member_ids(value: Any) -> list[int]:
    """Member references (``[{"value": "12"}]``) as principal ids."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise invalid("'members' must be a list of {\"value\": id}")
    out = []
    for m in value:
        ref = m.get("value") if isinstance(m, dict) else None
        if not isinstance(ref, str | int) or not str(ref).isdigit():
            raise invalid(f"member {m!r} is not a reference to a user id")
        out.append(int(ref))
    return out


def group_fields(resource: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(resource, dict):
        raise invalid("the body must be a SCIM Group object")
    name = resource.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise invalid("'displayName' is required")
    return {"name": name.strip(), "external_id": resource.get("externalId"),
            "members": member_ids(resource.get("members"))}


def group_patch(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """A PATCH of a Group as ordered actions: ("add", ids), ("remove", ids or None for all),
    ("replace", ids), ("name", str), ("external_id", str | None)."""
    actions: list[tuple[str, Any]] = []
    for op in _ops(body):
        kind, path, value = str(op["op"]).lower(), op.get("path"), op.get("value")
        if path is None:
            if kind == "remove" or not isinstance(value, dict):
                raise invalid("an operation without 'path' needs an object 'value'", "noTarget")
            items = list(value.items())
        else:
            items = [(path, value)]
        for attr, val in items:
            key = str(attr).lower()
            one = _MEMBER_PATH.match(str(attr))
            if one and kind == "remove":
                actions.append(("remove", [int(one.group(1))] if one.group(1).isdigit() else []))
            elif key == "members":
                ids = member_ids(val)
                actions.append((kind, None if kind == "remove" and not ids else ids))
            elif key == "displayname" and kind != "remove":
                if not isinstance(val, str) or not val.strip():
                    raise invalid("'displayName' must be a non-empty string")
                actions.append(("name", val.strip()))
            elif key == "externalid":
                actions.append(("external_id", None if kind == "remove" else val))
            else:
                raise invalid(f"cannot modify {attr!r} of a group; modifiable: displayName, externalId, members",
                              "invalidPath")
    return actions
