"""The regression gate: compare a run's figures with a baseline run, direction aware.

A metric regresses when it moves the wrong way by more than its tolerance: down for metrics
where higher is better, up for latency, hallucination, compliance failures and cost (see
``answers.HIGHER_IS_BETTER``). Tolerances are absolute (``0.02``) or relative to the baseline
(``"50%"``). Latency defaults to a generous relative tolerance because CI machines differ;
compliance failures default to zero tolerance. ``--fail-under metric=value`` adds hard floors
(ceilings for lower-is-better metrics).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tether.errors import InvalidInput
from tether.evaluate.answers import HIGHER_IS_BETTER

DEFAULT_TOLERANCE = 0.02
DEFAULT_TOLERANCES: dict[str, float | str] = {
    "latency_p50_ms": "100%", "latency_p95_ms": "100%", "compliance_failures": 0.0, "cost_per_case": "10%",
}


@dataclass
class Finding:
    metric: str
    current: float | None
    baseline: float | None
    limit: float | None
    kind: str  # regression | fail_under | improved | ok | missing
    higher_is_better: bool

    def to_dict(self) -> dict:
        return asdict(self)


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    out = {}
    for p in pairs:
        name, sep, value = p.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInput(f"{what} {p!r}: expected METRIC=VALUE")
        if name.strip() not in HIGHER_IS_BETTER:
            raise InvalidInput(f"{what} {p!r}: unknown metric; known: {', '.join(HIGHER_IS_BETTER)}")
        out[name.strip()] = value.strip()
    return out


def _allowed(baseline: float, tol: float | str) -> float:
    if isinstance(tol, str) and tol.endswith("%"):
        return abs(baseline) * float(tol[:-1]) / 100
    return float(tol)


def compare(current: dict, baseline: dict | None, *, tolerances: dict[str, float | str] | None = None,
            fail_under: dict[str, str] | None = None) -> list[Finding]:
    tols = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    findings: list[Finding] = []
    for metric, hib in HIGHER_IS_BETTER.items():
        cur = current.get(metric)
        if baseline is not None and metric in baseline:
            base = baseline.get(metric)
            if cur is None or base is None:
                # undefined on one side (e.g. no abstentions at all): reported, never failing
                kind = "ok" if cur is None and base is None else "missing"
                findings.append(Finding(metric, cur, base, None, kind, hib))
            else:
                slack = _allowed(base, tols.get(metric, DEFAULT_TOLERANCE))
                limit = base - slack if hib else base + slack
                worse = cur < limit - 1e-9 if hib else cur > limit + 1e-9
                better = cur > base + 1e-9 if hib else cur < base - 1e-9
                kind = "regression" if worse else "improved" if better else "ok"
                findings.append(Finding(metric, cur, base, limit, kind, hib))
        if fail_under and metric in fail_under:
            bound = float(fail_under[metric])
            bad = cur is None or (cur < bound if hib else cur > bound)
            findings.append(Finding(metric, cur, None, bound, "fail_under" if bad else "ok", hib))
    return findings


def failed(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind in ("regression", "fail_under")]
