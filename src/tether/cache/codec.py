"""Answers and passages to and from the JSON the answer cache stores (fields a newer or older
version does not know are ignored, so entries survive a field being added)."""

from __future__ import annotations

import dataclasses

from tether.types import Answer, Citation, Passage, SentenceVerdict, Usage


def _known(cls: type, d: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def _citation(d: dict) -> Citation:
    return Citation(**_known(Citation, d))


def answer_from_dict(d: dict) -> Answer:
    sentences = []
    for s in d.get("sentences") or []:
        s = _known(SentenceVerdict, s)
        sentences.append(SentenceVerdict(**{
            **s, "citations": tuple(_citation(c) for c in s.get("citations") or ()),
            "cited_numbers": tuple(s.get("cited_numbers") or ()),
            "invalid_numbers": tuple(s.get("invalid_numbers") or ()), "reasons": tuple(s.get("reasons") or ())}))
    a = _known(Answer, d)
    a.update(citations=[_citation(c) for c in d.get("citations") or []], sentences=sentences,
             usage=Usage(**_known(Usage, d.get("usage") or {})), reasons=list(d.get("reasons") or []))
    return Answer(**a)


def passage_from_dict(d: dict) -> Passage:
    p = _known(Passage, d)
    p["section_path"] = tuple(p.get("section_path") or ())
    p["scores"] = dict(p.get("scores") or {})
    return Passage(**p)


def passage_to_dict(p: Passage) -> dict:
    return dataclasses.asdict(p)
