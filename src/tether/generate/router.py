"""Model routing: which registered model answers a request, and whether to cascade.

    route = choose(settings.generate, features)   # -> Route(model, reason, escalate_to)

With the router off, the requested model (or the default) answers. With it on, the policy
looks at features Tether already has about the request and picks the cheap or the strong
model; with ``cascade`` the cheap model answers first and the engine escalates to
``escalate_to`` when grounding rejects the cheap answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.settings import GenerateSettings


@dataclass(frozen=True)
class Features:
    question: str
    retrieval_confidence: float = 0.0
    passages: int = 0
    json_schema: bool = False
    requested_model: str | None = None


@dataclass(frozen=True)
class Route:
    model: str
    reason: str
    #: Cascade: the model to try when grounding rejects ``model``'s answer (None: no cascade).
    escalate_to: str | None = None
    details: dict = field(default_factory=dict)


def choose(settings: GenerateSettings, f: Features) -> Route:
    if f.requested_model:
        return Route(f.requested_model, "requested")
    r = settings.router
    if not r.enabled or not r.cheap or not r.strong:
        return Route(settings.default_model, "default")
    if f.json_schema:
        return Route(r.strong, "json_schema")
    return Route(r.cheap, "cheap_first", escalate_to=r.strong if r.cascade else None)
