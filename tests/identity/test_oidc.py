"""OIDC sign-in for the web UI against a real provider on 127.0.0.1: the authorization code flow
with PKCE, just-in-time provisioning, claim mappings, and every way a sign-in must fail."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tether.types import Principal

from tests.identity.conftest import World

H = {"accept": "text/html"}


def start(world: World, browser: httpx.Client) -> str:
    """Start a sign-in in ``browser``; the provider's answer (the callback URL) comes back."""
    r = browser.get("/ui/oidc/login")
    assert r.status_code == 303, r.text
    authorize = r.headers["location"]
    assert authorize.startswith(world.provider.url + "/authorize?")
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(world: World, user: dict | None = None) -> tuple[httpx.Client, httpx.Response]:
    if user is not None:
        world.provider.user = user
    browser = httpx.Client(base_url=world.url, follow_redirects=False, headers=H)
    callback = start(world, browser)
    return browser, browser.get(callback)


def me(browser: httpx.Client) -> httpx.Response:
    return browser.get("/v1/me", headers={"accept": "application/json"})


def user(sub: str, name: str, groups: list[str] | None = None, **extra) -> dict:
    return {"sub": sub, "preferred_username": name, "email": f"{name}@example.com", "name": name.title(),
            "groups": groups or [], **extra}


def audit(world: World, action: str) -> list[dict]:
    return world.engine.audit.recent(Principal.system(), action=action, limit=200)


def test_sign_in_provisions_the_user_just_in_time_with_mapped_groups(world: World):
    browser, r = sign_in(world, user("sub-olga", "olga", ["idp-hr", "idp-unmapped"]))
    assert r.status_code == 303 and r.headers["location"] == "/ui/chat", r.text
    assert "tether_session" in browser.cookies
    body = me(browser).json()
    assert body["name"] == "olga" and body["role"] == "member"
    assert body["groups"] == ["hr"]  # the unmapped directory group is ignored
    # the authorization request used PKCE (S256) and a nonce; the code was redeemed server-side
    q = world.provider.authorize_requests[-1]
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) >= 43 and q["nonce"]
    assert "code_verifier" not in q
    # she can read the hr group's document at once
    hits = browser.post("/v1/search", json={"query": "Project Nightingale salary band"},
                        headers={"accept": "application/json"}).json()
    assert any("Nightingale" in (p.get("title") or "") for p in hits["hits"]), hits
    # the admin API shows where the user and the group come from
    users = httpx.get(world.url + "/v1/users", headers={"Authorization": f"Bearer {world.keys['root']}"}).json()
    olga = next(u for u in users["users"] if u["name"] == "olga")
    assert olga["source"] == "oidc" and olga["active"] is True and olga["email"] == "olga@example.com"
    assert next(u for u in users["users"] if u["name"] == "ana")["source"] == "admin"
    # audited with the source
    assert any(a["target"] == "olga" and a["details"]["source"] == "oidc" for a in audit(world, "identity.sign_in"))
    assert any(a["target"] == "olga" for a in audit(world, "identity.user.provision"))
    assert any(a["target"] == "hr" and a["details"] == {"user": "olga", "source": "oidc"}
               for a in audit(world, "identity.member.add"))


def test_group_change_at_the_provider_is_reflected_at_the_next_sign_in(world: World):
    first, r = sign_in(world, user("sub-pia", "pia", ["idp-hr"]))
    assert r.status_code == 303 and me(first).json()["groups"] == ["hr"]
    second, r = sign_in(world, user("sub-pia", "pia", ["idp-legal"]))
    assert r.status_code == 303
    assert me(second).json()["groups"] == ["legal"]
    # permissions are resolved per request: the earlier session lost hr too, at once
    assert me(first).json()["groups"] == ["legal"]
    hits = first.post("/v1/search", json={"query": "Project Nightingale salary band"},
                      headers={"accept": "application/json"}).json()
    assert not any("Nightingale" in (p.get("title") or "") for p in hits["hits"]), hits
    assert any(a["target"] == "hr" and a["details"]["user"] == "pia" for a in audit(world, "identity.member.remove"))
    # a membership an administrator gave by hand (a group outside the mapping) is kept
    httpx.post(world.url + "/v1/groups", json={"name": "projects", "members": ["pia"]},
               headers={"Authorization": f"Bearer {world.keys['root']}"}).raise_for_status()
    third, _ = sign_in(world, user("sub-pia", "pia", []))
    assert me(third).json()["groups"] == ["projects"]


