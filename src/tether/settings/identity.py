"""``[oidc]`` and ``[scim]``: single sign-on with the organisation's identity provider, and the
SCIM 2.0 endpoint it provisions users and groups through.

Secrets are never settings: ``client_secret_env`` and ``token_env`` name the environment
variables that hold them (read once at the edge, like every provider key).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["admin", "member", "reviewer"]


class OidcSettings(BaseModel):
    """OpenID Connect sign-in for the web UI (authorization code flow with PKCE), and optionally
    the same issuer's JWT access tokens as API credentials (``[oidc]``, ``TETHER_OIDC__*``)."""

    #: The issuer URL (its ``/.well-known/openid-configuration`` is read). Empty: OIDC is off.
    issuer: str = ""
    client_id: str = ""
    #: The variable holding the client secret (empty value: a public client, PKCE only).
    client_secret_env: str = "TETHER_OIDC_CLIENT_SECRET"
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email", "groups"])
    #: This server's public callback URL (``https://tether.example.com/ui/oidc/callback``);
    #: empty: derived from the request's own URL.
    redirect_url: str = ""
    #: Claim mappings: which ID-token claims carry the username, e-mail, groups and roles.
    username_claim: str = "preferred_username"
    email_claim: str = "email"
    name_claim: str = "name"
    groups_claim: str = "groups"
    roles_claim: str = "roles"
    #: First sign-in creates the principal (just-in-time); off: only known users may sign in.
    jit_provision: bool = True
    #: An existing principal typed in by an administrator with the same name may be linked to
    #: the OIDC identity at its first sign-in (off: refused, so a directory account can never
    #: take over an unrelated local one).
    link_by_username: bool = False
    #: Directory group -> Tether group. Groups not in the table are ignored unless
    #: ``unmapped_groups = "create"`` (then a Tether group of the same name is used).
    group_mapping: dict[str, str] = Field(default_factory=dict)
    unmapped_groups: Literal["ignore", "create"] = "ignore"
    #: Directory role -> Tether role; the most privileged mapped role wins, none: ``default_role``.
    role_mapping: dict[str, Role] = Field(default_factory=dict)
    default_role: Role = "member"
    #: Accept the issuer's JWT access tokens (``Authorization: Bearer <jwt>``) on the API.
    accept_bearer_tokens: bool = False
    #: The ``aud`` an access token must carry (empty: the client id).
    access_token_audience: str = ""
    #: Seconds of clock skew tolerated on ``exp``/``iat``/``nbf``.
    leeway_s: int = Field(default=30, ge=0, le=300)
    #: How long a started sign-in may take before its state expires.
    state_ttl_s: int = Field(default=600, gt=0)
    #: How long the provider's discovery document and keys are reused before being read again
    #: (an unknown key id is always re-read at once: key rotation needs no restart).
    metadata_cache_s: int = Field(default=300, ge=0)
    http_timeout_s: float = Field(default=10.0, gt=0)
    #: The label of the sign-in button.
    button_label: str = "Sign in with single sign-on"

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)

    @property
    def audience(self) -> str:
        return self.access_token_audience or self.client_id


class ScimSettings(BaseModel):
    """The SCIM 2.0 server at ``/scim/v2`` (``[scim]``, ``TETHER_SCIM__*``)."""

    enabled: bool = False
    #: The variable holding the bearer token the identity provider presents.
    token_env: str = "TETHER_SCIM_TOKEN"
    #: The most resources one list response returns (``count`` is capped to it).
    max_results: int = Field(default=100, gt=0, le=1000)
