"""Secret detection: every credential in a text, as :class:`~tether.guard.base.Entity` spans.

Why not Presidio: Presidio has no secret recognizers, and secrets are the one thing that must be
caught on every path, including hot ones where loading spaCy is too slow. Two rule sets run:
detect-secrets' maintained detectors (:mod:`tether.guard.secret_plugins`) and Tether's own
rules for the families it lacks (:mod:`tether.guard.secret_rules`). Each finding reports the
secret's exact span (a password's value, not its key name; a key's whole armoured block) and a
masked preview; checksummed ids (cards, IBANs) stay in :mod:`tether.guard.ids`.
"""

from __future__ import annotations

import re

from tether.guard.base import Entity
from tether.guard.secret_plugins import keyword_assignments, plugin_rules
from tether.guard.secret_rules import RULES, Rule, mask, shannon_entropy

__all__ = ["SECRET_TYPES", "find_secrets", "mask", "shannon_entropy"]

#: Every type a secret finding may have (the guards redact them all as ``[SECRET]``).
SECRET_TYPES = frozenset(
    {r.type for r in RULES}
    | {
        "DISCORD_TOKEN", "GITLAB_TOKEN", "PYPI_TOKEN", "SENDGRID_KEY", "MAILCHIMP_KEY", "TELEGRAM_TOKEN",
        "ARTIFACTORY_TOKEN", "IBM_CLOUD_KEY", "GENERIC_SECRET",
    }
)


def _span(rule: Rule, m: re.Match[str]) -> tuple[int, int] | None:
    group = rule.group
    if group is None:  # the first group that took part in the match
        group = next((i for i in range(1, m.re.groups + 1) if m.group(i)), 0)
    if m.group(group) is None:
        return None
    return m.span(group)


def _apply(rule: Rule, text: str, lower: str) -> list[Entity]:
    out: list[Entity] = []
    if rule.needles and not any(n in lower for n in rule.needles):
        return out
    for m in rule.pattern.finditer(text):
        span = _span(rule, m)
        if span is not None and rule.adjust is not None:
            span = rule.adjust(text, *span)
        if span is None or span[0] >= span[1]:
            continue
        value = text[span[0] : span[1]]
        if rule.validate is not None and not rule.validate(value):
            continue
        out.append(Entity(rule.type, span[0], span[1], rule.score, rule.detector, mask(value)))
    return out


def find_secrets(text: str) -> list[Entity]:
    """Every secret in ``text``, in text order; one entity per (type, span), the best-scored.

    Different types may still overlap (a JWT after ``Bearer``): the caller resolves those."""
    best: dict[tuple[str, int, int], Entity] = {}
    lower = text.lower()
    found = [e for rule in (*plugin_rules(), *RULES) for e in _apply(rule, text, lower)]
    for e in (*found, *keyword_assignments(text)):
        key = (e.type, e.start, e.end)
        if key not in best or e.score > best[key].score:
            best[key] = e
    return sorted(best.values(), key=lambda e: (e.start, e.end, e.type))
