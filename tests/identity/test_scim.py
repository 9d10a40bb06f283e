"""The SCIM 2.0 server driven by ``scim2-client``, which validates every request and response
against RFC 7643/7644 (payload schemas, status codes, content types, list responses, errors):
users and groups created, filtered, paged, patched, replaced and deleted; deactivation taking
effect on the very next request; membership changes reaching reads at once."""

from __future__ import annotations

import httpx
import httpx2
import pytest
from scim2_client.client import describe_resource_models
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    Email,
    Group,
    GroupMember,
    ListResponse,
    PatchOp,
    PatchOperation,
    ResourceType,
    SCIMException,
    ScimProvider,
    SearchRequest,
    User,
)

from tether.types import Principal

from tests.identity.conftest import SCIM_TOKEN, World

QUESTION = "What is the salary band for a senior engineer in Project Nightingale?"
SECRET = "91,000"


@pytest.fixture
def scim(world: World) -> SyncSCIMClient:
    models, types = describe_resource_models([User, Group])
    http = httpx2.Client(base_url=world.url + "/scim/v2", headers={"Authorization": f"Bearer {SCIM_TOKEN}"})
    client = SyncSCIMClient(http, provider=ScimProvider(models=models, resource_types=types))
    client.discover(schemas=False, resource_types=False)  # reads and validates ServiceProviderConfig
    return client


def admin(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys['root']}"}


def test_discovery_documents_validate(scim: SyncSCIMClient):
    assert scim.provider.config is not None and scim.provider.config.patch.supported
    listed = scim.query(ResourceType)
    assert isinstance(listed, ListResponse) and {r.name for r in listed.resources} == {"User", "Group"}


def test_the_bearer_token_is_required(world: World):
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Bearer {world.keys['root']}"}):
        r = httpx.get(world.url + "/scim/v2/Users", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/scim+json")
        assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_user_lifecycle_filter_pagination_patch_replace_delete(world: World, scim: SyncSCIMClient):
    created = scim.create(User(user_name="Nina@Example.com", external_id="ext-nina", display_name="Nina N",
                               emails=[Email(value="nina@example.com", primary=True)], active=True))
    assert isinstance(created, User) and created.id and created.active is True
    assert created.meta is not None and created.meta.location.endswith(f"/Users/{created.id}")
    # userName is not case-sensitive (RFC 7643 4.1.1)
    found = scim.query(User, query_parameters=SearchRequest(filter='userName eq "nina@example.com"'))
    assert found.total_results == 1 and found.resources[0].id == created.id
    by_external = scim.query(User, query_parameters=SearchRequest(filter='externalId eq "ext-nina"'))
    assert by_external.resources[0].id == created.id
    assert scim.query(User, query_parameters=SearchRequest(filter='userName eq "nobody"')).total_results == 0
    # uniqueness: the same userName again is a 409 with scimType uniqueness
    with pytest.raises(SCIMException) as err:
        scim.create(User(user_name="Nina@Example.com"))
    assert err.value.error.status == 409 and err.value.error.scim_type == "uniqueness"
    # pagination: startIndex is 1-based, count caps the page
    for i in range(4):
        scim.create(User(user_name=f"page-user-{i}", active=True))
    everyone = scim.query(User)
    page = scim.query(User, query_parameters=SearchRequest(start_index=2, count=2))
    assert page.total_results == everyone.total_results >= 8
    assert page.start_index == 2 and page.items_per_page == 2
    assert [u.id for u in page.resources] == [u.id for u in everyone.resources[1:3]]
    # PATCH (replace displayName; the wire form identity providers send) and PUT
    patched = scim.modify(User, created.id, PatchOp[User](operations=[
        PatchOperation[User](op="replace", path="displayName", value="Nina Nilsson")]))
    assert patched is None or patched.display_name == "Nina Nilsson"
    assert scim.query(User, created.id).display_name == "Nina Nilsson"
    replaced = scim.replace(User(id=created.id, user_name="nina@example.com", external_id="ext-nina",
                                 active=True))
    assert replaced.display_name is None and replaced.user_name == "nina@example.com"
    # DELETE: gone for SCIM (404), kept inactive in Tether
    scim.delete(User, created.id)
    with pytest.raises(SCIMException) as err:
        scim.query(User, created.id)
    assert err.value.error.status == 404
    users = {u["name"]: u for u in world.engine.accounts.users(Principal.system())}
    kept = users[f"nina@example.com.deleted-{created.id}"]
    assert kept["active"] is False and kept["source"] == "scim"
    assert any(a["target"] == "nina@example.com" for a in
               world.engine.audit.recent(Principal.system(), action="identity.user.delete"))


def test_bad_filters_and_bodies_are_scim_errors(world: World):
    h = {"Authorization": f"Bearer {SCIM_TOKEN}"}
    r = httpx.get(world.url + "/scim/v2/Users", params={"filter": 'userName co "a"'}, headers=h)
    assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter"
    r = httpx.get(world.url + "/scim/v2/Users", params={"filter": 'password eq "a"'}, headers=h)
    assert r.status_code == 400 and "cannot filter" in r.json()["detail"]
    r = httpx.post(world.url + "/scim/v2/Users", content=b"{not json", headers=h)
    assert r.status_code == 400 and r.json()["scimType"] == "invalidSyntax"
    r = httpx.post(world.url + "/scim/v2/Users", json={"schemas": [], "userName": "bad name!"}, headers=h)
    assert r.status_code == 400 and "invalid userName" in r.json()["detail"]
    r = httpx.patch(world.url + "/scim/v2/Users/999999", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}]}, headers=h)
    assert r.status_code == 404


