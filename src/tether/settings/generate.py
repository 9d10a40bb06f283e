"""``[generate]``: the model registry, fallbacks, the router's rules, resilience (retries,
breakers, deadlines) and how much of a model's window the sources get."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


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
    """A routing rule's conditions (route/router.py); every one that is set must hold."""

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
    off_in_cascade: dict[str, Any] = {"cascade": False}
    return [
        RouteRule(name="hard_question", when=RouteWhen(question_type=["analytical", "multi_part"], **off_in_cascade),
                  model="strong"),
        RouteRule(name="long_question", when=RouteWhen(min_words=30, **off_in_cascade), model="strong"),
        RouteRule(name="many_sources", when=RouteWhen(min_sources=3, **off_in_cascade), model="strong"),
        RouteRule(name="weak_retrieval", when=RouteWhen(max_confidence=0.4, **off_in_cascade), model="strong"),
    ]


class RouterSettings(BaseModel):
    """Which model answers (see route/router.py). Off: the requested or default model."""

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
    """Retries, fallback, circuit breakers and timeouts of model calls (route/resilience.py)."""

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