def test_roles_follow_the_directory(world: World):
    browser, _ = sign_in(world, user("sub-rolf", "rolf", [], roles=["tether-admins", "tether-reviewers"]))
    assert me(browser).json()["role"] == "admin"
    browser, _ = sign_in(world, user("sub-rolf", "rolf", [], roles=["tether-reviewers"]))
    assert me(browser).json()["role"] == "reviewer"
    assert any(a["target"] == "rolf" and a["details"]["to"] == "reviewer" for a in audit(world, "identity.user.role"))


@pytest.mark.parametrize("tamper, message", [
    ({"aud": "some-other-client"}, "wrong audience"),
    ({"exp_offset": -3600}, "expired"),
    ({"rogue": True}, "bad signature"),
    ({"nonce": "not-the-one-we-sent"}, "nonce does not match"),
])
def test_a_bad_id_token_is_refused(world: World, tamper: dict, message: str):
    world.provider.tamper = tamper
    browser, r = sign_in(world, user("sub-mallory", "mallory"))
    assert r.status_code == 401 and message in r.text, r.text
    assert "tether_session" not in browser.cookies
    assert me(browser).status_code == 401
    refused = audit(world, "identity.sign_in.refused")
    assert any(message in a["details"]["reason"] for a in refused)
    # nobody was provisioned from a token that failed
    assert "mallory" not in {u["name"] for u in world.engine.accounts.users(Principal.system())}


def test_a_replayed_state_is_refused(world: World):
    world.provider.user = user("sub-rita", "rita-sso")
    browser = httpx.Client(base_url=world.url, follow_redirects=False, headers=H)
    callback = start(world, browser)
    assert browser.get(callback).status_code == 303
    state = parse_qs(urlsplit(callback).query)["state"][0]
    # the same answer again, from the browser that started it (its state cookie is gone) ...
    again = browser.get(callback)
    assert again.status_code == 401
    # ... and from a client that also replays the state cookie: the server redeemed it once
    attacker = httpx.Client(base_url=world.url, follow_redirects=False, headers=H,
                            cookies={"tether_oidc_state": state})
    replay = attacker.get(callback)
    assert replay.status_code == 401 and "already used" in replay.text, replay.text
    assert "tether_session" not in attacker.cookies


def test_a_callback_started_in_another_browser_is_refused(world: World):
    """Login CSRF: an answer to someone else's sign-in does not sign this browser in."""
    world.provider.user = user("sub-eve-attacker", "attacker")
    attacker = httpx.Client(base_url=world.url, follow_redirects=False, headers=H)
    callback = start(world, attacker)
    victim = httpx.Client(base_url=world.url, follow_redirects=False, headers=H)
    r = victim.get(callback)
    assert r.status_code == 401 and "not started in this browser" in r.text
    assert "tether_session" not in victim.cookies


def test_a_local_account_is_not_taken_over_by_a_directory_identity(world: World):
    """'eve' was typed in by an administrator; a directory user called eve is refused."""
    browser, r = sign_in(world, user("sub-other-eve", "eve", ["idp-hr"]))
    assert r.status_code == 401 and "not linked" in r.text
    assert world.engine.principal("eve").group_names == ()


def test_the_provider_refusing_is_shown(world: World):
    browser = httpx.Client(base_url=world.url, follow_redirects=False, headers=H)
    r = browser.get("/ui/oidc/callback?error=access_denied&error_description=user+cancelled")
    assert r.status_code == 401 and "user cancelled" in r.text


def test_the_sign_in_page_offers_single_sign_on(world: World):
    page = httpx.get(world.url + "/ui/sign-in")
    assert page.status_code == 200 and 'href="/ui/oidc/login"' in page.text


def test_the_people_page_shows_where_each_account_comes_from(world: World):
    import re

    sign_in(world, user("sub-pam", "pam", ["idp-hr"]))
    page = httpx.get(world.url + "/ui/people", headers={"Authorization": f"Bearer {world.keys['root']}"})
    assert page.status_code == 200
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"<tr><td>([^<]+)</td>.*?data-testid=\"source\">(\w+)</td>", page.text, re.S)}
    assert rows["pam"] == "oidc" and rows["ana"] == "admin" and rows["hr"] == "admin"
    member = httpx.get(world.url + "/ui/people", headers={"Authorization": f"Bearer {world.keys['ana']}"})
    assert member.status_code == 404
