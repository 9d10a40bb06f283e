"""The root :class:`Settings` (every section mounted on it) and :func:`load_settings`, the one
way the edges (CLI, server) build it: TOML file, then ``TETHER_*`` environment variables, then
a check for unknown keys (a warning each, or an error in strict mode).

This is the edge of configuration: the only module that reads ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tether.errors import ConfigError
from tether.settings.api import ApiSettings
from tether.settings.cache import CacheSettings
from tether.settings.conversations import ConversationSettings
from tether.settings.embed import EmbedSettings
from tether.settings.generate import GenerateSettings
from tether.settings.ground import GroundConfig
from tether.settings.guard import GuardSettings
from tether.settings.identity import OidcSettings, ScimSettings
from tether.settings.ingest import ChunkSettings, IngestSettings
from tether.settings.observe import ObserveSettings
from tether.settings.research import ResearchSettings
from tether.settings.retrieve import RetrieveSettings
from tether.settings.review import ReviewSettings
from tether.settings.unknown import unknown_keys

log = logging.getLogger("tether.settings")

ENV_PREFIX = "TETHER_"
#: ``TETHER_*`` variables that are read on purpose but are not settings: the config file's path,
#: the test suite's external server and golden-file switch, a provider's default key variable.
#: (Variables named by a ``*_env`` setting or its default, e.g. ``embed.api_key_env``, are not
#: settings either.)
NOT_SETTINGS = frozenset({"TETHER_CONFIG", "TETHER_TEST_DATABASE_URL", "TETHER_UPDATE_GOLDEN", "TETHER_LLM_API_KEY"})


def _default_guard() -> GuardSettings:
    g = GuardSettings(context_action="quarantine")
    # restricted sources: redact PII in answers rather than withholding every answer
    g.policies["restricted"] = g.policies["restricted"].model_copy(update={"block": False})
    return g


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path(".tether")
    #: External PostgreSQL (>= 15 with pgvector). Empty: the embedded server in data_dir.
    database_url: str = ""
    pool_min: int = 1
    pool_max: int = 10
    #: Seconds a request waits for a free pooled connection before it gets 503 store_unavailable.
    pool_timeout_s: float = Field(default=30.0, gt=0)
    #: Unknown ``TETHER_*`` variables and config-file keys stop start-up instead of a warning.
    strict: bool = False
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    ground: GroundConfig = Field(default_factory=GroundConfig)
    #: Flagged chunks are quarantined by default (kept out of search and prompts, shown to admins).
    guard: GuardSettings = Field(default_factory=lambda: _default_guard())
    #: Scan chunks for indirect prompt injection at ingest (and passages again at answer time).
    scan_ingest: bool = True
    #: Also run the jailguard classifier on every chunk at ingest (flags for review; slower).
    ingest_classifier: bool = False
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    observe: ObserveSettings = Field(default_factory=ObserveSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    conversations: ConversationSettings = Field(default_factory=ConversationSettings)
    research: ResearchSettings = Field(default_factory=ResearchSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    scim: ScimSettings = Field(default_factory=ScimSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = config_path(os.environ)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def config_path(environ: Mapping[str, str]) -> Path:
    """The TOML file: ``TETHER_CONFIG``, else ``tether.toml`` in the working directory."""
    return Path(environ.get("TETHER_CONFIG", "tether.toml"))


def read_toml(path: Path) -> dict[str, Any]:
    """The config file's contents (empty when there is none); :class:`ConfigError` if malformed."""
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", path=str(path)) from exc


def _named_env_vars(model: BaseModel) -> Iterator[str]:
    """Values of every ``*_env`` setting: names of variables holding secrets, not settings."""
    for name, value in model:
        if isinstance(value, BaseModel):
            yield from _named_env_vars(value)
        elif isinstance(value, dict):
            for item in value.values():
                if isinstance(item, BaseModel):
                    yield from _named_env_vars(item)
        elif name.endswith("_env") and isinstance(value, str) and value:
            yield value


def load_settings(**overrides: object) -> Settings:
    """Build the settings once, at the edge of the program, and report unknown keys.

    Each unknown ``TETHER_*`` variable or config-file key is logged as a warning naming the
    closest valid one; with ``strict`` (``TETHER_STRICT=1`` or ``strict = true``) they are a
    :class:`ConfigError` instead."""
    path = config_path(os.environ)
    data = read_toml(path)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid settings ({path} or TETHER_* variables): {exc}") from exc
    ignore = NOT_SETTINGS | set(_named_env_vars(settings)) | set(_named_env_vars(Settings.model_construct()))
    unknown = unknown_keys(Settings, os.environ, data, prefix=ENV_PREFIX, ignore=ignore, toml_file=str(path))
    if unknown and settings.strict:
        raise ConfigError("unknown settings (strict mode): " + "; ".join(str(u) for u in unknown),
                          unknown=[u.key for u in unknown])
    for u in unknown:
        log.warning("ignored %s", u)
    return settings
