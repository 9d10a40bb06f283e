"""The hardened edge (issue 17), against a live server: invalid text and dates are typed 422s,
wrong JSON types in review/feedback bodies are 422s, security headers on every response, CSRF
tokens on every cookie-authenticated form, failed-authentication throttling, operator endpoints
behind a credential and ACL errors that do not enumerate accounts."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tether.settings import ApiSettings

from .server import LiveServer, ui_sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "tether" / "ui" / "templates"


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def invalid(r: httpx.Response, loc: list | None = None) -> list[dict]:
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and err["message"]
    errors = err["details"]["errors"]
    if loc is not None:
        assert any(e["loc"] == loc for e in errors), errors
    return errors


def test_nul_and_surrogates_are_422_in_every_kind_of_input(live):
    server, keys = live
    ana = h(keys["ana"])
    with httpx.Client(base_url=server.url, headers=ana, timeout=60) as c:
        invalid(c.post("/v1/ask", json={"question": "How many days?\x00"}), ["body", "question"])
        invalid(c.post("/v1/ask", json={"question": "x", "stream": True, "collections": ["a\x00"]}),
                ["body", "collections", 0])
        invalid(c.post("/v1/search", content=b'{"query": "leave \\ud800"}',
                       headers={"Content-Type": "application/json"}), ["body", "query"])
        invalid(c.post("/v1/reviews", json={"question": "q", "reason": "\x00"}), ["body", "reason"])
        invalid(c.post("/v1/feedback", json={"trace_id": "t", "rating": "up", "comment": "a\x00b"}),
                ["body", "comment"])
        invalid(c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi\x00"}]}))
        invalid(c.post("/v1/ask", json={"question": "q", "k\x00": 1}), ["body", "(key)"])
        invalid(c.get("/v1/traces", params={"status": "answered\x00"}), ["query", "status"])
        invalid(c.get("/v1/jobs/abc%00def"), ["path"])
        invalid(c.get("/static/app.css%00"), ["path"])  # a mount, not a route: still 422
        invalid(c.post("/v1/documents", files={"file": ("a.md", b"# A\n\ntext", "text/markdown")},
                       data={"collection": "hr\x00"}), ["body", "collection"])
        # the same requests without the bad character are fine
        assert c.get("/v1/traces", params={"status": "answered"}).status_code == 200
        assert c.post("/v1/search", json={"query": "leave"}).status_code == 200


def test_dates_naive_aware_and_out_of_range(live):
    server, keys = live
    with httpx.Client(base_url=server.url, headers=h(keys["ana"]), timeout=60) as c:
        mixed = c.post("/v1/search", json={"query": "leave", "date_from": "2020-01-01T00:00:00",
                                          "date_to": "2030-01-01T00:00:00+02:00"})
        assert mixed.status_code == 200, mixed.text
        backwards = c.post("/v1/search", json={"query": "leave", "date_from": "2030-01-01T00:00:00Z",
                                              "date_to": "2020-01-01T00:00:00"})
        assert backwards.status_code == 422 and "date_from" in backwards.json()["error"]["message"]
        invalid(c.post("/v1/search", json={"query": "x", "date_to": "9999-12-31T23:59:59"}), ["body", "date_to"])
        invalid(c.get("/v1/usage", params={"until": "9999-12-31"}), ["query", "until"])
        invalid(c.get("/v1/usage", params={"since": "0001-01-01"}), ["query", "since"])
        assert c.get("/v1/usage", params={"since": "2024-01-01", "until": "2024-01-31"}).status_code == 200
        page = c.get("/ui/usage", params={"until": "9999-12-31"})  # the page falls back to its default range
        assert page.status_code == 200 and "9999" not in page.text


@pytest.mark.parametrize("body", [
    {"question": "q", "answer": "not an object"},
    {"question": "q", "answer": {"citations": 5}},
    {"question": "q", "answer": {"citations": [{"document_id": "one"}]}},
    {"question": "q", "answer": {"citations": [{"document_id": 10 ** 30}]}},
    {"question": "q", "answer": {"sentences": [{"citations": {"a": 1}}]}},
    {"question": ["q"]},
    {"question": "q", "trace_id": 7},
])
def test_wrong_json_types_in_review_bodies_are_422(live, body):
    server, keys = live
    r = httpx.post(server.url + "/v1/reviews", json=body, headers=h(keys["ana"]))
    invalid(r)


@pytest.mark.parametrize("body", [
    {"trace_id": "t", "rating": "up", "answer": [1, 2]},
    {"trace_id": "t", "rating": "meh"},
    {"trace_id": 12, "rating": "up"},
    {"trace_id": "t", "rating": "down", "answer": {"text": 5}},
])
def test_wrong_json_types_in_feedback_bodies_are_422(live, body):
    server, keys = live
    invalid(httpx.post(server.url + "/v1/feedback", json=body, headers=h(keys["ana"])))


def test_unbounded_numbers_are_422(live):
    server, keys = live
    root = h(keys["root"])
    invalid(httpx.get(server.url + "/v1/reviews", params={"limit": -1}, headers=root))
    invalid(httpx.get(server.url + "/v1/feedback", params={"limit": 10 ** 12}, headers=root))
    invalid(httpx.get(server.url + "/v1/eval/runs", params={"limit": 0}, headers=root))
    invalid(httpx.post(server.url + "/v1/api-keys", json={"user": "eve", "expires_in_days": 1e300}, headers=root))


def test_security_headers_on_every_kind_of_response(live):
    server, keys = live
    responses = [
        httpx.get(server.url + "/v1/me", headers=h(keys["ana"])),  # JSON
        httpx.get(server.url + "/v1/nope"),  # 404
        httpx.get(server.url + "/v1/jobs/%00"),  # rejected before routing
        httpx.get(server.url + "/static/app.css"),  # static file
        httpx.get(server.url + "/ui/sign-in"),  # page
        httpx.post(server.url + "/v1/ask", content=b"x" * 2_000_000, headers=h(keys["ana"])),  # 413
    ]
    for r in responses:
        csp = r.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, (r.url, csp)
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"


def test_templates_have_no_inline_script_or_handlers():
    for tpl in TEMPLATES.glob("*.html"):
        text = tpl.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline <script> in {tpl.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {tpl.name}"
        assert "javascript:" not in text and "hx-on" not in text, tpl.name


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def test_csrf_tokens_on_sign_in_sign_out_and_htmx_forms(live):
    server, keys = live
    with httpx.Client(base_url=server.url) as browser:
        # login CSRF: a sign-in form posted without (or with a wrong) token is refused
        r = browser.post("/ui/sign-in", data={"api_key": keys["ana"]})
        assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
        form = browser.get("/ui/sign-in")
        assert "tether_csrf" in form.headers["set-cookie"] and "samesite=strict" in form.headers["set-cookie"].lower()
        bad = browser.post("/ui/sign-in", data={"api_key": keys["ana"], "csrf_token": "0" * 64})
        assert bad.status_code == 403
        assert ui_sign_in(browser, keys["ana"]).status_code == 303
        chat = browser.get("/ui/chat").text
        token = _token(chat)
        assert f'name="csrf-token" content="{token}"' in chat and "X-CSRF-Token" in chat
        # the pre-sign-in token no longer works once signed in (it is bound to the session)
        assert token != _token(form.text)
        # sign-out CSRF: without the token nothing happens
        assert browser.post("/ui/sign-out", data={}).status_code == 403
        assert browser.get("/v1/me").status_code == 200
        # htmx posts carry it as a header; without it, refused
        assert browser.post("/ui/reviews/1/claim").status_code == 403
        assert browser.post("/ui/reviews/1/claim", headers={"X-CSRF-Token": token}).status_code != 403
        # a cookie-authenticated upload (multipart: a cross-site form could send it) needs it too
        files = {"file": ("csrf.md", b"# CSRF\n\nA note.", "text/markdown")}
        assert browser.post("/v1/documents", files=files).status_code == 403
        up = browser.post("/v1/documents", files=files, headers={"X-CSRF-Token": token})
        assert up.status_code == 202, up.text
        # API keys are exempt: a browser never adds one by itself
        assert httpx.post(server.url + "/ui/reviews/1/claim", headers=h(keys["ana"])).status_code != 403
        out = browser.post("/ui/sign-out", data={"csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303
        assert browser.get("/v1/me").status_code == 401


def test_operator_endpoints_need_an_admin_or_the_metrics_token(live):
    server, keys = live
    for path in ("/metrics", "/openapi.json", "/docs"):
        assert httpx.get(server.url + path).status_code == 401, path
        assert httpx.get(server.url + path, headers=h(keys["ana"])).status_code == 403, path
        assert httpx.get(server.url + path, headers=h(keys["root"])).status_code == 200, path
    docs = httpx.get(server.url + "/docs", headers=h(keys["root"]))
    assert "'sha256-" in docs.headers["content-security-policy"]
    assert "'unsafe-inline'" not in re.search(r"script-src ([^;]+)", docs.headers["content-security-policy"]).group(1)
    api = server.engine.settings.api.model_copy(update={"metrics_token": "scrape-me-" + "x" * 20})
    with LiveServer(server.engine, api) as scraper:
        assert httpx.get(scraper.url + "/metrics", headers=h("scrape-me-" + "x" * 20)).status_code == 200
        assert httpx.get(scraper.url + "/metrics", headers=h("scrape-me-wrong")).status_code == 401
        assert httpx.get(scraper.url + "/openapi.json", headers=h("scrape-me-" + "x" * 20)).status_code == 401
    with LiveServer(server.engine, server.engine.settings.api.model_copy(update={"ops_public": True})) as open_:
        assert httpx.get(open_.url + "/metrics").status_code == 200


def test_failed_authentication_is_throttled_per_source_and_key_prefix(live):
    server, keys = live
    api: ApiSettings = server.engine.settings.api.model_copy(update={"auth_failures_per_minute": 3})
    with server.engine.db.connection() as conn:
        conn.execute("DELETE FROM rate_windows WHERE key LIKE 'authfail:%%'")
    prefix = keys["eve"].split("_")[1]
    with LiveServer(server.engine, api) as s:
        for _ in range(3):
            r = httpx.get(s.url + "/v1/me", headers=h(f"tth_{prefix}_wrong-secret"))
            assert r.status_code == 401
        # over the limit: refused before the key is checked, so even the right key is refused
        r = httpx.get(s.url + "/v1/me", headers=h(keys["eve"]))
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        signin = httpx.post(s.url + "/v1/session", json={"api_key": keys["eve"]})
        assert signin.status_code == 429
        with server.engine.db.connection() as conn:
            rows = {r["key"]: r["hits"] for r in conn.execute(
                "SELECT key, hits FROM rate_windows WHERE key LIKE 'authfail:%%'").fetchall()}
        assert rows == {"authfail:ip:127.0.0.1": 3, f"authfail:key:{prefix}": 3}
        with server.engine.db.connection() as conn:  # a new minute (or another address) starts over
            conn.execute("DELETE FROM rate_windows WHERE key = 'authfail:ip:127.0.0.1'")
        assert httpx.get(s.url + "/v1/me", headers=h(keys["ana"])).status_code == 200  # another prefix
        assert httpx.get(s.url + "/v1/me", headers=h(keys["eve"])).status_code == 429  # eve's prefix still out
    with server.engine.db.connection() as conn:
        conn.execute("DELETE FROM rate_windows WHERE key LIKE 'authfail:%%'")


def test_acl_errors_do_not_enumerate_accounts(live):
    server, keys = live
    messages = set()
    for acl in ("group:nobody", "user:nobody", "group:hr, user:nobody", "user:eve, group:nope"):
        r = httpx.post(server.url + "/v1/documents", headers=h(keys["eve"]),
                       files={"file": ("a.md", b"# A\n\ntext", "text/markdown")}, data={"acl": acl})
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_principal"
        messages.add(r.json()["error"]["message"])
    assert len(messages) == 1, messages
    (message,) = messages
    assert "hr" not in message and "nobody" not in message and "nope" not in message and "eve" not in message
