"""The permission rules more than one service applies, in one place: who administers, and how
an actor is recorded in the audit log (the CLI's operator, ``Principal.system()``, as NULL)."""

from __future__ import annotations

from tether.errors import PermissionDenied
from tether.types import Principal


def require_admin(principal: Principal, what: str = "this") -> None:
    """PermissionDenied (403) unless ``principal`` is an administrator."""
    if not principal.is_admin:
        raise PermissionDenied(f"{what} is for administrators")


def require_reviewer(principal: Principal) -> None:
    if not principal.is_reviewer:
        raise PermissionDenied("only reviewers and administrators may work on review items")


def actor_id(principal: Principal) -> int | None:
    """The ``actor_id`` an audit record gets: the principal's id, NULL for the operator."""
    return None if principal.is_system else principal.id
