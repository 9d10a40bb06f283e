"""Model routing: which registered model answers a request, and whether to cascade.

    f = features(settings.generate, question, passages, confidence=..., json_schema=...)
    route = choose(settings.generate, f)   # -> Route(model, reason, escalate_to, details)

With the router off (``generate.router.enabled = false``, the default), the requested model (or
the default) answers. With it on, the policy looks at cheap features Tether already has about the
request (no model call) and picks a model by the first matching rule of
``generate.router.rules``; no rule matching means the cheap model. With ``cascade`` the cheap
model answers first and the engine escalates to ``escalate_to`` (the strong model) when grounding
rejects the cheap answer (sentences dropped, or abstained for lack of support).

Features (all computed from the question text and the retrieval result):

- ``question_type`` (:func:`classify`, a small keyword heuristic):
  ``multi_part`` - two or more questions in one: more than one ``?``, a ``;``, list items, or a
  conjunction followed by a question word or auxiliary ("..., and until when must I ...",
  "... cost and how many users ...", "... and in which offices?"). Joined nouns ("the RPO and
  RTO") are not parts.
  ``analytical`` - asks for reasoning, comparison or aggregation rather than one stated fact:
  why / explain / compare / differ / versus / beyond / instead of / summarise / list all|every|
  each / pros and cons / advantages / implications / impact / evaluate / assess / analyse /
  recommend / should I|we / what if, "how does X work|affect|compare", or a hypothetical that
  opens with if / suppose / assuming / given that (the answer has to be worked out).
  ``lookup`` - everything else: a simple "what / when / who / how many / how much" question.
- ``words``: the question's length in words.
- ``confidence``: retrieval confidence, the best passage's dense cosine (the same figure the
  engine abstains on below ``retrieve.min_confidence``).
- ``sources``: how many distinct documents the answer probably needs: documents among the top
  ``generate.max_passages`` passages whose dense cosine is within ``router.sources_margin`` of
  the best one.
- ``json_schema``: a JSON schema was requested. The chosen model must then support it
  (``ModelConfig.json_schema`` or ``"json_schema"`` in ``capabilities``); otherwise the router
  takes the strong model, then the cheap one, then any rule's model that does, and says so.

The default rules (``settings._default_route_rules``), in order: ``hard_question`` (analytical
or multi-part -> strong), ``long_question`` (>= 30 words -> strong), ``many_sources`` (>= 3 ->
strong), ``weak_retrieval`` (confidence < 0.4 -> strong, only with the cascade off); otherwise
the cheap model, cascading to the strong one. Why the cascade changes the rules: a cheap attempt
costs a few percent of a strong call (0.25/1 vs 5/15 USD per Mtok: ~5%), so with a cascade,
sending a request straight to the strong model saves money only when the cheap answer is almost
certain (~90%+) to be rejected; it mainly saves the latency of the failed attempt. The rules
that stay on with the cascade target failures grounding cannot see (a part of the question left
unanswered, a comparison reasoned thinly, a source left out: every kept sentence is still
supported); weak retrieval mostly produces unsupported claims, which grounding rejects, so
there the cheap attempt is the cheaper way to find out. ``rules = []`` with the cascade on is
the cheapest policy (everything cheap first); see bench/routing.py for the measured trade-off.

Every decision names the rule (``Route.reason``, e.g. ``rule:hard_question`` or ``fallback``) and
carries the features and the conditions that matched in ``Route.details``; the engine records
both on the trace's ``route`` span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.settings import GenerateSettings, ModelConfig, RouteRule, RouteWhen

QUESTION_TYPES = ("lookup", "analytical", "multi_part")

_WH = (r"(?:what|when|where|which|who|whom|whose|why|how|is|are|was|were|do|does|did|can|could|should|must|will"
       r"|would|has|have|may)")
#: "..., and until when ...", "... and in which offices", "... and how many ..."
_MULTI_JOIN = re.compile(
    rf"\b(?:and|or|also|plus|then)\s+(?:(?:in|from|by|until|till|for|at|on|to|with|under)\s+)?{_WH}\b",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+\S")
_ANALYTICAL = re.compile(
    r"\b(?:why|explain\w*|compar\w*|contrast\w*|differ\w*|versus|vs\.?|beyond|instead of|rather than"
    r"|summari[sz]\w*|summary|overview|list (?:all|every|each)|pros and cons|advantages?|disadvantages?"
    r"|trade-?offs?|implications?|impact|evaluat\w*|assess\w*|analy[sz]\w*|recommend\w*"
    r"|should (?:i|we)|what if)\b",
    re.IGNORECASE,
)
_HOW_DOES = re.compile(
    r"\bhow (?:does|do|did|would|will) (?:\S+ ){0,5}?(?:work|affect|relate|interact|change|compare)\b", re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"^\W*(?:if|suppose|supposing|assuming|given that|in case)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Features:
    question: str
    retrieval_confidence: float = 0.0
    passages: int = 0
    json_schema: bool = False
    requested_model: str | None = None
    #: Distinct documents among the top passages close to the best score (see module docstring).
    sources: int = 0


@dataclass(frozen=True)
class Route:
    model: str
    reason: str
    #: Cascade: the model to try when grounding rejects ``model``'s answer (None: no cascade).
    escalate_to: str | None = None
    details: dict = field(default_factory=dict)


def classify(question: str) -> tuple[str, list[str]]:
    """(question type, the cues that decided it). Multi-part wins over analytical."""
    q = " ".join(question.split())
    cues: list[str] = []
    if question.count("?") >= 2:
        cues.append("several question marks")
    if ";" in question:
        cues.append("semicolon")
    if len(_LIST_ITEM.findall(question)) >= 2:
        cues.append("list items")
    cues += [m.group(0).lower() for m in _MULTI_JOIN.finditer(q)]
    if cues:
        return "multi_part", cues
    cues = [m.group(0).lower() for m in _ANALYTICAL.finditer(q)]
    cues += [m.group(0).lower() for m in _HOW_DOES.finditer(q)]
    if _HYPOTHETICAL.search(q):
        cues.append("hypothetical")
    if cues:
        return "analytical", cues
    return "lookup", []


def count_sources(passages: Sequence[Any], *, margin: float, top: int) -> int:
    """Distinct documents among the first ``top`` passages whose dense cosine is within ``margin``
    of the best one (0 without passages)."""
    head = list(passages)[: max(top, 1)]
    if not head:
        return 0
    dense = [(p.scores.get("dense", 0.0), p.document_id) for p in head]
    best = max(d for d, _ in dense)
    return len({doc for d, doc in dense if d >= best - margin})


def features(settings: GenerateSettings, question: str, passages: Sequence[Any], *, confidence: float,
             json_schema: bool = False, requested_model: str | None = None) -> Features:
    """The router's features for one request (no model call)."""
    return Features(
        question=question, retrieval_confidence=confidence, passages=len(passages), json_schema=json_schema,
        requested_model=requested_model,
        sources=count_sources(passages, margin=settings.router.sources_margin, top=settings.max_passages),
    )


