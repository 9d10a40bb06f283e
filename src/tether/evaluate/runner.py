"""Run a golden set through the engine, case by case, as each case's principal.

``run_golden`` asks every case (``repeat`` times), scores it with ``answers`` and returns a
``RunResult`` whose ``to_dict()`` is the JSON written by ``tether eval run --out`` and read by
``tether eval report`` and the gate. ``setup_demo`` / ``apply_updates`` load the demo corpus (or any
manifest-described corpus) and its changed documents; both are idempotent.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tether.evaluate.answers import CaseScore, Outcome, aggregate, by_slice, cost_of, score_case
from tether.evaluate.curve import abstention_curve
from tether.evaluate.golden import GoldenCase, GoldenSet, fact_label_list, normalise

Progress = Callable[[int], None]


# --- corpus set-up -------------------------------------------------------------------------------

def _ingest(engine, requests) -> dict[str, int]:
    batch = engine.enqueue_requests(requests)
    engine.work(batch_id=batch.batch_id)
    summary: Counter[str] = Counter()
    for r in engine.batch_report(batch.batch_id):
        summary[r["result"]["status"] if r["status"] == "done" and r.get("result") else r["status"]] += 1
    return dict(summary)


def _manifest(m):
    from tether.ingest.manifest import Manifest

    return m if isinstance(m, Manifest) else Manifest.load(Path(m))


def setup_demo(engine, manifest_path) -> dict[str, int]:
    """Create the manifest's principals and ingest its documents (unchanged files are skipped).
    ``manifest_path`` is a manifest.json path or a loaded ``Manifest``."""
    manifest = _manifest(manifest_path)
    with engine.db.transaction() as conn:
        manifest.apply_principals(conn)
    manifest.apply_guard(engine.settings.guard)  # the organisation's own names are not personal data
    return _ingest(engine, manifest.requests())


def apply_updates(engine, manifest_path, updates_dir: Path) -> list[str]:
    """Re-ingest the manifest documents that have a changed file under ``updates_dir`` (same
    relative path, same ``demo://`` uri, same ACL). Returns the updated uris."""
    manifest = _manifest(manifest_path)
    reqs = [r for r in manifest.requests(root=updates_dir) if Path(r.path).is_file()]
    if reqs:
        _ingest(engine, reqs)
    return [r.source_uri or r.path for r in reqs]


def forbidden_canaries(manifest_path) -> dict[str, list[str]]:
    """user name -> canaries of the manifest documents that user may not read (ACL: public,
    ``group:NAME`` for the user's groups, ``user:NAME``). Roles grant no document access."""
    m = _manifest(manifest_path)
    out = {}
    for u in m.users:
        tokens = {"public", f"user:{u['name']}", *(f"group:{g}" for g in u.get("groups", []))}
        out[u["name"]] = [d["canary"] for d in m.documents
                          if d.get("canary") and not tokens & set(d.get("acl", []))]
    return out


# --- asking --------------------------------------------------------------------------------------

def ask_case(engine, case: GoldenCase, *, model: str | None = None, mode: str = "plain") -> Outcome:
    """One ``engine.ask`` as the case's principal, flattened to an ``Outcome`` (errors recorded).
    A multi-turn case is asked through a conversation: see :func:`ask_thread`. ``mode``:
    ``research`` asks in research mode (multi-turn cases stay plain conversation turns)."""
    if case.turns:
        return ask_thread(engine, case, model=model)
    out = Outcome(case.id)
    t0 = time.perf_counter()
    try:
        principal = engine.principal(case.principal)
        res = engine.ask(principal, case.question, model=model, **({"mode": mode} if mode != "plain" else {}))
    except Exception as exc:  # noqa: BLE001 - a failing case is a result, not a crash
        out.latency_ms = (time.perf_counter() - t0) * 1000
        out.error = f"{type(exc).__name__}: {exc}"
        return out
    out.latency_ms = (time.perf_counter() - t0) * 1000
    return _flatten(engine, out, res)


def ask_thread(engine, case: GoldenCase, *, model: str | None = None) -> Outcome:
    """A multi-turn case through the conversation path: a new thread as the case's principal,
    its ``turns`` asked in order, then ``question``; the last turn is the outcome (latency: that
    turn alone), the earlier ones are kept for the leak check. The thread is deleted afterwards."""
    out = Outcome(case.id)
    convs = engine.conversations
    principal, cid = None, None
    try:
        principal = engine.principal(case.principal)
        cid = convs.create(principal, f"eval {case.id}")["id"]
        for q in case.turns:
            _, res = convs.answer_turn(principal, cid, q, model=model)
            out.turns.append(_earlier_turn(q, res))
        t0 = time.perf_counter()
        _, res = convs.answer_turn(principal, cid, case.question, model=model)
        out.latency_ms = (time.perf_counter() - t0) * 1000
    except Exception as exc:  # noqa: BLE001 - a failing case is a result, not a crash
        out.error = f"{type(exc).__name__}: {exc}"
        return out
    finally:
        if cid is not None:
            convs.delete(principal, cid)
    rw = res.rewrite or {}
    out.standalone, out.rewritten = rw.get("standalone", case.question), bool(rw.get("rewritten"))
    return _flatten(engine, out, res)


def _earlier_turn(question: str, res) -> dict:
    rw, ans = res.rewrite or {}, res.answer
    return {"question": question, "standalone": rw.get("standalone", question), "rewritten": bool(rw.get("rewritten")),
            "abstained": bool(ans.abstained), "text": ans.text or "",
            "citations": [{"source_uri": c.source_uri, "title": c.title, "quote": c.quote} for c in ans.citations]}


def _flatten(engine, out: Outcome, res) -> Outcome:
    """``res`` (an ``AskResult``) into ``out``."""
    ans = res.answer
    out.text = ans.text or ""
    out.abstained = bool(ans.abstained)
    out.reasons = list(ans.reasons or [])
    out.blocked = bool(getattr(res, "blocked", False)) or any(str(r).startswith("blocked") for r in out.reasons)
    out.citations = [
        {"number": c.number, "document_id": c.document_id, "title": c.title, "source_uri": c.source_uri,
         "doc_start": c.doc_start, "doc_end": c.doc_end, "quote": c.quote}
        for c in ans.citations
    ]
    out.sentences = [{"text": s.text, "verdict": s.verdict, "score": round(float(s.score), 4)} for s in ans.sentences]
    ranked = [p.source_uri for p in (getattr(res.retrieval, "passages", None) or res.passages)]
    out.retrieved = list(dict.fromkeys(ranked))
    out.model = ans.model or res.model
    usage = ans.usage
    out.input_tokens, out.output_tokens = usage.input_tokens, usage.output_tokens
    traced = getattr(res, "cost_usd", None)  # every call of the request, each at its own model's price
    cfg = engine.settings.generate.models.get(res.model)
    if isinstance(traced, (int, float)) and (traced or cfg is None):
        out.cost = float(traced)  # a cascade's first (cheap) calls are not priced at the final model's rate
    elif cfg is not None:
        out.cost = cost_of(usage.input_tokens, usage.output_tokens, cfg.price_in_per_mtok, cfg.price_out_per_mtok)
    out.trace_id = getattr(res, "trace_id", None) or getattr(ans, "trace_id", None)
    out.answerability = getattr(res, "answerability", None)
    return out


# --- a whole run ---------------------------------------------------------------------------------

@dataclass
class Phase:
    """All repeats of every case, scored; ``scores`` are those of the first repeat."""

    outcomes: list[list[Outcome]]  # [repeat][case]
    scores: list[list[CaseScore]]

    @property
    def first(self) -> list[CaseScore]:
        return self.scores[0]


@dataclass
class RunResult:
    golden: GoldenSet
    source: str
    model: str
    run: Phase
    started_at: str
    duration_s: float
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    after_update: Phase | None = None
    updated_uris: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def metrics(self) -> dict:
        return aggregate(self.golden.cases, self.run.first)

    @property
    def slices(self) -> dict:
        return by_slice(self.golden.cases, self.run.first)

    def stability(self) -> dict | None:
        return stability(self.golden.cases, self.run) if len(self.run.outcomes) > 1 else None

    def after_update_report(self) -> dict | None:
        if self.after_update is None:
            return None
        cases = self.golden.cases
        before, after = self.run.outcomes[0], self.after_update.outcomes[0]
        changed = [c.id for c, b, a in zip(cases, before, after) if normalise(b.text) != normalise(a.text)]
        updated = []
        for c, s_before, s_after in zip(cases, self.run.first, self.after_update.first):
            if c.tags.kind == "updated" or c.after_update_expected:
                updated.append({"id": c.id, "passed_before": s_before.passed, "passed_after": s_after.passed,
                                "facts_missing": s_after.facts_missing,
                                "stale": s_after.metrics.get("hallucinated") == 1.0})
        return {"updated_uris": self.updated_uris, "changed": changed, "updated_cases": updated,
                "metrics": aggregate(cases, self.after_update.first),
                "slices": by_slice(cases, self.after_update.first)}

    def to_dict(self) -> dict:
        cases = []
        for i, c in enumerate(self.golden.cases):
            entry = {
                "id": c.id, "question": c.question, "as": c.principal, "tags": c.tags.slices(),
                "expected_answer": c.expected_answer, "key_facts": fact_label_list(c.key_facts),
                "expected_sources": c.source_uris, "must_abstain": c.must_abstain, "must_block": c.must_block,
                "must_not_contain": c.must_not_contain,
                **({"turns": c.turns, "standalone": c.standalone} if c.turns else {}),
                "outcome": self.run.outcomes[0][i].to_dict(), "score": self.run.first[i].to_dict(),
            }
            if self.after_update is not None:
                entry["after_update"] = {"outcome": self.after_update.outcomes[0][i].to_dict(),
                                         "score": self.after_update.first[i].to_dict()}
            cases.append(entry)
        return {
            "format": "tether-eval-run/1", "run_id": self.run_id, "name": self.golden.name, "source": self.source,
            "model": self.model, "started_at": self.started_at, "duration_s": round(self.duration_s, 2),
            "config": self.config, "metrics": _round(self.metrics), "slices": _round(self.slices),
            "stability": self.stability(), "after_update": _round(self.after_update_report()),
            "answerability_curve": abstention_curve(self.golden.cases, self.run.outcomes[0]), "cases": cases,
        }


def _round(x):
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


def run_phase(engine, golden: GoldenSet, *, model: str | None = None, repeat: int = 1,
              facts_after_update: bool = False, progress: Progress | None = None, judge=None,
              forbidden: dict[str, list[str]] | None = None, mode: str = "plain") -> Phase:
    outcomes: list[list[Outcome]] = []
    scores: list[list[CaseScore]] = []
    done = 0
    for _ in range(max(1, repeat)):
        row_o, row_s = [], []
        for case in golden.cases:
            out = ask_case(engine, case, model=model, mode=mode)
            row_o.append(out)
            sc = _score(case, out, facts_after_update, (forbidden or {}).get(case.principal, ()))
            if judge is not None and case.expected_answer and not (out.abstained or out.blocked or out.error):
                sc.metrics[judge.label] = judge.judge(case.question, case.expected_answer, out.text)
            row_s.append(sc)
            done += 1
            if progress:
                progress(done)
        outcomes.append(row_o)
        scores.append(row_s)
    return Phase(outcomes, scores)


def _score(case: GoldenCase, out: Outcome, after_update: bool, forbidden: Sequence[str] = ()) -> CaseScore:
    if after_update and case.after_update_expected:
        new = {normalise(f if isinstance(f, str) else f[0]) for f in case.after_update_expected}
        stale = [f for f in case.key_facts if isinstance(f, str) and normalise(f) not in new]
        return score_case(case, out, facts=case.after_update_expected, stale=stale, forbidden=forbidden)
    return score_case(case, out, forbidden=forbidden)


def run_golden(engine, golden: GoldenSet, *, source: str = "", model: str | None = None, repeat: int = 1,
               after_update: Callable[[], list[str]] | None = None, progress: Progress | None = None,
               config: dict | None = None, judge=None, forbidden: dict[str, list[str]] | None = None,
               mode: str = "plain") -> RunResult:
    """Ask every case; with ``after_update`` (a callable that applies the updates and returns the
    updated uris) ask them all again afterwards and score updated cases on their new facts.
    ``forbidden`` maps a principal to strings that must never reach them (``forbidden_canaries``).
    ``mode="research"``: every single-turn case in research mode (``config["mode"]`` says so)."""
    with _measuring(engine):
        return _run_golden(engine, golden, source=source, model=model, repeat=repeat, after_update=after_update,
                           progress=progress, config={**(config or {}), "mode": mode}, judge=judge,
                           forbidden=forbidden, mode=mode)


@contextmanager
def _measuring(engine):
    """An evaluation measures the answer path itself: no answer cache (repeats would agree by
    construction) and no review items for the cases it abstains on."""
    s = engine.settings
    saved = (s.cache.enabled, s.review.auto_create)
    s.cache.enabled, s.review.auto_create = False, False
    try:
        yield
    finally:
        s.cache.enabled, s.review.auto_create = saved


def _run_golden(engine, golden: GoldenSet, *, source, model, repeat, after_update, progress, config, judge,
                forbidden, mode) -> RunResult:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    phase = run_phase(engine, golden, model=model, repeat=repeat, progress=progress, judge=judge, forbidden=forbidden,
                      mode=mode)
    res = RunResult(golden, source, model or engine.settings.generate.default_model, phase, started, 0.0,
                    config=dict(config or {}))
    if after_update is not None:
        res.updated_uris = after_update()
        asked_before = len(golden.cases) * max(1, repeat)
        res.after_update = run_phase(engine, golden, model=model, facts_after_update=True, judge=judge,
                                     forbidden=forbidden, mode=mode,
                                     progress=(lambda n: progress(asked_before + n)) if progress else None)
    res.duration_s = time.perf_counter() - t0
    return res


# --- repeat stability ----------------------------------------------------------------------------

def _agreement(values: Sequence[object]) -> float:
    return Counter(values).most_common(1)[0][1] / len(values) if values else 1.0


def stability(cases: Sequence[GoldenCase], phase: Phase) -> dict:
    per_case = {}
    for i, c in enumerate(cases):
        outs = [row[i] for row in phase.outcomes]
        scs = [row[i] for row in phase.scores]
        answers = [normalise(o.text) for o in outs]
        cites = [frozenset((x["source_uri"], x["doc_start"], x["doc_end"]) for x in o.citations) for o in outs]
        vals = [_case_value(s) for s in scs]
        per_case[c.id] = {
            "answer_agreement": round(_agreement(answers), 4),
            "citation_agreement": round(_agreement(cites), 4),
            "score_variance": round(statistics.pvariance(vals), 6) if len(vals) > 1 else 0.0,
        }
    unstable = [cid for cid, v in per_case.items()
                if v["answer_agreement"] < 1 or v["citation_agreement"] < 1 or v["score_variance"] > 0]
    n = len(per_case) or 1
    return {
        "repeats": len(phase.outcomes),
        "answer_agreement": round(sum(v["answer_agreement"] for v in per_case.values()) / n, 4),
        "citation_agreement": round(sum(v["citation_agreement"] for v in per_case.values()) / n, 4),
        "unstable": unstable, "cases": per_case,
    }


def _case_value(s: CaseScore) -> float:
    m = s.metrics
    for key in ("key_fact_recall", "token_f1"):
        if m.get(key) is not None:
            return float(m[key])  # type: ignore[arg-type]
    return float(m["passed"] or 0.0)
