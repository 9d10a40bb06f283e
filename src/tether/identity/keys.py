"""The issuer's discovery document and signing keys (JWKS), and JWT verification against them.

Why a module: the ID tokens of browser sign-in and the access tokens services present to the
API are checked by the same rules, in one place: an asymmetric signature by a key the issuer
publishes (never ``none`` or a shared-secret algorithm), the issuer, the audience, the expiry
(with a small leeway) and, for ID tokens, the nonce of the sign-in that asked for it. Every
failure is :class:`~tether.errors.Unauthenticated` with a message naming what was wrong.

The document and keys are cached for ``metadata_cache_s``; a token signed with a key id not in
the cache makes one fresh read of the JWKS, so the provider can rotate keys without a restart.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import KeySet

from tether.errors import ProviderUnavailable, Unauthenticated
from tether.settings.identity import OidcSettings

#: Signature algorithms accepted (asymmetric only: the issuer's public keys verify them).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


@dataclass(frozen=True)
class ProviderMetadata:
    """The endpoints of an OpenID provider (its ``/.well-known/openid-configuration``)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class IssuerKeys:
    """One issuer's metadata and keys, read over HTTP and cached (thread-safe)."""

    def __init__(self, cfg: OidcSettings, http: httpx.Client | None = None) -> None:
        self.cfg = cfg
        self.http = http or httpx.Client(timeout=cfg.http_timeout_s)
        self._lock = threading.Lock()
        self._meta: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self.http.get(url)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"identity provider: could not read its {what} ({url}): {exc}") from exc
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"identity provider: its {what} ({url}) is not a JSON object")
        return data

    def _fresh(self, at: float) -> bool:
        return time.monotonic() - at < self.cfg.metadata_cache_s

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._meta and self._fresh(self._meta[0]):
                return self._meta[1]
        url = self.cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = self._get_json(url, "discovery document")
        missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise ProviderUnavailable(f"identity provider: discovery document lacks {', '.join(missing)}")
        if doc["issuer"].rstrip("/") != self.cfg.issuer.rstrip("/"):
            raise ProviderUnavailable(f"identity provider: discovery names issuer {doc['issuer']!r}, "
                                      f"configured {self.cfg.issuer!r}")
        meta = ProviderMetadata(doc["issuer"], doc["authorization_endpoint"], doc["token_endpoint"], doc["jwks_uri"])
        with self._lock:
            self._meta = (time.monotonic(), meta)
        return meta

    def keys(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            if not refresh and self._keys and self._fresh(self._keys[0]):
                return self._keys[1]
        data = self._get_json(self.metadata().jwks_uri, "signing keys (JWKS)")
        try:
            keyset = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (jose_errors.JoseError, ValueError, KeyError, TypeError) as exc:
            raise ProviderUnavailable(f"identity provider: its JWKS could not be read: {exc}") from exc
        with self._lock:
            self._keys = (time.monotonic(), keyset)
        return keyset

    def verify(self, token: str, *, audience: str, what: str = "token", nonce: str | None = None,
               require_iat: bool = True) -> dict[str, Any]:
        """The claims of ``token`` once signature, issuer, audience, expiry (and nonce) hold."""
        if not token or token.count(".") != 2:
            raise Unauthenticated(f"{what} rejected: not a signed JWT")
        decoded = self._decode(token, what)
        claims: dict[str, Any] = dict(decoded.claims)
        checks: dict[str, Any] = {
            "iss": {"essential": True, "value": self.metadata().issuer},
            "aud": {"essential": True, "value": audience},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        if require_iat:
            checks["iat"] = {"essential": True}
        if nonce is not None:
            checks["nonce"] = {"essential": True, "value": nonce}
        try:
            jwt.JWTClaimsRegistry(leeway=self.cfg.leeway_s, **checks).validate(claims)
        except jose_errors.ExpiredTokenError as exc:
            raise Unauthenticated(f"{what} rejected: expired") from exc
        except (jose_errors.InvalidClaimError, jose_errors.MissingClaimError) as exc:
            claim = getattr(exc, "claim", "") or str(exc)
            label = {"aud": "wrong audience", "iss": "wrong issuer", "nonce": "nonce does not match the sign-in",
                     "iat": "issued in the future", "nbf": "not valid yet"}
            raise Unauthenticated(f"{what} rejected: {label.get(claim, f'bad or missing claim {claim!r}')}") from exc
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != audience:
            raise Unauthenticated(f"{what} rejected: several audiences and 'azp' is not this client")
        return claims

    def _decode(self, token: str, what: str) -> Any:
        for attempt in (0, 1):
            try:
                return jwt.decode(token, self.keys(refresh=attempt == 1), algorithms=ALGORITHMS)
            except jose_errors.InvalidKeyIdError as exc:
                if attempt == 1:
                    raise Unauthenticated(f"{what} rejected: signed with a key the issuer does not publish") from exc
            except jose_errors.BadSignatureError as exc:
                raise Unauthenticated(f"{what} rejected: bad signature") from exc
            except jose_errors.UnsupportedAlgorithmError as exc:
                raise Unauthenticated(f"{what} rejected: signature algorithm not allowed "
                                      f"(accepted: {', '.join(ALGORITHMS)})") from exc
            except (jose_errors.JoseError, ValueError) as exc:
                raise Unauthenticated(f"{what} rejected: malformed ({exc})") from exc
        raise AssertionError("unreachable")
