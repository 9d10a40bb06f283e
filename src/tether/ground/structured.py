"""Structured (JSON schema) answers, still tethered to sources.

The schema must give every claim its own citations, as objects with a ``citations`` array of
source numbers next to the claim's text (``text``, ``claim``, ``statement``, ``answer`` or
``value``), for example::

    {"type": "object", "required": ["claims"], "properties": {"claims": {"type": "array",
      "items": {"type": "object", "required": ["text", "citations"], "properties": {
        "text": {"type": "string"},
        "citations": {"type": "array", "items": {"type": "integer"}, "minItems": 1}}}}}}

Any object anywhere in the output that carries ``citations`` is a claim. The output is parsed
and validated with ``jsonschema``; on failure the model is asked ONCE more with the validation
error. Each claim is then grounded like a sentence: its cited ids must name given passages and
its text must be supported. Unsupported claims get one regeneration with feedback; those still
unsupported are removed from their list if the object stays valid, else the answer abstains.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import jsonschema

from tether.embed.base import Embedder
from tether.errors import InvalidInput
from tether.generate.base import GenerationRequest, Generator
from tether.ground.citations import ParsedSentence, cited_numbers, strip_markers
from tether.ground.policy import abstention, borderline, describe, distinct_citations, retrieval_too_weak, too_little
from tether.ground.verdict import Grounder
from tether.ground.verifier import Verifier
from tether.settings import GroundConfig
from tether.types import Answer, Passage, SentenceVerdict, Usage

CLAIM_SCHEMA_EXAMPLE: dict[str, Any] = {
    "type": "object",
    "required": ["claims"],
    "properties": {
        "claims": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["text", "citations"],
                "properties": {
                    "text": {"type": "string"},
                    "citations": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                },
            },
        }
    },
}
_TEXT_KEYS = ("text", "claim", "statement", "answer", "value")


def parse_json(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The parsed object and None, or None and a short validation error for the model."""
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)
    if fence:
        body = fence.group(1).strip()
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"the output is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    try:
        jsonschema.validate(obj, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return None, f"the JSON does not match the schema at {where}: {exc.message[:300]}"
    return obj, None


def find_claims(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str, tuple[int, ...]]]:
    """``(path, text, cited ids)`` for every object carrying a ``citations`` list."""
    out: list[tuple[tuple[Any, ...], str, tuple[int, ...]]] = []
    if isinstance(obj, dict):
        if isinstance(obj.get("citations"), list):
            text = next((obj[k] for k in _TEXT_KEYS if isinstance(obj.get(k), str)), None)
            if text is None:
                text = " ".join(v for k, v in obj.items() if isinstance(v, str))
            ids = tuple(int(c) for c in obj["citations"] if isinstance(c, (int, str)) and str(c).isdigit())
            out.append((path, text, tuple(dict.fromkeys(ids + cited_numbers(text)))))
        for k, v in obj.items():
            if k != "citations":
                out += find_claims(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += find_claims(v, path + (i,))
    return out


def _verdicts(obj: Any, grounder: Grounder) -> tuple[list[SentenceVerdict], list[tuple[Any, ...]]]:
    claims = find_claims(obj)
    parsed = [ParsedSentence(i, 0, len(t), t, strip_markers(t), ids) for i, (_, t, ids) in enumerate(claims)]
    return grounder.ground_sentences(parsed), [c[0] for c in claims]


def _remove(obj: Any, paths: list[tuple[Any, ...]]) -> Any:
    """A copy of ``obj`` without the list items at ``paths`` (deepest and last first)."""
    obj = json.loads(json.dumps(obj))
    for path in sorted(paths, key=lambda p: (len(p), p), reverse=True):
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, list):
            del parent[path[-1]]
        else:
            return None  # a claim that is not a list item cannot be dropped
    return obj


def answer_structured(
    question: str, passages: list[Passage], generator: Generator, embedder: Embedder,
    schema: dict[str, Any], cfg: GroundConfig, *, max_tokens: int = 512, verifier: Verifier | None = None,
) -> Answer:
    """A schema-valid, grounded JSON answer in ``Answer.data``, or an abstention."""
    if not generator.capabilities.json_schema:
        raise InvalidInput(f"generator {generator.name} does not support JSON schema output")
    weak = retrieval_too_weak(passages, cfg)
    if weak:
        return abstention(cfg, weak)
    grounder = Grounder(passages, embedder, cfg, None if generator.capabilities.extractive else verifier)
    req = GenerationRequest(question=question, passages=passages, json_schema=schema, max_tokens=max_tokens)
    usage, attempts, retried = Usage(), 0, False
    obj: Any = None
    verdicts: list[SentenceVerdict] = []
    paths: list[tuple[Any, ...]] = []
    feedback: str | None = None
    model = generator.name
    while True:
        gen = generator.generate(replace(req, feedback=feedback))
        usage, attempts, model = usage + gen.usage, attempts + 1, gen.model
        obj, error = parse_json(gen.text, schema)
        if error is None:
            verdicts, paths = _verdicts(obj, grounder)
            rejected = [v for v in verdicts if not v.supported]
            if not rejected and verdicts:
                break
            error = describe(rejected) if rejected else "no claim carries a citations list"
            if not verdicts and not find_claims(obj) and _empty_claims(obj):
                return abstention(cfg, "model_abstained", model=model, usage=usage, attempts=attempts)
        if retried or not cfg.regenerate:
            if obj is None:
                return abstention(cfg, "invalid_json", escalate=True, model=model, usage=usage, attempts=attempts)
            break
        retried, feedback = True, f"Your previous output was rejected: {error}\nReturn only a corrected JSON object."
    rejected_paths = [p for p, v in zip(paths, verdicts) if not v.supported]
    data = _remove(obj, rejected_paths) if rejected_paths else obj
    if data is not None and rejected_paths:
        try:
            jsonschema.validate(data, schema)
        except jsonschema.ValidationError:
            data = None
    if data is None or not verdicts or too_little(verdicts, cfg):
        return abstention(cfg, "unsupported_answer", escalate=True, model=model, usage=usage,
                          sentences=verdicts, attempts=attempts)
    return Answer(
        text=json.dumps(data, ensure_ascii=False),
        data=data,
        citations=distinct_citations(verdicts),
        sentences=verdicts,
        escalate=bool(rejected_paths) or borderline(verdicts, cfg),
        model=model,
        usage=usage,
        reasons=[f"dropped:{'/'.join(map(str, p))}" for p in rejected_paths],
        attempts=attempts,
    )


def _empty_claims(obj: Any) -> bool:
    """The model's way to abstain: every list in the object is empty."""
    lists = [v for v in (obj.values() if isinstance(obj, dict) else []) if isinstance(v, list)]
    return bool(lists) and all(not v for v in lists)
