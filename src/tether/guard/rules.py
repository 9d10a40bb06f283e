"""Hand-written prompt-injection heuristics (English, German, some Spanish and French).

Why: the jailguard classifier is strong on phrasing it was trained on but blind to structural
attacks (a ``</source>`` that closes our prompt delimiters, a base64-wrapped instruction) and to
some languages. These rules are cheap, explainable (each hit has a name and a span, so
:func:`tether.guard.injection.neutralise` can defang exactly that span) and need no model.
They match the folded text (:mod:`tether.guard.normalise`: NFKC, invisible characters dropped,
Cyrillic/Greek lookalikes folded); each hit's span is mapped back to the original text.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from tether.guard.normalise import fold, original_span

STRONG = 0.95  # an unmistakable instruction override
MEDIUM = 0.75  # usually an attack, sometimes legitimate (role-play requests)
WEAK = 0.4  # suspicious structure only; below the default threshold on its own

_F = re.IGNORECASE | re.UNICODE

# Building blocks, so the rules below read like the attacks they catch.
_ALL = r"(?:all(?:\s+of)?\s+(?:the\s+)?|any\s+|the\s+|your\s+|my\s+|these\s+|those\s+)?"
_PREV = r"(?:previous|prior|preceding|above|earlier|former|foregoing|initial|original|old)"
_INSTR = r"(?:instructions?|prompts?|directions?|commands?|rules?|guidelines?|tasks?|assignments?|information|context|messages?|text|orders?)"
_DE_PREV = r"(?:vorherigen?|vorigen?|bisherigen?|obigen?|früheren?|vorangegangenen?|alten?|ursprünglichen?)"
_DE_INSTR = r"(?:anweisungen|anweisung|befehle|instruktionen|aufgaben|aufträge|informationen|ausführungen|regeln|vorgaben)"

_RULES: list[tuple[str, str, float]] = [
    # --- instruction override, English
    ("ignore_previous", rf"\b(?:ignore|disregard|forget|skip|drop|override|bypass|abandon|discard|leave\s+behind)\s+{_ALL}(?:of\s+)?{_PREV}\s+{_INSTR}", STRONG),
    ("ignore_all_instructions", rf"\b(?:ignore|disregard|forget)\s+(?:all|any|every|your)\s+(?:of\s+(?:the|your)\s+)?{_INSTR}", STRONG),
    ("forget_everything", r"\b(?:forget|ignore|disregard)\s+(?:about\s+)?(?:everything|all|anything)(?:\s+(?:(?:that\s+)?(?:i|you|we)\s+(?:said|told\s+you|wrote|know)|before|above|so\s+far|previously|until\s+now))", STRONG),
    ("disregard_system_prompt", r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:the\s+|your\s+)?(?:system|developer|hidden|initial)\s+(?:prompt|message|instructions?)", STRONG),
    ("ignore_context", r"\b(?:ignore|disregard|do\s+not\s+(?:look\s+(?:at|in)|use|read))\s+(?:all\s+)?(?:the\s+)?(?:provided\s+)?(?:context|documents?|articles?|sources?)(?:\s+provided)?", MEDIUM),
    ("new_task", r"\b(?:now\s+)?(?:new\s+tasks?\s+follow|(?:focus|concentrate)\s+(?:only\s+)?on\s+(?:your|this|the)\s+new\s+task|we\s+will\s+start\s+over|(?:that\s+is|that's)\s+enough\.?\s+now)", STRONG),
    ("stop_override", r"(?:^|[.!?]\s*)(?:stop|attention)\s*[:,!-]+\s*(?:ignore|forget|now|i\s+urgently|write|say)", MEDIUM),
    # --- identity / role-play jailbreaks
    ("you_are_now", r"\byou\s+are\s+(?:now\s+(?:a|an|the|my|in|called|named|dan|free|unrestricted|unfiltered|evil|no\s+longer)|no\s+longer|from\s+now\s+on)\b|\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must)\b|\bnow\s+you\s+are\b", MEDIUM),
    ("act_as", r"\b(?:i\s+want\s+you\s+to|you\s+will|you\s+must)\s+(?:act|behave|respond|answer)\s+(?:as|like)\b|\bpretend\s+(?:to\s+be|you\s+are)\b|\brole[- ]?play(?:ing)?\s+as\b", MEDIUM),
    ("stay_in_role", r"\b(?:stay|remain)s?\s+in\s+(?:their|your|his|her|the)\s+(?:role|character)s?\b|\bwithout\s+(?:ever\s+)?(?:even\s+)?(?:falling|breaking)\s+out\s+of\b", MEDIUM),
    ("jailbreak_persona", r"\b(?:dan\s+mode|do\s+anything\s+now|developer\s+mode|jailbreak|jailbroken|unfiltered\s+(?:ai|mode|assistant)|no\s+(?:ethical|moral)\s+(?:guidelines|restrictions))\b", STRONG),
    # --- exfiltration of the prompt / hidden data
    ("reveal_prompt", r"\b(?:reveal|show|print|display|output|repeat|tell\s+me|give\s+me|leak|write\s+out|spell\s+out)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:your|the)\s+(?:(?:full|complete|entire|original|initial|hidden|secret|system)\s+)*(?:system\s+)?(?:prompt|instructions|prompt[- ]texts?|rules|configuration)", STRONG),
    ("print_hidden", r"\b(?:print|show|reveal|output|display|dump|list)\s+(?:all\s+)?(?:the\s+)?(?:hidden|restricted|confidential|secret|internal|private)\s+\w+", STRONG),
    ("system_prompt_mention", r"\bsystem\s+prompt\b", WEAK),
    # --- delimiter breaking and fake roles
    ("delimiter_break", r"</\s*(?:source|sources|document|documents|context|system|instructions?|user|assistant|data|passage|chunk)\s*>|<\|(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\|>|\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>", STRONG),
    ("fake_role", r"(?:^|\n)\s*(?:###\s*)?(?:system|assistant|developer)\s*:\s*\S", MEDIUM),
    # --- German
    ("de_ignore_previous", rf"\b(?:ignorier(?:e|en)?|vergiss|vergessen|missachte(?:n)?|überspring(?:e|en)?)\s+(?:sie\s+)?(?:alle\s+|die\s+|deine\s+|ihre\s+|sämtliche\s+)?(?:{_DE_PREV}\s+)?{_DE_INSTR}", STRONG),
    ("de_ignore_above", rf"\b(?:die\s+|alle\s+)?{_DE_PREV}\s+{_DE_INSTR}\s+(?:ignorieren|vergessen|missachten|hinter\s+sich\s+lassen)", STRONG),
    ("de_forget_everything", r"\b(?:vergiss|vergessen\s+sie|ignoriere|ignorieren\s+sie)\s+(?:jetzt\s+)?(?:alles|alle)\b(?:\s+(?:davor|vorher|bisherige|was|zuvor))?", STRONG),
    ("de_new_task", r"\b(?:nun|jetzt)\s+(?:folgen|kommt)\s+(?:weitere|eine\s+neue)\s+aufgaben?|\bkonzentriere\s+dich\s+(?:jetzt\s+)?(?:nur\s+)?auf\s+(?:deine|diese)\s+(?:neue\s+)?aufgabe", STRONG),
    ("de_reveal_prompt", r"\b(?:zeige?|gib|nenne|verrate|drucke)\s+(?:mir\s+)?(?:alle\s+)?(?:deine[n]?|ihre[n]?|den|die)\s+(?:system-?)?(?:prompt(?:-?texte?)?|anweisungen|instruktionen)", STRONG),
    ("de_you_are_now", r"\bdu\s+bist\s+(?:jetzt|nun|ab\s+sofort)\b|\bab\s+(?:jetzt|sofort)\s+bist\s+du\b|\btu\s+so,?\s+als\s+(?:ob|wärst)\b|\bverhalte\s+dich\s+wie\b", MEDIUM),
    ("de_act_as", r"\bich\s+möchte,?\s+dass\s+(?:sie|du)\s+als\s+.{1,60}?\s+(?:fungieren|agieren|auftreten|handeln)|\bin\s+ihren\s+rollen\s+bleiben|\bschauspieler(?:in)?\b.{0,200}\brolle", MEDIUM),
    # --- Spanish / French overrides
    ("es_fr_ignore", r"\b(?:olvid[ae]r?|ignor[ae]r?)\s+(?:todo|todas\s+las\s+instrucciones)|\b(?:oubliez|oublie|ignorez|ignore)\s+(?:toutes\s+les\s+instructions|tout\s+ce\s+qui)", STRONG),
]

_COMPILED = [(name, re.compile(rx, _F), score) for name, rx, score in _RULES]
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{32,}={0,2}(?![A-Za-z0-9+/=])")


@dataclass(frozen=True)
class RuleHit:
    """One heuristic match: ``text[start:end]`` triggered rule ``name``."""

    name: str
    start: int
    end: int
    score: float


def _decoded_base64(blob: str) -> str | None:
    """Decode a base64 blob when it is mostly printable text (an encoded instruction)."""
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=False)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    return text if text and printable / len(text) > 0.95 else None


def find_hits(text: str, _depth: int = 0) -> list[RuleHit]:
    """All heuristic hits in ``text``, in order of position (spans of ``text`` itself, though the
    rules run over its folded form)."""
    view, offsets = fold(text)
    if view == text:
        return _hits(text, _depth)
    return sorted((RuleHit(h.name, *original_span(offsets, len(text), h.start, h.end), h.score)
                   for h in _hits(view, _depth)), key=lambda h: (h.start, -h.end))


def _hits(text: str, _depth: int) -> list[RuleHit]:
    hits = [
        RuleHit(name, m.start(), m.end(), score)
        for name, rx, score in _COMPILED
        for m in rx.finditer(text)
    ]
    for m in _B64.finditer(text):
        decoded = _decoded_base64(m.group())
        if decoded is None:
            continue
        inner = find_hits(decoded, _depth + 1) if _depth < 2 else []
        score = STRONG if inner else WEAK
        hits.append(RuleHit("base64_instruction" if inner else "base64_text", m.start(), m.end(), score))
    return sorted(hits, key=lambda h: (h.start, -h.end))


def heuristic_score(hits: list[RuleHit]) -> float:
    """Score of a text from its hits: the strongest hit, nudged up when several agree."""
    if not hits:
        return 0.0
    best = max(h.score for h in hits)
    distinct = len({h.name for h in hits})
    return min(0.99, best + 0.05 * (distinct - 1))
