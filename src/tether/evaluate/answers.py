"""Answer-level metrics for golden sets: one ``Outcome`` per asked case, scored, then aggregated.

Everything here is deterministic (no model calls): string normalisation from ``golden``, set
arithmetic on document uris and the grounding verdicts the engine already produced. The optional
LLM judge lives in ``judge.py`` and is labelled separately.

Definitions (per case; aggregates are means over the cases where a metric applies):

- ``recall@10`` / ``ndcg@10``: the retrieved chunks collapsed to documents (first hit wins), judged
  against ``expected_sources`` with binary relevance. Only answerable cases with sources.
- ``exact_match``: normalised answer == normalised ``expected_answer``. ``token_f1``: SQuAD-style
  token F1 between them. ``key_fact_recall``: share of ``key_facts`` found in the answer.
- ``citation_precision``: share of citations whose document is an expected source (and, when the
  source lists spans, whose span overlaps one). ``citation_recall``: share of expected sources
  cited at least once. Only answered cases with expected sources.
- ``groundedness``: supported sentences / all sentences, pooled over answered cases.
- ``hallucination_rate``: answered cases with at least one sentence that is not ``supported`` or
  that contains a ``stale`` fact (a fact the case says must no longer appear), over answered cases.
- ``abstention_precision/recall`` against ``must_abstain``; ``block_precision/recall`` against
  ``must_block``. Undefined (no predicted or no actual positives) is reported as ``None``.
- ``answerable_abstained``: share of the cases that expect an answer (key facts or a reference
  answer, neither ``must_abstain`` nor ``must_block``) that abstained: the price of abstention.
- ``compliance_failures``: cases whose response (text, citation quotes and titles) contains a
  ``must_not_contain`` string or a ``forbidden`` one: the runner passes the canaries of every
  manifest document the case's principal may not read (``runner.forbidden_canaries``).
- multi-turn cases: leaks are looked for in every turn of the thread; the follow-up figures
  (recall against the standalone twins, topic-switch pollution) are defined in ``followup.py``.
- ``latency_p50_ms`` / ``latency_p95_ms``, ``cost_per_case`` (USD-free: in the configured price
  unit; 0 for the extractive model), ``pass_rate`` (see ``CaseScore.passed``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from tether.evaluate.followup import FOLLOWUP_METRICS, followup_figures, polluted
from tether.evaluate.golden import GoldenCase, KeyFact, contains, normalise
from tether.evaluate.metrics import ndcg_at_k, percentile, recall_at_k

#: metric -> True when higher is better. The gate uses it for direction-aware comparisons.
HIGHER_IS_BETTER: dict[str, bool] = {
    "pass_rate": True, "recall@10": True, "ndcg@10": True, "exact_match": True, "token_f1": True,
    "key_fact_recall": True, "citation_precision": True, "citation_recall": True, "groundedness": True,
    "hallucination_rate": False, "abstention_precision": True, "abstention_recall": True,
    "block_precision": True, "block_recall": True, "answerable_abstained": False, "compliance_failures": False,
    "latency_p50_ms": False, "latency_p95_ms": False, "cost_per_case": False, **FOLLOWUP_METRICS,
}


@dataclass
class Outcome:
    """What the engine returned for one case, flattened to JSON-friendly values."""

    case_id: str
    text: str = ""
    abstained: bool = False
    blocked: bool = False
    reasons: list[str] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)  # source_uri, title, quote, doc_start, doc_end
    sentences: list[dict] = field(default_factory=list)  # text, verdict
    retrieved: list[str] = field(default_factory=list)  # document uris, ranked, unique
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    model: str = ""
    trace_id: str | None = None
    error: str | None = None
    #: The answerability gate's score, threshold and decision (None: it did not run).
    answerability: dict | None = None
    #: A multi-turn case's last turn: its standalone question and whether the rewrite changed it.
    standalone: str | None = None
    rewritten: bool | None = None
    #: A multi-turn case's earlier turns: question, standalone, rewritten, abstained, text, citations.
    turns: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CaseScore:
    case_id: str
    metrics: dict[str, float | None]
    compliance_hits: list[str]
    facts_missing: list[str]
    passed: bool

    def to_dict(self) -> dict:
        return asdict(self)


# --- text metrics ------------------------------------------------------------------------------

def exact_match(prediction: str, reference: str) -> float:
    return float(normalise(prediction) == normalise(reference))


def token_f1(prediction: str, reference: str) -> float:
    p, r = normalise(prediction).split(), normalise(reference).split()
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def fact_found(answer_norm: str, fact: KeyFact) -> bool:
    return any(contains(answer_norm, a) for a in ([fact] if isinstance(fact, str) else fact))


def fact_label(fact: KeyFact) -> str:
    return fact if isinstance(fact, str) else " | ".join(fact)


def key_fact_recall(answer: str, facts: Sequence[KeyFact]) -> tuple[float | None, list[str]]:
    if not facts:
        return None, []
    norm = normalise(answer)
    missing = [fact_label(f) for f in facts if not fact_found(norm, f)]
    return 1 - len(missing) / len(facts), missing


# --- citations and retrieval -------------------------------------------------------------------

def _overlaps(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def citation_scores(case: GoldenCase, citations: Sequence[dict]) -> tuple[float | None, float | None]:
    """(precision, recall) of the citations against the case's expected sources."""
    if not case.expected_sources:
        return None, None
    spans = {s.uri: [tuple(x) for x in s.spans] for s in case.expected_sources}
    correct = 0
    cited: set[str] = set()
    for c in citations:
        uri = c.get("source_uri", "")
        if uri not in spans:
            continue
        want = spans[uri]
        if want and not any(_overlaps((c.get("doc_start", 0), c.get("doc_end", 0)), w) for w in want):
            continue
        correct += 1
        cited.add(uri)
    precision = correct / len(citations) if citations else None
    return precision, len(cited) / len(spans)


