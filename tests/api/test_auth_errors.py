"""Authentication, admin-only routes and the single JSON error shape, against a live server."""

from __future__ import annotations

import httpx
import pytest


def _is_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_health_ready_and_openapi(live):
    server, server_keys = live
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").json() == {"status": "ready"}
    # the schema is for administrators (ops endpoints are not public)
    _is_error(httpx.get(server.url + "/openapi.json"), 401, "unauthenticated")
    _is_error(httpx.get(server.url + "/openapi.json", headers=h(server_keys["ana"])), 403, "forbidden")
    spec = httpx.get(server.url + "/openapi.json", headers=h(server_keys["root"])).json()
    assert "/v1/ask" in spec["paths"] and "/v1/chat/completions" in spec["paths"]


def test_no_key_bad_key_and_revoked_key_are_401(live):
    server, keys = live
    _is_error(httpx.get(server.url + "/v1/documents"), 401, "unauthenticated")
    _is_error(httpx.get(server.url + "/v1/documents", headers=h("tth_nope_nope")), 401, "unauthenticated")
    _is_error(httpx.get(server.url + "/v1/documents", headers={"X-API-Key": "garbage"}), 401, "unauthenticated")
    created = httpx.post(server.url + "/v1/api-keys", json={"user": "eve", "name": "tmp"}, headers=h(keys["root"]))
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["key"].startswith("tth_")
    assert httpx.get(server.url + "/v1/me", headers={"X-API-Key": new["key"]}).json()["name"] == "eve"
    listed = httpx.get(server.url + "/v1/api-keys", headers=h(keys["root"])).json()["api_keys"]
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert httpx.delete(server.url + f"/v1/api-keys/{new['id']}", headers=h(keys["root"])).status_code == 200
    _is_error(httpx.get(server.url + "/v1/me", headers=h(new["key"])), 401, "unauthenticated")


@pytest.mark.parametrize("method,path", [("GET", "/v1/users"), ("GET", "/v1/groups"), ("GET", "/v1/api-keys"),
                                         ("POST", "/v1/api-keys"), ("DELETE", "/v1/api-keys/1")])
def test_admin_routes_forbid_members(live, method, path):
    server, keys = live
    r = httpx.request(method, server.url + path, headers=h(keys["ana"]), json={"user": "ana"})
    _is_error(r, 403, "forbidden")


def test_admin_can_manage_users_and_groups(live):
    server, keys = live
    with server.engine.db.connection() as conn:
        before = conn.execute("SELECT coalesce(max(id), 0) AS n FROM audit_log").fetchone()["n"]
    r = httpx.post(server.url + "/v1/users", json={"name": "zoe", "groups": ["ops"]}, headers=h(keys["root"]))
    assert r.status_code == 201, r.text
    users = httpx.get(server.url + "/v1/users", headers=h(keys["root"])).json()["users"]
    assert {"name": "zoe", "groups": ["ops"]}.items() <= next(u for u in users if u["name"] == "zoe").items()
    _is_error(httpx.post(server.url + "/v1/users", json={"name": "zoe"}, headers=h(keys["root"])), 409, "conflict")
    created = httpx.post(server.url + "/v1/api-keys", json={"user": "zoe"}, headers=h(keys["root"])).json()
    httpx.delete(server.url + f"/v1/api-keys/{created['id']}", headers=h(keys["root"]))
    # every change is in the append-only audit log with the admin as actor (and never the key)
    with server.engine.db.connection() as conn:
        rows = conn.execute("SELECT a.action, a.target, a.details, p.name AS actor FROM audit_log a"
                            " JOIN principals p ON p.id = a.actor_id"
                            " WHERE a.action LIKE 'admin.%%' AND a.id > %s ORDER BY a.id",
                            (before,)).fetchall()
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("admin.user.add", "root"), ("admin.key.create", "root"), ("admin.key.revoke", "root")]
    assert rows[0]["details"]["groups"] == ["ops"] and created["key"] not in str(rows)


