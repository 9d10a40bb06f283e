"""The administrators' "People" page: every user and group with where it comes from (typed in
by an administrator, signed in through OIDC, provisioned by SCIM) and whether a user is
active, so a directory-driven deployment can be checked at a glance (``engine.accounts``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tether.api.auth import get_engine
from tether.ui.pages import not_found, page, signed_in, to_sign_in

router = APIRouter(include_in_schema=False)


@router.get("/ui/people")
def people(request: Request) -> Response:
    me = signed_in(request)
    if me is None:
        return to_sign_in()
    if not me.is_admin:
        return not_found(request, me)
    accounts = get_engine(request).accounts
    return page(request, "people.html", me, users=accounts.users(me), groups=accounts.groups(me))