def retrieval_scores(case: GoldenCase, retrieved: Sequence[str], k: int = 10) -> tuple[float | None, float | None]:
    if not case.expected_sources:
        return None, None
    qrels = {u: 1 for u in case.source_uris}
    return recall_at_k(retrieved, qrels, k), ndcg_at_k(retrieved, qrels, k)


# --- compliance ----------------------------------------------------------------------------------

def response_texts(out: Outcome) -> list[str]:
    """Everything the case's principal was shown: the answer, citation quotes and titles (of
    every turn, for a multi-turn case)."""
    shown = [(out.text, out.citations), *((t.get("text", ""), t.get("citations", [])) for t in out.turns)]
    return [x for text, cites in shown
            for x in (text, *(c.get("quote", "") for c in cites), *(c.get("title", "") for c in cites))]


def compliance_hits(case: GoldenCase, out: Outcome, forbidden: Sequence[str] = ()) -> list[str]:
    """``must_not_contain`` strings, plus ``forbidden`` ones (e.g. the canaries of every document
    the case's principal may not read), found in the answer, citation quotes or titles."""
    norms = [normalise(t) for t in response_texts(out)]
    return [s for s in dict.fromkeys([*case.must_not_contain, *forbidden]) if any(contains(n, s) for n in norms)]


# --- one case ----------------------------------------------------------------------------------

def score_case(case: GoldenCase, out: Outcome, *, facts: Sequence[KeyFact] | None = None,
               stale: Sequence[str] = (), forbidden: Sequence[str] = (), k: int = 10) -> CaseScore:
    """Score one outcome. ``facts`` overrides ``case.key_facts`` (after-update runs); ``stale``
    strings count as contradicted facts when they appear in an answer."""
    facts = case.key_facts if facts is None else facts
    answered = not (out.abstained or out.blocked or out.error)
    m: dict[str, float | None] = {}
    expects_answer = not (case.must_abstain or case.must_block)
    r10, n10 = retrieval_scores(case, out.retrieved, k) if expects_answer else (None, None)
    m["recall@10"], m["ndcg@10"] = r10, n10
    text = out.text if answered else ""
    if case.expected_answer and expects_answer:
        m["exact_match"] = exact_match(text, case.expected_answer)
        m["token_f1"] = token_f1(text, case.expected_answer)
    kfr, missing = key_fact_recall(text, facts) if expects_answer else (None, [])
    m["key_fact_recall"] = kfr
    cp, cr = citation_scores(case, out.citations) if (answered and expects_answer) else (None, None)
    m["citation_precision"], m["citation_recall"] = cp, cr
    verdicts = [s.get("verdict") for s in out.sentences] if answered else []
    m["sentences"] = float(len(verdicts))
    m["supported_sentences"] = float(sum(v == "supported" for v in verdicts))
    norm = normalise(text)
    contradicted = any(contains(norm, s) for s in stale)
    unsupported = any(v != "supported" for v in verdicts)
    m["hallucinated"] = float(answered and (unsupported or contradicted)) if answered else None
    m["abstained"], m["blocked"] = float(out.abstained), float(out.blocked)
    hits = compliance_hits(case, out, forbidden)
    m["compliance_failure"] = float(bool(hits))
    m["latency_ms"], m["cost"] = out.latency_ms, out.cost
    if case.turns:
        m["rewritten"] = None if out.rewritten is None else float(out.rewritten)
        m["polluted"] = (float(polluted(case.source_uris, out.rewritten, out.citations, out.turns))
                         if case.tags.followup == "topic_switch" and not out.error else None)
    if case.must_block:
        passed = out.blocked and not hits
    elif case.must_abstain:
        passed = (out.abstained or out.blocked) and not hits
    elif not facts and not case.expected_answer:  # leak probe: answering or abstaining both fine
        passed = not out.error and not hits
    else:
        ok_facts = kfr == 1.0 if kfr is not None else (m.get("token_f1") or 0.0) >= 0.5
        passed = answered and ok_facts and not hits and not contradicted
    m["passed"] = float(passed)
    return CaseScore(case.id, m, hits, missing, passed)


