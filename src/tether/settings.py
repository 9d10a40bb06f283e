"""One typed settings object, loaded once at the edge (CLI, server, tests) and passed down.

Sources, lowest to highest priority: defaults, a TOML file (``tether.toml`` in the working
directory or the path in ``TETHER_CONFIG``), then ``TETHER_*`` environment variables
(nested with ``__``, e.g. ``TETHER_EMBED__KIND=openai``). Library code never reads
``os.environ``; it receives a :class:`Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tether.ground.config import GroundConfig
from tether.guard.base import GuardSettings
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class EmbedSettings(BaseModel):
    kind: Literal["onnx", "openai"] = "onnx"
    #: Local ONNX model path; empty means the bundled all-MiniLM-L6-v2 int8 model.
    model_path: str = ""
    #: Base URL of an OpenAI-compatible server (kind="openai"), e.g. http://127.0.0.1:8000/v1
    base_url: str = ""
    model: str = "all-MiniLM-L6-v2"
    #: Name of the environment variable that holds the API key (never the key itself).
    api_key_env: str = "TETHER_EMBED_API_KEY"
    dimension: int = 384
    batch_size: int = 32
    max_tokens: int = 256
    timeout_s: float = 30.0
    threads: int = 0  # 0 = onnxruntime default
    #: USD per million input tokens (0 for the bundled local model; its latency is still recorded).
    price_per_mtok: float = 0.0


class ChunkSettings(BaseModel):
    max_tokens: int = 200
    overlap_tokens: int = 40
    min_tokens: int = 20


class IngestSettings(BaseModel):
    max_file_bytes: int = 20 * 1024 * 1024
    #: Seconds without a heartbeat after which a running job is considered abandoned.
    job_lease_s: float = 30.0
    heartbeat_s: float = 5.0
    max_attempts: int = 3


class RetrieveSettings(BaseModel):
    k1: float = 1.2
    b: float = 0.75
    top_k: int = 10
    candidates: int = 100
    #: "rrf" (reciprocal rank) or score fusion: "minmax", "zscore", "dbsf" (see retrieve/fusion.py).
    fusion: str = "zscore"
    rrf_k: int = 60
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    ef_search: int = 100
    #: Reranker: "default" (bundled embedder + lexical features), "cross-encoder" (local path),
    #: "http" (a TEI / Jina / Cohere-style /rerank endpoint) or "none".
    reranker: str = "default"
    rerank_top_n: int = 30
    rerank_model_path: str = ""
    rerank_url: str = ""
    rerank_api_key_env: str = "TETHER_RERANK_API_KEY"
    mmr_lambda: float = 0.0  # 0 disables MMR diversity
    #: USD per million tokens reranked (an HTTP reranker's price; 0 for local rerankers).
    rerank_price_per_mtok: float = 0.0
    #: Abstain without generating when the best passage's dense cosine is below this.
    min_confidence: float = 0.25


class ModelConfig(BaseModel):
    """One entry of the model registry."""

    kind: Literal["extractive", "openai", "llama"] = "openai"
    base_url: str = ""
    model: str = ""
    #: Name of the environment variable with the provider's key (never the key itself).
    api_key_env: str = ""
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0
    context_window: int = 4096
    streaming: bool = True
    #: Ask for token usage at the end of streams (off for servers that reject stream_options).
    stream_usage: bool = True
    json_schema: bool = False
    structured_output: Literal["response_format", "guided_json", "prompt"] = "response_format"
    connect_timeout_s: float = 5.0
    timeout_s: float = 60.0
    model_path: str = ""  # llama: a GGUF file (empty: the bundled SmolLM2)
    #: Capabilities beyond streaming/json_schema: "tools", ...
    capabilities: list[str] = Field(default_factory=list)


def _default_models() -> dict[str, ModelConfig]:
    return {"extractive": ModelConfig(kind="extractive", context_window=2048, model="extractive")}


class RouteWhen(BaseModel):
    """A routing rule's conditions (generate/router.py); every one that is set must hold."""

    #: Any of "lookup", "analytical", "multi_part" (the router's question classifier).
    question_type: list[Literal["lookup", "analytical", "multi_part"]] | None = None
    #: Retrieval confidence (best dense cosine): >= min_confidence, < max_confidence.
    min_confidence: float | None = None
    max_confidence: float | None = None
    #: Distinct documents close to the best passage (see RouterSettings.sources_margin), inclusive.
    min_sources: int | None = None
    max_sources: int | None = None
    #: Question length in words, inclusive.
    min_words: int | None = None
    max_words: int | None = None
    #: Whether a JSON schema was requested.
    json_schema: bool | None = None
    #: Whether the router's ``cascade`` is on (a rule only for one mode).
    cascade: bool | None = None


