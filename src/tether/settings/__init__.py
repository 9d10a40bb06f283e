"""One typed settings object, loaded once at the edge (CLI, server, tests) and passed down.

Sources, lowest to highest priority: defaults, a TOML file (``tether.toml`` in the working
directory or the path in ``TETHER_CONFIG``), then ``TETHER_*`` environment variables
(nested with ``__``, e.g. ``TETHER_EMBED__KIND=openai``, ``TETHER_API__RATE_LIMIT_PER_MINUTE=60``).
Unknown variables and keys are reported at start-up by :func:`load_settings` (a warning with
the closest valid name; an error with ``strict``). Library code never reads ``os.environ``;
it receives a :class:`Settings` or the section it needs.

One module per section, mounted on :class:`Settings` (``tether.settings.root``):

    data_dir, database_url, pool_*, strict, scan_ingest, ingest_classifier   root
    [embed]     EmbedSettings                                                  embed
    [chunk]     ChunkSettings   [ingest] IngestSettings                        ingest
    [retrieve]  RetrieveSettings                                               retrieve
    [generate]  GenerateSettings, ModelConfig, RouterSettings, ResilienceSettings  generate
    [ground]    GroundConfig, AnswerabilityConfig, EntailmentConfig            ground
    [guard]     GuardSettings, PiiPolicy, PersonalDataRules                    guard
    [review]    ReviewSettings                                                 review
    [observe]   ObserveSettings, DriftRule                                     observe
    [cache]     CacheSettings                                                  cache
    [conversations] ConversationSettings                                       conversations
    [research]  ResearchSettings                                               research
    [api]       ApiSettings                                                    api
    [oidc]      OidcSettings    [scim] ScimSettings                            identity
"""

from __future__ import annotations

from tether.settings.api import ApiSettings
from tether.settings.cache import CacheSettings
from tether.settings.conversations import ConversationSettings
from tether.settings.embed import EmbedSettings
from tether.settings.generate import (
    GenerateSettings,
    ModelConfig,
    ResilienceSettings,
    RouterSettings,
    RouteRule,
    RouteWhen,
)
from tether.settings.ground import ABSTAIN_TEXT, AnswerabilityConfig, EntailmentConfig, GroundConfig
from tether.settings.guard import DEFAULT_PII_ENTITIES, GuardSettings, PersonalDataRules, PiiPolicy
from tether.settings.identity import OidcSettings, ScimSettings
from tether.settings.ingest import ChunkSettings, IngestSettings
from tether.settings.observe import DriftRule, ObserveSettings
from tether.settings.research import ResearchSettings
from tether.settings.retrieve import RetrieveSettings
from tether.settings.review import ReviewSettings
from tether.settings.root import Settings, config_path, load_settings, read_toml
from tether.settings.unknown import UnknownKey, unknown_keys

__all__ = [
    "ABSTAIN_TEXT",
    "DEFAULT_PII_ENTITIES",
    "AnswerabilityConfig",
    "ApiSettings",
    "CacheSettings",
    "ChunkSettings",
    "ConversationSettings",
    "DriftRule",
    "EmbedSettings",
    "EntailmentConfig",
    "GenerateSettings",
    "GroundConfig",
    "GuardSettings",
    "IngestSettings",
    "ModelConfig",
    "ObserveSettings",
    "ResearchSettings",
    "OidcSettings",
    "PersonalDataRules",
    "PiiPolicy",
    "ResilienceSettings",
    "RetrieveSettings",
    "ReviewSettings",
    "RouteRule",
    "RouteWhen",
    "RouterSettings",
    "ScimSettings",
    "Settings",
    "UnknownKey",
    "config_path",
    "load_settings",
    "read_toml",
    "unknown_keys",
]