def supports_json_schema(cfg: ModelConfig) -> bool:
    return cfg.json_schema or "json_schema" in cfg.capabilities


def _matches(when: RouteWhen, v: dict[str, Any]) -> dict[str, Any] | None:
    """The conditions of ``when`` that are set, with the values that satisfied them; None when one
    fails. Bounds: ``min_*`` inclusive, ``max_confidence`` exclusive, ``max_sources``/``max_words``
    inclusive."""
    hit: dict[str, Any] = {}
    checks = [
        ("question_type", when.question_type, lambda x: v["question_type"] in x),
        ("min_confidence", when.min_confidence, lambda x: v["confidence"] >= x),
        ("max_confidence", when.max_confidence, lambda x: v["confidence"] < x),
        ("min_sources", when.min_sources, lambda x: v["sources"] >= x),
        ("max_sources", when.max_sources, lambda x: v["sources"] <= x),
        ("min_words", when.min_words, lambda x: v["words"] >= x),
        ("max_words", when.max_words, lambda x: v["words"] <= x),
        ("json_schema", when.json_schema, lambda x: v["json_schema"] == x),
        ("cascade", when.cascade, lambda x: v["cascade_enabled"] == x),
    ]
    for name, cond, ok in checks:
        if cond is None:
            continue
        if not ok(cond):
            return None
        hit[name] = cond
    return hit


def _resolve(alias: str, cheap: str, strong: str) -> str:
    return {"cheap": cheap, "strong": strong}.get(alias, alias)


def choose(settings: GenerateSettings, f: Features) -> Route:
    if f.requested_model:
        return Route(f.requested_model, "requested")
    r = settings.router
    if not r.enabled or not r.cheap or not r.strong:
        return Route(settings.default_model, "default")
    qtype, cues = classify(f.question)
    values = {"question_type": qtype, "confidence": round(f.retrieval_confidence, 4), "sources": f.sources,
              "words": len(f.question.split()), "json_schema": f.json_schema}
    details: dict[str, Any] = {**values, "cues": cues, "passages": f.passages}
    values["cascade_enabled"] = r.cascade
    model, reason, cascade = r.cheap, "fallback", r.cascade
    for i, rule in enumerate(r.rules):
        hit = _matches(rule.when, values)
        if hit is not None:
            model = _resolve(rule.model, r.cheap, r.strong)
            reason = f"rule:{rule.name or i}"
            cascade = r.cascade and (rule.cascade if rule.cascade is not None else True)
            details["matched"] = hit
            break
    if f.json_schema:
        model, note = _json_capable(settings, model, r)
        if note:
            details["json_schema_note"] = note
    escalate_to = r.strong if cascade and model != r.strong else None
    if escalate_to and f.json_schema and not _capable(settings, escalate_to):
        escalate_to = None
    details["cascade"] = escalate_to is not None
    return Route(model, reason, escalate_to=escalate_to, details=details)


def _capable(settings: GenerateSettings, name: str) -> bool:
    cfg = settings.models.get(name)
    return cfg is not None and supports_json_schema(cfg)


def _json_capable(settings: GenerateSettings, model: str, r: Any) -> tuple[str, str]:
    """A model that can answer with a JSON schema, starting from ``model``; and a note when the
    choice changed (or no configured model declares the capability)."""
    if _capable(settings, model):
        return model, ""
    rule_models = [_resolve(rule.model, r.cheap, r.strong) for rule in r.rules]
    for alt in dict.fromkeys([r.strong, r.cheap, *rule_models]):
        if _capable(settings, alt):
            return alt, f"{model} lacks json_schema; {alt} instead"
    return model, f"no routed model declares json_schema; kept {model}"


__all__ = ["Features", "Route", "RouteRule", "RouteWhen", "QUESTION_TYPES", "choose", "classify",
           "count_sources", "features", "supports_json_schema"]
