"""``[oidc]`` and ``[scim]`` from the config file and TETHER_* variables; the secrets they name
are variables, not settings (strict mode accepts them); bad values are config errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tether.errors import ConfigError
from tether.settings import load_settings


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in list(os.environ):
        if name.upper().startswith("TETHER_"):
            monkeypatch.delenv(name)
    path = tmp_path / "tether.toml"
    monkeypatch.setenv("TETHER_CONFIG", str(path))
    return lambda text: path.write_text(text, encoding="utf-8")


def test_identity_sections(config, monkeypatch):
    config('[oidc]\nissuer = "https://idp.example.com"\nclient_id = "tether"\n'
           '[oidc.group_mapping]\n"HR Team" = "hr"\n[oidc.role_mapping]\n"tether-admins" = "admin"\n'
           '[scim]\nenabled = true\n')
    monkeypatch.setenv("TETHER_OIDC_CLIENT_SECRET", "s")  # named by client_secret_env: not a setting
    monkeypatch.setenv("TETHER_SCIM_TOKEN", "t")  # named by token_env
    monkeypatch.setenv("TETHER_SCIM__MAX_RESULTS", "50")
    s = load_settings(strict=True)
    assert s.oidc.enabled and s.oidc.group_mapping == {"HR Team": "hr"} and s.oidc.role_mapping == {
        "tether-admins": "admin"}
    assert s.oidc.unmapped_groups == "ignore" and s.oidc.jit_provision and not s.oidc.link_by_username
    assert s.oidc.audience == "tether" and s.scim.enabled and s.scim.max_results == 50


def test_defaults_are_off(config):
    config("")
    s = load_settings()
    assert not s.oidc.enabled and not s.oidc.accept_bearer_tokens and not s.scim.enabled


def test_bad_identity_values_are_config_errors(config):
    config('[oidc.role_mapping]\n"x" = "superuser"\n')
    with pytest.raises(ConfigError):
        load_settings()
    config('[oidc]\nunmapped_groups = "grant"\n')
    with pytest.raises(ConfigError):
        load_settings()
