"""A small but real OpenID provider on 127.0.0.1 for the identity tests.

It speaks the protocol a relying party needs: a discovery document, a JWKS, an authorization
endpoint (code flow; PKCE S256 and a nonce are required) that signs in ``provider.user`` without
a login form, and a token endpoint that authenticates the client (``client_secret_post`` or
basic), redeems each code once, checks the PKCE verifier and returns an RS256 ID token and a JWT
access token. ``provider.tamper`` makes the next ID tokens wrong in one way (audience, expiry,
signature by a key it does not publish) so the tests see what a broken or hostile provider does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey


class Provider:
    def __init__(self, client_id: str = "tether", client_secret: str = "s3cret-client",
                 api_audience: str = "tether-api") -> None:
        self.client_id, self.client_secret, self.api_audience = client_id, client_secret, api_audience
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"}, private=True)
        #: same key id, never published: a token it signs has a bad signature
        self.rogue = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}, private=True)
        self.user: dict[str, Any] = {"sub": "u-1", "preferred_username": "olga", "email": "olga@example.com",
                                     "name": "Olga Example", "groups": []}
        self.tamper: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # tokens ----------------------------------------------------------------------------------
    def sign(self, claims: dict[str, Any], *, rogue: bool = False) -> str:
        key = self.rogue if rogue else self.key
        return jwt.encode({"alg": "RS256", "kid": "k1", "typ": "JWT"}, claims, KeySet([key]))

    def id_token(self, nonce: str | None, user: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": self.client_id, "iat": now, "exp": now + 300, "auth_time": now,
                  **({"nonce": nonce} if nonce else {}), **user}
        t = self.tamper
        if "aud" in t:
            claims["aud"] = t["aud"]
        if "exp_offset" in t:
            claims["exp"] = now + t["exp_offset"]
            claims["iat"] = now + t["exp_offset"] - 300
        if "nonce" in t:
            claims["nonce"] = t["nonce"]
        return self.sign(claims, rogue=bool(t.get("rogue")))

    def access_token(self, sub: str | None = None, *, aud: str | None = None, exp_offset: int = 300,
                     rogue: bool = False, **extra: Any) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "sub": sub or self.user["sub"], "aud": aud or self.api_audience,
                  "iat": now, "exp": now + exp_offset, "scope": "openid", "client_id": self.client_id, **extra}
        return self.sign(claims, rogue=rogue)

    def jwks(self) -> dict[str, Any]:
        return KeySet([self.key]).as_dict(private=False)

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.url, "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token", "jwks_uri": self.url + "/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]}

    # endpoints -------------------------------------------------------------------------------
    def authorize(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.authorize_requests.append(q)
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return 400, {}, b"unknown client or response type"
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge") or not q.get("nonce"):
            return 400, {}, b"PKCE (S256) and a nonce are required"
        if "openid" not in q.get("scope", "").split():
            return 400, {}, b"scope must include openid"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q["code_challenge"],
                            "nonce": q["nonce"], "user": dict(self.user)}
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return 302, {"Location": q["redirect_uri"] + sep + urlencode({"code": code, "state": q.get("state", "")})}, b""

    def token(self, form: dict[str, str], auth_header: str) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if auth_header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(auth_header[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code is redeemed once
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, {"access_token": self.access_token(grant["user"]["sub"]), "token_type": "Bearer",
                     "expires_in": 300, "id_token": self.id_token(grant["nonce"], grant["user"])}


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                  ctype: str = "application/json") -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's API
            parts = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._send(200, json.dumps(provider.discovery()).encode())
            elif parts.path == "/jwks":
                self._send(200, json.dumps(provider.jwks()).encode())
            elif parts.path == "/authorize":
                status, headers, body = provider.authorize(q)
                self._send(status, body, headers, "text/plain")
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._send(404, b"{}")
                return
            status, body = provider.token(form, self.headers.get("Authorization", ""))
            self._send(status, json.dumps(body).encode(), {"Cache-Control": "no-store"})

    return Handler
