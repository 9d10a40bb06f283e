"""Per-API-key upload quotas (issue 17), through the real API with two keys of one user.

A key's uploads are counted apart from the user's other keys (documents and bytes it last
wrote, jobs it queued), on top of the user's own quotas; a key may carry its own limits, set by
an administrator when it is created, and those bind an administrator's key too. The chunk limit
of a key refuses a document before anything is embedded. The worker is off in this server, so
jobs stay in flight until the test runs them.
"""

from __future__ import annotations

import httpx
import pytest

from tether.engine import Tether
from tether.store import api_keys, principals

from .server import LiveServer, module_database

BODY = "Employees accrue 27 days of annual leave per year. Requests go to the line manager. "


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def server(pg_server, template_db, tmp_path, request):
    """(url, keys, engine) with the ``[ingest]`` limits the test passes (indirect parameter)."""
    limits = getattr(request, "param", {})
    with module_database(pg_server, template_db, tmp_path / "data") as settings:
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=limits)})
        engine = Tether(settings)
        try:
            with engine.db.transaction() as conn:
                principals.ensure_user(conn, "root", role="admin")
                principals.ensure_user(conn, "ana")
                keys = {"root": api_keys.create_key(conn, "root", name="admin")["key"],
                        "ana_a": api_keys.create_key(conn, "ana", name="laptop")["key"],
                        "ana_b": api_keys.create_key(conn, "ana", name="ci")["key"]}
            api = settings.api.model_copy(update={"run_worker": False, "auth_failures_per_minute": 0})
            with LiveServer(engine, api) as live:
                yield live.url, keys, engine
        finally:
            engine.close()


def upload(url: str, key: str, name: str, text: str | None = None) -> httpx.Response:
    body = (text or f"# {name}\n\n{BODY}").encode()
    return httpx.post(url + "/v1/documents", headers=h(key), files={"file": (f"{name}.md", body, "text/markdown")},
                      data={"acl": "public"})


def refused(r: httpx.Response, quota: str, scope: str) -> dict:
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    assert err["code"] == "quota_exceeded" and err["details"]["quota"] == quota and err["details"]["scope"] == scope
    return err


@pytest.mark.parametrize("server", [dict(key_max_documents=2, user_max_documents=3)], indirect=True)
def test_documents_are_counted_per_key_and_per_user(server):
    url, keys, engine = server
    assert upload(url, keys["ana_a"], "a1").status_code == 202
    assert upload(url, keys["ana_a"], "a2").status_code == 202  # in flight: counted already
    err = refused(upload(url, keys["ana_a"], "a3"), "documents", "api_key")
    assert "this API key holds 2 documents" in err["message"] and err["details"]["limit"] == 2
    engine.work()
    refused(upload(url, keys["ana_a"], "a3"), "documents", "api_key")  # ingested: still held by the key
    assert upload(url, keys["ana_b"], "b1").status_code == 202  # the other key has its own count
    refused(upload(url, keys["ana_b"], "b2"), "documents", "user")  # ... but the user's 3 are used up
    with engine.db.connection() as conn:
        rows = conn.execute("SELECT d.title, k.name FROM documents d JOIN api_keys k ON k.id = d.api_key_id"
                            " ORDER BY d.title").fetchall()
    assert [(r["title"], r["name"]) for r in rows] == [("a1", "laptop"), ("a2", "laptop")]
    # a deleted document frees the key's room
    doc_id = next(d["id"] for d in httpx.get(url + "/v1/documents", headers=h(keys["ana_a"])).json()["documents"]
                  if d["title"] == "a1")
    assert httpx.delete(url + f"/v1/documents/{doc_id}", headers=h(keys["ana_a"])).status_code == 200
    assert upload(url, keys["ana_a"], "a3").status_code == 202