class RouteRule(BaseModel):
    """When ``when`` holds, ``model`` answers: "cheap", "strong" (the router's models) or a registry name."""

    name: str = ""
    when: RouteWhen = Field(default_factory=RouteWhen)
    model: str = "strong"
    #: Cascade from this rule's model to the strong one (None: the router's ``cascade``).
    cascade: bool | None = None


def _default_route_rules() -> list[RouteRule]:
    # Without the cascade, hard questions go straight to the strong model. With the cascade on,
    # grounding is the arbiter: the cheap attempt is the cheaper way to find out, and these rules
    # stay off (measured on the demo golden set, bench/routing.py: 52% cheaper than always-strong
    # at equal quality, against 34% with them on). Add rules with ``cascade: true`` (or none) for
    # failures your grounding cannot see, e.g. multi-part questions a cheap model half-answers.
    off_in_cascade = {"cascade": False}
    return [
        RouteRule(name="hard_question", when=RouteWhen(question_type=["analytical", "multi_part"], **off_in_cascade),
                  model="strong"),
        RouteRule(name="long_question", when=RouteWhen(min_words=30, **off_in_cascade), model="strong"),
        RouteRule(name="many_sources", when=RouteWhen(min_sources=3, **off_in_cascade), model="strong"),
        RouteRule(name="weak_retrieval", when=RouteWhen(max_confidence=0.4, **off_in_cascade), model="strong"),
    ]


class RouterSettings(BaseModel):
    """Which model answers (see generate/router.py). Off: the requested or default model."""

    enabled: bool = False
    cheap: str = ""
    strong: str = ""
    #: Try the cheap model first; escalate to the strong one when grounding rejects its answer.
    cascade: bool = True
    #: Evaluated in order, first match wins; no match: the cheap model (cascading when ``cascade``).
    rules: list[RouteRule] = Field(default_factory=_default_route_rules)
    #: A document counts towards ``sources`` when its best passage's dense cosine is within this of the top one.
    sources_margin: float = 0.05


class ResilienceSettings(BaseModel):
    """Retries, fallback, circuit breakers and timeouts of model calls (generate/resilience.py)."""

    #: Attempts per model (1 = no retry) on retryable errors: timeouts, 429, 5xx, connection errors.
    max_attempts: int = Field(default=3, ge=1)
    #: Exponential backoff with full jitter: sleep U(0, min(backoff_max_s, backoff_base_s * 2**n)).
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    #: A provider's ``Retry-After`` is honoured up to this many seconds.
    retry_after_cap_s: float = Field(default=20.0, ge=0)
    #: Whole request (every attempt, backoff and fallback; a stream until its last token).
    deadline_s: float = Field(default=120.0, gt=0)
    #: A stream must yield its first token within this many seconds (0 = no limit).
    first_token_timeout_s: float = Field(default=30.0, ge=0)
    #: Consecutive failures that open a provider's breaker, and how long it stays open.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, ge=0)


class GenerateSettings(BaseModel):
    default_model: str = "extractive"
    models: dict[str, ModelConfig] = Field(default_factory=_default_models)
    #: Models tried, in order, after the chosen one fails (registry names, e.g. ["backup", "extractive"]).
    fallbacks: list[str] = Field(default_factory=list)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)
    #: Share of a model's context window given to the packed sources.
    context_share: float = 0.6
    max_passages: int = 6
    neighbours: int = 0
    max_answer_tokens: int = 512
    router: RouterSettings = Field(default_factory=RouterSettings)


