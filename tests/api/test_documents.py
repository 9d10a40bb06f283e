"""Upload -> job -> document listed; permissions on reading, listing, deleting; ACL edits."""

from __future__ import annotations

import time

import httpx

from .server import DOC_SECRET


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_job(url: str, status_url: str, key: str) -> dict:
    deadline = time.time() + 60
    while time.time() < deadline:
        data = httpx.get(url + status_url, headers=h(key)).json()
        if data["finished"]:
            return data
        time.sleep(0.2)
    raise AssertionError("ingest job did not finish")


def _ids(url: str, key: str) -> dict[str, int]:
    docs = httpx.get(url + "/v1/documents", headers=h(key)).json()["documents"]
    return {d["title"]: d["id"] for d in docs}


def test_listing_and_fetch_respect_permissions(live):
    server, keys = live
    ana, eve = _ids(server.url, keys["ana"]), _ids(server.url, keys["eve"])
    assert "Project Nightingale salary bands" in ana
    assert "Project Nightingale salary bands" not in eve and "Annual leave policy" in eve
    secret_id = ana["Project Nightingale salary bands"]
    for path in (f"/v1/documents/{secret_id}", f"/v1/documents/{secret_id}/download", "/v1/documents/999999"):
        r = httpx.get(server.url + path, headers=h(keys["eve"]))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert "Nightingale" not in r.text and "salary" not in r.text
    doc = httpx.get(server.url + f"/v1/documents/{secret_id}", headers=h(keys["ana"])).json()
    assert doc["body"] == DOC_SECRET and doc["can_manage"] is False and "acl" not in doc
    text = httpx.get(server.url + f"/v1/documents/{secret_id}/download", headers=h(keys["ana"])).text
    assert text == DOC_SECRET
    cols = httpx.get(server.url + "/v1/collections", headers=h(keys["eve"])).json()["collections"]
    assert [c["name"] for c in cols] == ["handbook"]
    r = httpx.get(server.url + "/v1/documents?all=true", headers=h(keys["eve"]))
    assert r.status_code == 403
    assert httpx.delete(server.url + f"/v1/documents/{secret_id}", headers=h(keys["eve"])).status_code == 404
    assert httpx.delete(server.url + f"/v1/documents/{secret_id}", headers=h(keys["ana"])).status_code == 403


def test_upload_job_listing_acl_edit_and_delete(live):
    server, keys = live
    body = "# Parking rules\n\nVisitors park in bay C. Staff bikes go in the cage behind building two.\n"
    r = httpx.post(server.url + "/v1/documents", headers=h(keys["ana"]),
                   files={"file": ("parking.md", body.encode(), "text/markdown")},
                   data={"collection": "facilities", "acl": "group:hr", "classification": "internal"})
    assert r.status_code == 202, r.text
    up = r.json()
    assert up["filename"] == "parking.md" and len(up["sha256"]) == 64
    # eve may not poll ana's batch
    assert httpx.get(server.url + up["status_url"], headers=h(keys["eve"])).status_code == 404
    job = wait_job(server.url, up["status_url"], keys["ana"])
    assert job["jobs"][0]["status"] == "done", job
    doc_id = job["jobs"][0]["document_id"]
    assert _ids(server.url, keys["ana"])["Parking rules"] == doc_id
    assert "Parking rules" not in _ids(server.url, keys["eve"])
    original = httpx.get(server.url + f"/v1/documents/{doc_id}/download?original=true", headers=h(keys["ana"]))
    assert original.content == body.encode()

    # the owner opens it to everyone: a metadata update, no new version
    r = httpx.post(server.url + f"/v1/documents/{doc_id}/reindex", json={"acl": ["public"]}, headers=h(keys["ana"]))
    assert r.status_code == 202, r.text
    job = wait_job(server.url, r.json()["status_url"], keys["ana"])
    assert job["jobs"][0]["result_status"] == "metadata"
    assert _ids(server.url, keys["eve"])["Parking rules"] == doc_id
    assert httpx.delete(server.url + f"/v1/documents/{doc_id}", headers=h(keys["eve"])).status_code == 403
    assert httpx.delete(server.url + f"/v1/documents/{doc_id}", headers=h(keys["ana"])).json() == {"deleted": doc_id}
    assert httpx.get(server.url + f"/v1/documents/{doc_id}", headers=h(keys["ana"])).status_code == 404


def test_upload_rejections(live):
    server, keys = live
    r = httpx.post(server.url + "/v1/documents", headers=h(keys["ana"]),
                   files={"file": ("tool.exe", b"MZ", "application/octet-stream")})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_format"
    r = httpx.post(server.url + "/v1/documents", headers=h(keys["ana"]),
                   files={"file": ("a.md", b"# A\n\ntext", "text/markdown")}, data={"acl": "group:nobody"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_principal"
    r = httpx.post(server.url + "/v1/documents", headers=h(keys["ana"]),
                   files={"file": ("../../etc/passwd.md", b"# A\n\ntext", "text/markdown")},
                   data={"collection": "Bad Name"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
