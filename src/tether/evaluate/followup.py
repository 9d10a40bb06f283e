"""Multi-turn figures of a golden run: does a follow-up, asked inside a conversation, get the
answer the same question gets when asked on its own, and does a topic switch stay clean?

Why its own module: these figures pair cases (a follow-up with its ``standalone`` twin) and read
what the rewrite did, which the per-case metrics of ``answers.py`` cannot see. Definitions:

- ``followup_key_fact_recall`` / ``standalone_key_fact_recall``: mean key-fact recall of the
  multi-turn cases that have a twin in the run, and of those twins (the same pairs, so the two
  means are over the same questions). ``followup_recall_gap`` is standalone minus follow-up (the
  bar: at most 0.05). ``followup_pass_rate`` / ``standalone_pass_rate``: the same pairs' pass
  rates (these include the follow-ups that must abstain).
- ``topic_switch_pollution``: the share of ``followup: topic_switch`` cases whose last turn was
  polluted by the earlier topic: the rewrite carried earlier terms into the new question, or the
  answer cites a document an earlier turn cited that is not among the case's expected sources.
- ``followup_rewrite_rate``: the share of ellipsis and pronoun follow-ups the rewriter changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The figures this module adds, and whether higher is better (the gate's direction).
FOLLOWUP_METRICS: dict[str, bool] = {
    "followup_key_fact_recall": True, "standalone_key_fact_recall": True, "followup_pass_rate": True,
    "standalone_pass_rate": True, "topic_switch_pollution": False,
}


def polluted(expected_uris: Sequence[str], rewritten: bool | None, citations: Sequence[dict],
             earlier_turns: Sequence[dict]) -> bool:
    """Whether a topic switch's last turn took anything from the earlier topic (see above)."""
    earlier = {c.get("source_uri") for t in earlier_turns for c in t.get("citations", [])}
    foreign = earlier - set(expected_uris)
    return bool(rewritten) or any(c.get("source_uri") in foreign for c in citations)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def followup_figures(cases: Sequence[Any], scores: Sequence[Any]) -> dict[str, float | None]:
    """The figures above for aligned ``cases`` (``GoldenCase``) and ``scores`` (``CaseScore``);
    empty when the run has no multi-turn case."""
    if not any(c.turns for c in cases):
        return {}
    by_id = {c.id: i for i, c in enumerate(cases)}
    fu_kfr: list[float] = []
    sa_kfr: list[float] = []
    fu_pass: list[float] = []
    sa_pass: list[float] = []
    for i, c in enumerate(cases):
        j = by_id.get(c.standalone or "")
        if not c.turns or j is None:
            continue
        fu, sa = scores[i].metrics, scores[j].metrics
        fu_pass.append(float(scores[i].passed))
        sa_pass.append(float(scores[j].passed))
        if fu.get("key_fact_recall") is not None and sa.get("key_fact_recall") is not None:
            fu_kfr.append(float(fu["key_fact_recall"]))
            sa_kfr.append(float(sa["key_fact_recall"]))
    out: dict[str, float | None] = {"followup_cases": float(sum(bool(c.turns) for c in cases)),
                                    "followup_pairs": float(len(fu_pass))}
    fk, sk = _mean(fu_kfr), _mean(sa_kfr)
    out["followup_key_fact_recall"], out["standalone_key_fact_recall"] = fk, sk
    out["followup_recall_gap"] = sk - fk if fk is not None and sk is not None else None
    out["followup_pass_rate"], out["standalone_pass_rate"] = _mean(fu_pass), _mean(sa_pass)
    switch = [s.metrics.get("polluted") for s in scores]
    out["topic_switch_pollution"] = _mean([float(x) for x in switch if x is not None])
    rewritten = [s.metrics.get("rewritten") for c, s in zip(cases, scores)
                 if c.turns and c.tags.followup in ("ellipsis", "pronoun")]
    out["followup_rewrite_rate"] = _mean([float(x) for x in rewritten if x is not None])
    return out