class DriftRule(BaseModel):
    """When a monitored figure counts as drifted: its change in the bad direction (current window
    vs baseline) exceeds every threshold that is set (> 0): ``absolute`` in the figure's own unit,
    ``relative`` as a share of the baseline (0.5 = 50% worse)."""

    absolute: float = 0.0
    relative: float = 0.0


def _default_drift_rules() -> dict[str, DriftRule]:
    return {
        "top_score": DriftRule(absolute=0.1),
        "abstention_rate": DriftRule(absolute=0.15),
        "groundedness_rate": DriftRule(absolute=0.1),
        "block_rate": DriftRule(absolute=0.1),
        "latency_p50_ms": DriftRule(relative=0.5, absolute=50),
        "latency_p95_ms": DriftRule(relative=0.5, absolute=100),
        "cost_per_request_usd": DriftRule(relative=0.5, absolute=0.0001),
    }


class ObserveSettings(BaseModel):
    """Traces, their export (OpenTelemetry) and retention, and the drift monitors."""

    #: Record a trace per request (off: a NullTrace, nothing stored or exported).
    tracing: bool = True
    #: Redact PII from the question text kept in traces.
    redact_traces: bool = True
    #: OTLP/HTTP endpoint (a collector's base URL, or the full .../v1/traces URL); empty = no export.
    otlp_endpoint: str = ""
    otlp_headers: dict[str, str] = Field(default_factory=dict)
    #: Name of an environment variable holding extra headers as ``k=v,k2=v2`` (e.g. an auth token).
    otlp_headers_env: str = ""
    otlp_timeout_s: float = 10.0
    service_name: str = "tether"
    trace_retention_days: float = 30
    #: How often the server purges old traces and evaluates the drift monitors (0 = never).
    purge_interval_s: float = 3600
    drift_interval_s: float = 300
    #: The current window (hours) compared with the baseline window before it (days).
    drift_window_hours: float = 1
    drift_baseline_days: float = 7
    #: Fewer requests than this in either window: no verdict.
    drift_min_samples: int = 20
    drift_rules: dict[str, DriftRule] = Field(default_factory=_default_drift_rules)


class ReviewSettings(BaseModel):
    """The human hand-off queue (store/reviews.py)."""

    #: Open a review item when an answer falls into one of ``sources`` (engine.hand_off).
    auto_create: bool = True
    #: Which outcomes open an item automatically: abstention, low_confidence, budget_refusal.
    sources: list[str] = Field(default_factory=lambda: ["abstention", "budget_refusal"])
    #: Golden file that `tether review promote` appends to (empty: <data_dir>/golden/reviewed.yaml).
    golden_path: str = ""


class CacheSettings(BaseModel):
    """The answer cache (cache/answers.py): exact and semantic, per effective permission key and
    index version; hits re-check every source document against the asker."""

    enabled: bool = True
    #: Also reuse the answer to a paraphrase (same scope, same numbers and negations).
    semantic: bool = True
    #: Cosine similarity of the questions' embeddings at or above which a paraphrase hits
    #: (measured on demo paraphrases and near-misses: bench/cache.py).
    threshold: float = Field(default=0.95, ge=0.0, le=1.0)
    ttl_s: float = Field(default=86400.0, gt=0)
    #: Beyond this many entries the oldest are evicted.
    max_entries: int = Field(default=10000, ge=1)


def _default_guard() -> GuardSettings:
    g = GuardSettings(context_action="quarantine")
    # restricted sources: redact PII in answers rather than withholding every answer
    g.policies["restricted"] = g.policies["restricted"].model_copy(update={"block": False})
    return g


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TETHER_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path(".tether")
    #: External PostgreSQL (>= 15 with pgvector). Empty: the embedded server in data_dir.
    database_url: str = ""
    pool_min: int = 1
    pool_max: int = 10
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("TETHER_CONFIG", "tether.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def load_settings(**overrides: object) -> Settings:
    """Build the settings once, at the edge of the program."""
    return Settings(**overrides)  # type: ignore[arg-type]
