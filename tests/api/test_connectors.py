"""``/v1/connectors`` (administrators only) and the push API, over a real server."""

from __future__ import annotations

import base64
import time

import httpx

from tests.api.test_ask import h


def test_connectors_are_for_administrators(live):
    server, keys = live
    for who in ("ana", "eve"):
        r = httpx.get(f"{server.url}/v1/connectors", headers=h(keys[who]), timeout=30)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def _ingested(admin: httpx.Client, cid: int, run_id: int) -> dict:
    """The push's run once the server's own worker has finished it (and nothing waits)."""
    deadline = time.monotonic() + 120
    while True:
        shown = admin.get(f"/v1/connectors/{cid}").json()
        run = next((r for r in shown["runs"] if r["id"] == run_id), None)
        if run is not None and run["status"] in ("done", "failed") and shown["pending_items"] == 0:
            return run
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)


def test_push_is_idempotent_by_external_id_and_delete_reaches_readers(live):
    server, keys = live
    admin = httpx.Client(base_url=server.url, headers=h(keys["root"]), timeout=120)
    ana = httpx.Client(base_url=server.url, headers=h(keys["ana"]), timeout=120)
    r = admin.post("/v1/connectors", json={"name": "wiki", "kind": "push", "collection": "wiki",
                                           "config": {"acl": ["group:hr"]}})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    page = {"external_id": "pages/42", "title": "Onboarding", "filename": "onboarding.md",
            "content": "# Onboarding\n\nNew starters collect their badge from the Zephyr desk.\n"}
    r = admin.post(f"/v1/connectors/{cid}/items", json={"items": [page]})
    assert r.status_code == 202, r.text  # stored; the server's worker ingests it
    assert r.json()["items"] == [{"external_id": "pages/42", "status": "queued"}]
    assert _ingested(admin, cid, r.json()["run_id"])["added"] == 1
    again = admin.post("/v1/connectors/wiki/items", json={"items": [page]}).json()
    assert again["items"][0]["status"] == "unchanged" and again["run_id"] is None
    changed = {**page, "content_base64": base64.b64encode(b"# Onboarding\n\nBadges now come from reception.\n")
               .decode(), "content": None}
    r = admin.post(f"/v1/connectors/{cid}/items", json={"items": [changed]})
    assert r.status_code == 202 and r.json()["items"][0]["status"] == "queued"
    assert _ingested(admin, cid, r.json()["run_id"])["updated"] == 1
    listed = {d["source_uri"]: d for d in ana.get("/v1/documents", params={"collection": "wiki"}).json()["documents"]}
    assert list(listed) == ["connector://wiki/pages/42"] and listed["connector://wiki/pages/42"]["version"] == 2

    r = admin.delete(f"/v1/connectors/{cid}/items", params={"external_id": "pages/42"})
    assert r.json()["items"] == [{"external_id": "pages/42", "status": "deleted"}]
    assert ana.get("/v1/documents", params={"collection": "wiki"}).json()["documents"] == []
    r = admin.delete(f"/v1/connectors/{cid}/items", params={"external_id": "pages/42"})
    assert r.json()["items"][0]["status"] == "unchanged"  # deleting twice is fine

    bad = admin.post(f"/v1/connectors/{cid}/items", json={"items": [{"external_id": "x"}]})
    assert bad.status_code == 422 and "content" in bad.json()["error"]["message"]
    limits = server.engine.connectors.settings.ingest
    saved, limits.max_file_bytes = limits.max_file_bytes, 1000
    try:
        big = admin.post(f"/v1/connectors/{cid}/items", json={"items": [page, {"external_id": "huge",
                                                                                 "content": "x" * 1001}]})
    finally:
        limits.max_file_bytes = saved
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    assert admin.get(f"/v1/connectors/{cid}").json()["pending_items"] == 0  # nothing stored

    many = [{"external_id": f"bulk/{i}", "content": f"# Bulk {i}\n\nBulk page {i} of the wiki.\n"} for i in range(200)]
    r = admin.post(f"/v1/connectors/{cid}/items", json={"items": many})
    assert r.status_code == 202 and {i["status"] for i in r.json()["items"]} == {"queued"}
    run = _ingested(admin, cid, r.json()["run_id"])
    assert (run["status"], run["added"], run["failed"]) == ("done", 200, 0)
    listed = ana.get("/v1/documents", params={"collection": "wiki"}).json()["documents"]
    assert len(listed) == 200
    again = admin.post(f"/v1/connectors/{cid}/items", json={"items": many}).json()
    assert {i["status"] for i in again["items"]} == {"unchanged"}
    secret = admin.post("/v1/connectors", json={"name": "s3x", "kind": "s3",
                                                "config": {"bucket": "b", "secret_access_key": "AKIA..."}})
    assert secret.status_code == 422 and "secret_access_key_env" in secret.json()["error"]["message"]
    shown = admin.get(f"/v1/connectors/{cid}").json()
    assert shown["kind"] == "push" and shown["config"]["acl"] == ["group:hr"]
    assert admin.delete(f"/v1/connectors/{cid}").json()["removed"] == "wiki"
    assert admin.get(f"/v1/connectors/{cid}").status_code == 404


def test_the_connectors_page_is_for_administrators(live):
    server, keys = live
    admin = httpx.Client(base_url=server.url, headers=h(keys["root"]), timeout=60)
    assert admin.post("/v1/connectors", json={"name": "pagewiki", "kind": "push", "collection": "wiki",
                                              "config": {"acl": ["public"]}}).status_code == 201
    r = admin.get("/ui/connectors")
    assert r.status_code == 200 and 'data-testid="connector-pagewiki"' in r.text and "on demand" in r.text
    r = httpx.get(f"{server.url}/ui/connectors", headers=h(keys["eve"]), timeout=60)
    assert r.status_code == 404 and "pagewiki" not in r.text
    admin.delete("/v1/connectors/pagewiki")