def test_error_shape_404_405_422_413(live):
    server, keys = live
    _is_error(httpx.get(server.url + "/v1/nothing-here", headers=h(keys["ana"])), 404, "not_found")
    _is_error(httpx.put(server.url + "/v1/ask", headers=h(keys["ana"])), 405, "method_not_allowed")
    err = _is_error(httpx.post(server.url + "/v1/ask", json={"nope": 1}, headers=h(keys["ana"])), 422, "invalid_input")
    assert err["details"]["errors"][0]["loc"] == ["body", "question"]
    _is_error(httpx.post(server.url + "/v1/ask", content=b"{not json", headers={**h(keys["ana"]),
              "Content-Type": "application/json"}), 422, "invalid_input")
    _is_error(httpx.post(server.url + "/v1/ask", json={"question": "x" * 5000}, headers=h(keys["ana"])),
              422, "question_too_long")
    _is_error(httpx.post(server.url + "/v1/ask", json={"question": "x" * 2_000_000}, headers=h(keys["ana"])),
              413, "payload_too_large")

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(40):
            yield b"x" * 65536

    _is_error(httpx.post(server.url + "/v1/search", content=chunks(), headers={**h(keys["ana"]),
              "Content-Type": "application/json"}), 413, "payload_too_large")
    _is_error(httpx.post(server.url + "/v1/ask", json={"question": "hi", "model": "gpt-17"}, headers=h(keys["ana"])),
              422, "invalid_input")


def test_metrics_count_requests_and_asks(live):
    server, keys = live
    httpx.post(server.url + "/v1/ask", json={"question": "How many days of annual leave?"}, headers=h(keys["eve"]),
               timeout=60)
    text = httpx.get(server.url + "/metrics", headers=h(keys["root"])).text
    assert 'tether_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert "tether_http_request_duration_seconds_bucket" in text
    assert 'tether_asks_total{endpoint="ask"}' in text
    assert "tether_abstentions_total" in text and "tether_ingest_jobs_enqueued_total" in text


def test_session_cookie_sign_in_csrf_and_revocation(live):
    server, keys = live
    created = httpx.post(server.url + "/v1/api-keys", json={"user": "ana"}, headers=h(keys["root"])).json()
    with httpx.Client(base_url=server.url) as browser:
        r = browser.post("/v1/session", json={"api_key": created["key"]})
        assert r.status_code == 200 and r.json()["name"] == "ana"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert browser.get("/v1/me").json()["groups"] == ["hr"]
        evil = browser.post("/v1/search", json={"query": "salary"}, headers={"Origin": "https://evil.example"})
        _is_error(evil, 403, "forbidden")
        same = browser.post("/v1/search", json={"query": "salary"}, headers={"Origin": server.url})
        assert same.status_code == 200
        httpx.delete(server.url + f"/v1/api-keys/{created['id']}", headers=h(keys["root"]))
        _is_error(browser.get("/v1/me"), 401, "unauthenticated")
    with httpx.Client(base_url=server.url) as browser:
        browser.post("/v1/session", json={"api_key": keys["eve"]})
        assert browser.delete("/v1/session").json() == {"signed_out": True}
        _is_error(browser.get("/v1/me"), 401)
        _is_error(browser.post("/v1/session", json={"api_key": "tth_x_y"}), 401, "unauthenticated")


def test_unhandled_errors_are_internal_without_details(live, monkeypatch):
    server, keys = live
    import tether.engine

    def boom(*a, **k):
        raise RuntimeError("secret stack detail")

    monkeypatch.setattr(tether.engine.Tether, "search", boom)
    r = httpx.post(server.url + "/v1/search", json={"query": "x"}, headers=h(keys["eve"]))
    err = _is_error(r, 500, "internal")
    assert "secret" not in r.text and err["message"]


def test_rate_limit_per_api_key(pg_server, template_db, tmp_path):
    """Over the per-minute limit a key gets 429 with Retry-After and the JSON error; another key
    is unaffected; refusals are counted in PostgreSQL (shared by every API process)."""
    from tether.engine import Tether
    from tether.settings import ApiSettings

    from .server import LiveServer, module_database, seed

    with module_database(pg_server, template_db, tmp_path / "data") as settings:
        engine = Tether(settings)
        try:
            keys = seed(engine, tmp_path / "docs")
            with LiveServer(engine, ApiSettings(rate_limit_per_minute=5)) as server:
                import time

                if time.time() % 60 > 45:  # keep the burst inside one one-minute window
                    time.sleep(61 - time.time() % 60)
                eve = {"Authorization": f"Bearer {keys['eve']}"}
                codes = [httpx.get(server.url + "/v1/me", headers=eve).status_code for _ in range(7)]
                r = httpx.get(server.url + "/v1/me", headers={"Authorization": f"Bearer {keys['eve']}"})
                other = httpx.get(server.url + "/v1/me", headers={"Authorization": f"Bearer {keys['ana']}"})
        finally:
            engine.close()
    assert codes == [200] * 5 + [429, 429]
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited"
    assert other.status_code == 200