@pytest.mark.parametrize("server", [dict(key_max_active_jobs=1)], indirect=True)
def test_jobs_in_flight_are_limited_per_key(server):
    url, keys, engine = server
    assert upload(url, keys["ana_a"], "a1").status_code == 202
    r = upload(url, keys["ana_a"], "a2")
    err = refused(r, "active_jobs", "api_key")
    assert r.headers["Retry-After"] == "30" and "this API key has 1 uploads still being ingested" in err["message"]
    assert upload(url, keys["ana_b"], "b1").status_code == 202
    assert upload(url, keys["root"], "r1").status_code == 202  # defaults do not bind administrators
    assert upload(url, keys["root"], "r2").status_code == 202
    engine.work()
    assert upload(url, keys["ana_a"], "a2").status_code == 202  # done: room again


def test_a_keys_own_limits_are_set_by_an_administrator_and_bind_any_user(server):
    url, keys, engine = server
    r = httpx.post(url + "/v1/api-keys", headers=h(keys["root"]),
                   json={"user": "ana", "name": "script", "max_bytes": 2 * len(BODY) + 100, "max_documents": 0})
    assert r.status_code == 201, r.text
    script = r.json()
    assert script["max_bytes"] == 2 * len(BODY) + 100 and script["max_documents"] == 0
    listed = {k["name"]: k for k in httpx.get(url + "/v1/api-keys", headers=h(keys["root"])).json()["api_keys"]}
    assert listed["script"]["max_bytes"] == script["max_bytes"] and listed["laptop"]["max_bytes"] is None
    for bad in ({"max_bytes": -1}, {"max_active_jobs": "many"}, {"max_documents": 2**40}):
        r = httpx.post(url + "/v1/api-keys", headers=h(keys["root"]), json={"user": "ana", **bad})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input", r.text
    r = httpx.post(url + "/v1/api-keys", headers=h(keys["ana_a"]), json={"user": "ana", "max_bytes": 10**12})
    assert r.status_code == 403  # members cannot mint themselves a bigger key

    assert upload(url, script["key"], "s1").status_code == 202
    engine.work()
    err = refused(upload(url, script["key"], "s2", f"# s2\n\n{BODY * 3}"), "bytes", "api_key")
    assert "the documents of this API key" in err["message"]
    assert upload(url, keys["ana_a"], "a1", f"# a1\n\n{BODY * 3}").status_code == 202  # not ana's other keys

    r = httpx.post(url + "/v1/api-keys", headers=h(keys["root"]), json={"user": "root", "max_documents": 1})
    tight_admin = r.json()["key"]
    assert upload(url, tight_admin, "t1").status_code == 202
    refused(upload(url, tight_admin, "t2"), "documents", "api_key")  # a key's own limit binds an admin too
    assert upload(url, keys["root"], "t2").status_code == 202


@pytest.mark.parametrize("server", [dict(key_max_chunks_per_document=2)], indirect=True)
def test_a_keys_chunk_limit_refuses_the_document_before_embedding(server, monkeypatch):
    url, keys, engine = server
    long_text = "# Long\n\n" + "\n\n".join(f"Paragraph {i}. " + BODY * 6 for i in range(6))
    calls: list[int] = []
    real = engine.embedder.embed
    monkeypatch.setattr(engine.embedder, "embed", lambda texts: calls.append(len(texts)) or real(texts))
    r = upload(url, keys["ana_a"], "long", long_text)
    assert r.status_code == 202
    engine.work()
    job = httpx.get(url + r.json()["status_url"], headers=h(keys["ana_a"])).json()["jobs"][0]
    assert job["status"] == "failed" and job["attempts"] == 1 and calls == []
    assert job["error"]["code"] == "document_too_complex"
    assert "chunks; the limit for your uploads is 2" in job["error"]["message"]
    r = upload(url, keys["root"], "long", long_text)  # an administrator's key: only the server's limit
    engine.work()
    job = httpx.get(url + r.json()["status_url"], headers=h(keys["root"])).json()["jobs"][0]
    assert job["status"] == "done" and job["chunks"] > 2 and calls