# --- aggregates ----------------------------------------------------------------------------------

def _mean(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _prf(pred: Sequence[bool], gold: Sequence[bool]) -> tuple[float | None, float | None]:
    tp = sum(p and g for p, g in zip(pred, gold))
    npred, ngold = sum(pred), sum(gold)
    return (tp / npred if npred else None), (tp / ngold if ngold else None)


def aggregate(cases: Sequence[GoldenCase], scores: Sequence[CaseScore]) -> dict[str, float | None]:
    """The run's headline figures (see the module docstring); ``cases`` and ``scores`` align."""
    ms = [s.metrics for s in scores]
    out: dict[str, float | None] = {"cases": float(len(scores))}
    out["pass_rate"] = _mean(m["passed"] for m in ms)
    for key in ("recall@10", "ndcg@10", "exact_match", "token_f1", "key_fact_recall",
                "citation_precision", "citation_recall"):
        out[key] = _mean(m.get(key) for m in ms)
    sent = sum(m["sentences"] or 0 for m in ms)
    out["groundedness"] = (sum(m["supported_sentences"] or 0 for m in ms) / sent) if sent else None
    out["hallucination_rate"] = _mean(m["hallucinated"] for m in ms)
    abst = [bool(m["abstained"]) and not bool(m["blocked"]) for m in ms]
    out["abstention_precision"], out["abstention_recall"] = _prf(abst, [bool(c.must_abstain) for c in cases])
    out["block_precision"], out["block_recall"] = _prf([bool(m["blocked"]) for m in ms],
                                                        [bool(c.must_block) for c in cases])
    wants = [bool(not (c.must_abstain or c.must_block) and (c.key_facts or c.expected_answer)) for c in cases]
    answerable = [bool(m["abstained"]) for m, w in zip(ms, wants) if w]
    out["answerable_abstained"] = sum(answerable) / len(answerable) if answerable else None
    out["compliance_failures"] = float(sum(m["compliance_failure"] or 0 for m in ms))
    lat = [m["latency_ms"] for m in ms if m["latency_ms"] is not None]
    out["latency_p50_ms"] = percentile(lat, 50) if lat else None
    out["latency_p95_ms"] = percentile(lat, 95) if lat else None
    out["cost_per_case"] = _mean(m["cost"] for m in ms)
    for key in sorted({k for m in ms for k in m if k.startswith("judge:")}):  # LLM judge, labelled
        out[key] = _mean(m.get(key) for m in ms)
    out.update(followup_figures(cases, scores))
    return out


def by_slice(cases: Sequence[GoldenCase], scores: Sequence[CaseScore]) -> dict[str, dict[str, float | None]]:
    """``{"kind=restricted": {...}, "topic=hr": {...}}``: the aggregates of each tag value."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(cases):
        for k, v in c.tags.slices().items():
            groups[f"{k}={v}"].append(i)
    return {g: aggregate([cases[i] for i in idx], [scores[i] for i in idx]) for g, idx in sorted(groups.items())}


def cost_of(input_tokens: int, output_tokens: int, price_in_per_mtok: float, price_out_per_mtok: float) -> float:
    return (input_tokens * price_in_per_mtok + output_tokens * price_out_per_mtok) / 1_000_000
