"""The SCIM wire format without a server: filters, resources and PATCH as identity providers
spell them (RFC 7644 examples, Entra ID's capitalised ops and string booleans, Okta's value
objects), and the typed errors bad input gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tether.errors import InvalidInput
from tether.identity import scim

PATCH = {"schemas": [scim.PATCH]}


def ops(*operations: dict) -> dict:
    return {**PATCH, "Operations": list(operations)}


def test_filters():
    assert scim.parse_filter('userName eq "bjensen"') == ("userName", "bjensen")
    assert scim.parse_filter('  externalId EQ "a \\"quoted\\" id" ') == ("externalId", 'a "quoted" id')
    assert scim.parse_filter(None) is None and scim.parse_filter("") is None
    for bad in ('userName co "b"', 'userName eq bjensen', 'userName eq "a" and active eq true', "title pr"):
        with pytest.raises(InvalidInput) as err:
            scim.parse_filter(bad)
        assert err.value.details["scim_type"] == "invalidFilter"


def test_user_resource_round_trip():
    now = datetime(2026, 1, 2, tzinfo=UTC)
    row = {"id": 7, "name": "ana@example.com", "active": False, "external_id": "e-7", "display_name": "Ana R",
           "email": "ana@example.com", "created_at": now, "updated_at": now, "groups": [{"id": 3, "name": "hr"}]}
    res = scim.user_resource(row, "http://t/scim/v2")
    assert res["schemas"] == [scim.USER] and res["id"] == "7" and res["active"] is False
    assert res["meta"]["location"] == "http://t/scim/v2/Users/7" and res["meta"]["resourceType"] == "User"
    assert res["groups"] == [{"value": "3", "display": "hr", "$ref": "http://t/scim/v2/Groups/3"}]
    fields = scim.user_fields(res)
    assert fields == {"user_name": "ana@example.com", "external_id": "e-7", "display_name": "Ana R",
                      "email": "ana@example.com", "active": False}
    named = scim.user_fields({"userName": "x", "name": {"givenName": "Bo", "familyName": "Li"}})
    assert named["display_name"] == "Bo Li"
    with pytest.raises(InvalidInput):
        scim.user_fields({"displayName": "no userName"})
    with pytest.raises(InvalidInput):
        scim.user_fields({"userName": "x", "active": "maybe"})


def test_user_patch_forms():
    # RFC 7644 3.5.2.3 with a path; Entra ID: capitalised op, "False" as a string
    assert scim.user_patch(ops({"op": "Replace", "path": "active", "value": "False"})) == {"active": False}
    # Okta: no path, a value object
    assert scim.user_patch(ops({"op": "replace", "value": {"active": True, "displayName": "N"}})) == {
        "active": True, "display_name": "N"}
    assert scim.user_patch(ops({"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@b.c"})) == {
        "email": "a@b.c"}
    assert scim.user_patch(ops({"op": "add", "path": "name.givenName", "value": "Bo"})) == {"display_name": "Bo"}
    assert scim.user_patch(ops({"op": "remove", "path": "externalId"})) == {"external_id": None}
    for bad, kind in ((ops({"op": "remove", "path": "active"}), "mutability"),
                      (ops({"op": "replace", "path": "password", "value": "x"}), "invalidPath"),
                      (ops({"op": "move", "path": "active"}), "invalidSyntax"),
                      ({"Operations": [{"op": "replace", "path": "active", "value": False}]}, "invalidSyntax"),
                      (ops({"op": "replace", "value": "not an object"}), "noTarget")):
        with pytest.raises(InvalidInput) as err:
            scim.user_patch(bad)
        assert err.value.details["scim_type"] == kind, bad


def test_group_patch_forms():
    assert scim.group_patch(ops({"op": "add", "path": "members", "value": [{"value": "4"}, {"value": "5"}]})) == [
        ("add", [4, 5])]
    assert scim.group_patch(ops({"op": "remove", "path": 'members[value eq "4"]'})) == [("remove", [4])]
    assert scim.group_patch(ops({"op": "remove", "path": "members"})) == [("remove", None)]  # every member
    assert scim.group_patch(ops({"op": "replace", "path": "members", "value": []})) == [("replace", [])]
    assert scim.group_patch(ops({"op": "replace", "value": {"displayName": "fin", "externalId": "x"}})) == [
        ("name", "fin"), ("external_id", "x")]
    with pytest.raises(InvalidInput):
        scim.group_patch(ops({"op": "add", "path": "members", "value": [{"value": "not-an-id"}]}))
    with pytest.raises(InvalidInput):
        scim.group_patch(ops({"op": "replace", "path": "owner", "value": "x"}))


def test_error_and_list_shapes():
    assert scim.error_body(409, "taken", "uniqueness") == {"schemas": [scim.ERROR], "status": "409",
                                                           "detail": "taken", "scimType": "uniqueness"}
    body = scim.list_response([{"id": "1"}], total=10, start=3)
    assert body == {"schemas": [scim.LIST], "totalResults": 10, "startIndex": 3, "itemsPerPage": 1,
                    "Resources": [{"id": "1"}]}
