"""OAuth2 JWT access tokens of the same issuer on the API ([oidc] accept_bearer_tokens),
validated against its JWKS; API keys keep working beside them."""

from __future__ import annotations

import httpx

from tests.identity.conftest import World
from tests.identity.test_oidc import sign_in, user


def bearer(world: World, token: str) -> httpx.Response:
    return httpx.get(world.url + "/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_an_access_token_of_a_signed_in_user_authenticates_the_api(world: World):
    _, r = sign_in(world, user("sub-svc-1", "sven", ["idp-hr"]))
    assert r.status_code == 303
    got = bearer(world, world.provider.access_token("sub-svc-1"))
    assert got.status_code == 200, got.text
    assert got.json()["name"] == "sven" and got.json()["groups"] == ["hr"]  # groups from the database
    # API keys still work next to tokens
    assert bearer(world, world.keys["ana"]).json()["name"] == "ana"


def test_bad_access_tokens_are_401(world: World):
    _, r = sign_in(world, user("sub-svc-2", "tove"))
    assert r.status_code == 303
    p = world.provider
    cases = {
        "wrong audience": p.access_token("sub-svc-2", aud="another-api"),
        "expired": p.access_token("sub-svc-2", exp_offset=-3600),
        "bad signature": p.access_token("sub-svc-2", rogue=True),
        "no active Tether user": p.access_token("sub-nobody"),
    }
    for message, token in cases.items():
        got = bearer(world, token)
        assert got.status_code == 401, (message, got.text)
        assert got.json()["error"]["code"] == "unauthenticated" and message in got.json()["error"]["message"]
    # an ID token's audience (the client id) is not the API's: an ID token is no access token
    got = bearer(world, p.id_token(None, {"sub": "sub-svc-2", "preferred_username": "tove"}))
    assert got.status_code == 401 and "wrong audience" in got.json()["error"]["message"]
    # a token of another issuer signed by its own key: refused
    forged = p.access_token("sub-svc-2", iss="http://127.0.0.1:1/evil")
    assert bearer(world, forged).status_code == 401
