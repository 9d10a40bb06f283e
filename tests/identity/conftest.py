"""A live Tether server wired to a real OpenID provider on 127.0.0.1 (``provider.py``), with
SCIM on, over a fresh seeded database (``tests/api/server.py``: root, ana in hr, eve)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tether.engine import Tether
from tether.settings import OidcSettings, ScimSettings

from tests.api.server import LiveServer, module_database, seed
from tests.identity.provider import Provider

SCIM_TOKEN = "scim-token-for-tests-0123456789"


@dataclass
class World:
    provider: Provider
    server: LiveServer
    engine: Tether
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def world(pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("identity")
    with Provider() as provider, module_database(pg_server, template_db, tmp / "data") as base:
        oidc = OidcSettings(issuer=provider.url, client_id=provider.client_id,
                            group_mapping={"idp-hr": "hr", "idp-legal": "legal"},
                            role_mapping={"tether-admins": "admin", "tether-reviewers": "reviewer"},
                            accept_bearer_tokens=True, access_token_audience=provider.api_audience)
        settings = base.model_copy(update={"oidc": oidc, "scim": ScimSettings(enabled=True)})
        secrets = {"TETHER_OIDC_CLIENT_SECRET": provider.client_secret, "TETHER_SCIM_TOKEN": SCIM_TOKEN}
        engine = Tether(settings, secrets=secrets)
        try:
            keys = seed(engine, tmp / "docs")
            with LiveServer(engine) as server:
                yield World(provider, server, engine, keys)
        finally:
            engine.close()


@pytest.fixture(autouse=True)
def _honest_provider(world: World):
    """Every test starts with a provider that tampers with nothing."""
    world.provider.tamper = {}
    yield
    world.provider.tamper = {}
