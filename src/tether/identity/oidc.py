"""OpenID Connect sign-in: the authorization code flow with PKCE (RFC 7636, S256) and the claim
mappings that turn a verified ID token into a :class:`DirectoryIdentity`.

Why a module: which claims name the user, the e-mail, the groups and the roles, and how the
directory's groups and roles become Tether's, are the organisation's configuration (``[oidc]``);
everything that follows (provisioning, group sync, sessions, audit) only sees the mapped
identity. Directory groups that are not in the mapping table are ignored unless configured
otherwise, so a new group in the directory never silently grants access to documents.

The protocol client is authlib's; the state, nonce and code verifier are random per sign-in
and kept server-side by the caller (``services/directory.py``), never in the browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from tether.errors import ProviderUnavailable, Unauthenticated
from tether.identity.keys import IssuerKeys
from tether.settings.identity import OidcSettings

#: Most privileged first: a user with several mapped roles gets the first.
ROLE_ORDER = ("admin", "reviewer", "member")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


@dataclass(frozen=True)
class DirectoryIdentity:
    """Who the identity provider says signed in, with groups and role already mapped."""

    subject: str  # '<issuer> <sub>': unique across issuers
    username: str
    email: str | None
    display_name: str | None
    #: Tether group names the user belongs to according to the directory (mapped).
    groups: tuple[str, ...]
    #: The Tether groups whose membership this sign-in decides (every group in the mapping
    #: table, plus the user's unmapped groups when ``unmapped_groups = "create"``).
    managed_groups: tuple[str, ...]
    role: str
    #: Whether the token carried a roles claim (no claim: the stored role is kept).
    role_claimed: bool


@dataclass(frozen=True)
class SignInRequest:
    """A started sign-in: send the browser to ``url``; keep the rest server-side."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def valid_username(name: str) -> bool:
    return bool(_NAME.match(name))


class OidcClient:
    """The relying party for one issuer (``cfg``); ``client_secret`` empty: a public client."""

    def __init__(self, cfg: OidcSettings, client_secret: str = "", keys: IssuerKeys | None = None,
                 http: httpx.Client | None = None) -> None:
        self.cfg = cfg
        self.client_secret = client_secret
        self.keys = keys or IssuerKeys(cfg, http)

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(client_id=self.cfg.client_id, client_secret=self.client_secret or None,
                            token_endpoint_auth_method="client_secret_post" if self.client_secret else "none",
                            scope=" ".join(self.cfg.scopes), redirect_uri=redirect_uri,
                            code_challenge_method="S256", timeout=self.cfg.http_timeout_s)

    def start(self, redirect_uri: str) -> SignInRequest:
        """A new authorization request (fresh state, nonce and PKCE verifier)."""
        meta = self.keys.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(meta.authorization_endpoint, state=state,
                                                     code_verifier=verifier, nonce=nonce)
        return SignInRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def finish(self, code: str, *, code_verifier: str, nonce: str, redirect_uri: str) -> DirectoryIdentity:
        """Redeem ``code`` at the token endpoint and verify the ID token it returns."""
        meta = self.keys.metadata()
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(meta.token_endpoint, code=code, code_verifier=code_verifier,
                                           grant_type="authorization_code")
        except AuthlibBaseError as exc:
            raise Unauthenticated(f"identity provider refused the sign-in: {exc.error or exc}") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"identity provider: token endpoint unreachable: {exc}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated("identity provider returned no ID token (is the 'openid' scope configured?)")
        claims = self.keys.verify(id_token, audience=self.cfg.client_id, what="ID token", nonce=nonce)
        return self.identity(claims)

    def verify_access_token(self, token: str) -> DirectoryIdentity:
        """An OAuth2 JWT access token from the same issuer, for the API (``accept_bearer_tokens``)."""
        claims = self.keys.verify(token, audience=self.cfg.audience, what="access token", require_iat=False)
        return self.identity(claims, need_username=False)

    def identity(self, claims: dict[str, Any], *, need_username: bool = True) -> DirectoryIdentity:
        """The claim mappings applied to verified ``claims``."""
        cfg = self.cfg
        username = claims.get(cfg.username_claim) or claims.get(cfg.email_claim) or ""
        if not isinstance(username, str) or not valid_username(username):
            if need_username:
                raise Unauthenticated(f"ID token rejected: claim {cfg.username_claim!r} is missing or not a valid "
                                      "user name (letters, digits, '.', '_', '-', '@', '+')")
            username = ""
        raw_groups = _strings(claims.get(cfg.groups_claim))
        groups = [cfg.group_mapping[g] for g in raw_groups if g in cfg.group_mapping]
        managed = set(cfg.group_mapping.values())
        if cfg.unmapped_groups == "create":
            extra = [g for g in raw_groups if g not in cfg.group_mapping and valid_username(g)]
            groups += extra
            managed |= set(extra)
        roles_claimed = cfg.roles_claim in claims
        mapped_roles = {cfg.role_mapping[r] for r in _strings(claims.get(cfg.roles_claim)) if r in cfg.role_mapping}
        role = next((r for r in ROLE_ORDER if r in mapped_roles), cfg.default_role)
        email = claims.get(cfg.email_claim)
        name = claims.get(cfg.name_claim)
        return DirectoryIdentity(
            subject=f"{claims['iss']} {claims['sub']}", username=username,
            email=email if isinstance(email, str) else None, display_name=name if isinstance(name, str) else None,
            groups=tuple(sorted(set(groups))), managed_groups=tuple(sorted(managed)),
            role=role, role_claimed=roles_claimed,
        )