def test_deactivation_takes_effect_on_the_very_next_request(world: World, scim: SyncSCIMClient):
    user = scim.create(User(user_name="otto", active=True))
    key = httpx.post(world.url + "/v1/api-keys", json={"user": "otto"}, headers=admin(world)).json()["key"]
    h = {"Authorization": f"Bearer {key}"}
    browser = httpx.Client(base_url=world.url)
    assert browser.post("/v1/session", json={"api_key": key}).status_code == 200
    assert browser.get("/v1/me").json()["name"] == "otto"
    conv = httpx.post(world.url + "/v1/conversations", json={"title": "otto's thread"}, headers=h)
    assert conv.status_code == 201, conv.text
    review = httpx.post(world.url + "/v1/reviews", json={"question": "who approves leave?"}, headers=h)
    assert review.status_code == 201, review.text
    # the identity provider deactivates otto (Entra ID sends the value as a string)
    r = httpx.patch(world.url + f"/scim/v2/Users/{user.id}", headers={"Authorization": f"Bearer {SCIM_TOKEN}"},
                    json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert r.status_code == 200 and r.json()["active"] is False
    # the very next requests: key and session both refused
    assert httpx.get(world.url + "/v1/me", headers=h).status_code == 401
    assert browser.get("/v1/me").status_code == 401
    assert httpx.post(world.url + "/v1/session", json={"api_key": key}).status_code == 401
    # what otto made stays (for audit)
    reviews = httpx.get(world.url + "/v1/reviews", headers=admin(world)).json()
    items = reviews.get("items", reviews.get("reviews", []))
    assert any(i.get("question") == "who approves leave?" for i in items), reviews
    with world.engine.db.connection() as conn:  # the test reads the store directly
        n = conn.execute("SELECT count(*) AS n FROM conversations c JOIN principals p ON p.id = c.principal_id"
                         " WHERE p.name = 'otto'").fetchone()["n"]
    assert n == 1
    assert any(a["target"] == "otto" and a["details"]["source"] == "scim"
               for a in world.engine.audit.recent(Principal.system(), action="identity.user.deactivate"))
    # reactivated: the key works again (the session was ended for good)
    scim.modify(User, user.id, PatchOp[User](operations=[PatchOperation[User](op="replace", value={"active": True})]))
    assert httpx.get(world.url + "/v1/me", headers=h).status_code == 200
    assert browser.get("/v1/me").status_code == 401


def _ask(world: World, who: str) -> str:
    r = httpx.post(world.url + "/v1/ask", json={"question": QUESTION},
                   headers={"Authorization": f"Bearer {world.keys[who]}"}, timeout=120)
    assert r.status_code == 200, r.text
    return r.text


def _search(world: World, who: str) -> str:
    r = httpx.post(world.url + "/v1/search", json={"query": QUESTION},
                   headers={"Authorization": f"Bearer {world.keys[who]}"})
    assert r.status_code == 200, r.text
    return r.text


def test_groups_and_membership_changes_reach_reads_at_once(world: World, scim: SyncSCIMClient):
    hr = scim.query(Group, query_parameters=SearchRequest(filter='displayName eq "hr"'))
    assert hr.total_results == 1
    group = hr.resources[0]
    ana = scim.query(User, query_parameters=SearchRequest(filter='userName eq "ana"')).resources[0]
    assert ana.id in {m.value for m in group.members}
    # ana reads the hr document; the second ask is served from the answer cache
    assert SECRET in _ask(world, "ana") and SECRET in _ask(world, "ana") and SECRET in _search(world, "ana")
    # the directory removes ana from hr: the very next ask, search and cache lookup see nothing of it
    scim.modify(Group, group.id, PatchOp[Group](operations=[
        PatchOperation[Group](op="remove", path=f'members[value eq "{ana.id}"]')]))
    assert SECRET not in _ask(world, "ana") and SECRET not in _search(world, "ana")
    assert "Nightingale" not in httpx.get(world.url + "/v1/documents",
                                          headers={"Authorization": f"Bearer {world.keys['ana']}"}).text
    assert any(a["target"] == "hr" and a["details"] == {"user": "ana", "source": "scim"}
               for a in world.engine.audit.recent(Principal.system(), action="identity.member.remove"))
    # added back (PATCH add), she reads it again
    scim.modify(Group, group.id, PatchOp[Group](operations=[
        PatchOperation[Group](op="add", path="members", value=[GroupMember(value=ana.id)])]))
    assert SECRET in _ask(world, "ana")
    # a new group with members, renamed by PATCH, listed without members, deleted
    eve = scim.query(User, query_parameters=SearchRequest(filter='userName eq "eve"')).resources[0]
    made = scim.create(Group(display_name="finance", external_id="grp-fin", members=[GroupMember(value=eve.id)]))
    assert [m.value for m in made.members] == [eve.id]
    assert world.engine.principal("eve").group_names == ("finance",)
    scim.modify(Group, made.id, PatchOp[Group](operations=[
        PatchOperation[Group](op="replace", path="displayName", value="finance-emea")]))
    assert world.engine.principal("eve").group_names == ("finance-emea",)
    bare = httpx.get(world.url + "/scim/v2/Groups", params={"excludedAttributes": "members"},
                     headers={"Authorization": f"Bearer {SCIM_TOKEN}"}).json()
    assert bare["totalResults"] >= 2 and all("members" not in g for g in bare["Resources"])
    groups = {g["name"]: g for g in world.engine.accounts.groups(Principal.system())}
    assert groups["finance-emea"]["source"] == "scim" and groups["hr"]["source"] == "admin"
    scim.delete(Group, made.id)
    assert world.engine.principal("eve").group_names == ()
