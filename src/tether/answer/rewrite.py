"""The ``rewrite`` step: a follow-up in a conversation becomes a standalone question before any
other step sees it (the guards, the cache, retrieval and generation all get the standalone one).

The history is given to the run already redacted (``services/conversations.py`` rebuilds it each
turn from the stored turns, dropping every answer that derives from a document the asker can no
longer read). Here it is fitted to a token budget, newest turns first: ``conversations.
history_tokens``, and with an LLM rewriter also at most ``history_share`` of the answering
model's context window (the registry's ``context_window``). What was dropped is counted on the
span, so a 10,000-turn history is truncated, never an error.

Two rewriters: the deterministic rules of :mod:`tether.text.followups` (the embedded default;
they read only earlier questions), and an LLM through the versioned prompt
``generate/prompts/rewrite_v1.txt`` when the answering model is an OpenAI-compatible one that can
``complete`` chat messages (its answer is checked; anything unusable falls back to the rules).
The span ``rewrite`` records the original and standalone questions (redacted like the trace's
question), the rewriter, its reason, the turns kept, dropped and redacted, and whether the
rewrite was skipped because it would not change retrieval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tether.generate.prompting import fill, template
from tether.guard.pii import redact_for_trace
from tether.observe.trace import Call, Trace, cost_usd
from tether.text import followups

if TYPE_CHECKING:
    from tether.answer.run import Run, Services
    from tether.settings.generate import ModelConfig

#: Chat messages in, the model's text out (``OpenAICompatGenerator.complete``).
Complete = Callable[[list[dict[str, str]]], str]
PROMPT_VERSION = "v1"
#: Characters of one earlier answer the LLM rewriter sees.
ANSWER_CHARS = 600


@dataclass(frozen=True)
class HistoryTurn:
    """One earlier turn as the rewriter may see it: the question, its standalone form ("" when
    unknown: rebuilt by the rules), and the answer text ("" when redacted or not kept) with the
    documents that text derives from."""

    question: str
    standalone: str = ""
    answer: str = ""
    documents: tuple[int, ...] = ()


@dataclass
class History:
    """The turns before this one (oldest first); ``skipped`` older turns were not even loaded,
    ``redacted`` of those given had their answer withheld (permissions changed)."""

    turns: list[HistoryTurn] = field(default_factory=list)
    skipped: int = 0
    redacted: int = 0


@dataclass
class Rewrite:
    original: str
    standalone: str
    rewritten: bool
    reason: str
    kind: str  # rules | llm | off
    carried: list[str] = field(default_factory=list)
    kept_turns: int = 0
    dropped_turns: int = 0
    redacted_turns: int = 0
    #: Documents whose text reached the rewriter (the LLM's; the rules read questions only).
    documents: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {"question": self.original, "standalone": self.standalone, "rewritten": self.rewritten,
                "reason": self.reason, "rewriter": self.kind, "carried": list(self.carried),
                "history": {"kept": self.kept_turns, "dropped": self.dropped_turns, "redacted": self.redacted_turns}}


def fit(turns: list[HistoryTurn], budget_tokens: int, count_tokens: Callable[[str], int],
        *, with_answers: bool) -> tuple[list[HistoryTurn], int]:
    """The newest turns whose text fits ``budget_tokens`` (oldest first) and how many were dropped.
    Only the kept turns are counted, so the cost does not grow with the history's length."""
    kept: list[HistoryTurn] = []
    used = 0
    for t in reversed(turns):
        text = t.question + " " + (t.standalone or "") + (" " + t.answer[:ANSWER_CHARS] if with_answers else "")
        n = count_tokens(text)
        if kept and used + n > budget_tokens:
            break
        if not kept and n > budget_tokens:  # the newest alone is too long: keep it, its question only
            t = HistoryTurn(t.question, t.standalone)
        kept.append(t)
        used += n
    kept.reverse()
    return kept, len(turns) - len(kept)


def with_standalones(turns: list[HistoryTurn]) -> list[str]:
    """Each kept turn's standalone question, rebuilt by the rules where it is not known."""
    out: list[str] = []
    for t in turns:
        out.append(t.standalone or followups.rewrite(t.question, out).standalone)
    return out


def render_prompt(history: list[HistoryTurn], question: str, version: str = PROMPT_VERSION) -> list[dict[str, str]]:
    """The LLM rewriter's messages: the history as delimited data, then the follow-up."""
    lines = []
    for i, t in enumerate(history, start=1):
        lines.append(f"<turn n=\"{i}\">\nUser: {t.question.strip()}")
        if t.answer:
            lines.append(f"Assistant: {t.answer[:ANSWER_CHARS].strip()}")
        lines.append("</turn>")
    system = template("rewrite", version)
    user = fill(template("rewrite_user", version), history="\n".join(lines) or "(none)", question=question.strip())
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def usable(text: str, question: str) -> str | None:
    """The LLM's standalone question, or None when it is unusable (empty, several lines, far
    longer than the question with its history terms could need)."""
    out = " ".join(text.strip().strip('"').split())
    if not out or "\n" in text.strip() or len(out) > 4 * len(question) + 300:
        return None
    return out


def rewrite_with_llm(complete: Complete, history: list[HistoryTurn], question: str) -> str | None:
    try:
        return usable(complete(render_prompt(history, question)), question)
    except Exception:  # noqa: BLE001 - a failed rewrite falls back to the rules, never fails the turn
        return None


def metered(complete: Complete, trace: Trace, name: str, cfg: ModelConfig | None,
            count_tokens: Callable[[str], int]) -> Complete:
    """``complete`` recording each call on ``trace`` (kind ``rewrite``: the usage ledger, budgets
    and the trace count the rewriter's tokens and cost like any other model call; tokens are
    counted with the embedder's tokenizer, the completion API of this path returns only text)."""
    def call(messages: list[dict[str, str]]) -> str:
        t0, out, ok = time.perf_counter(), "", False
        try:
            out = complete(messages)
            ok = True
            return out
        finally:
            inp, n_out = sum(count_tokens(m.get("content") or "") for m in messages), count_tokens(out or "")
            cost = cost_usd(inp, n_out, cfg.price_in_per_mtok, cfg.price_out_per_mtok) if cfg else 0.0
            trace.record_call(Call("rewrite", name, inp, n_out, cost, (time.perf_counter() - t0) * 1000, ok))
    return call


def rewrite(svc: Services, run: Run) -> None:
    """Turn ``run.question`` into the standalone question (``run.rewrite`` says how); a run
    without history is left alone (no span: single questions trace as before)."""
    if run.history is None:
        return
    cs, gs = svc.settings.conversations, svc.settings.generate
    complete = svc.completer(run.model) if cs.rewriter in ("auto", "llm") else None
    budget = cs.history_tokens
    if complete is not None:
        name = run.model or gs.default_model
        complete = metered(complete, run.trace, name, gs.models.get(name), svc.embedder().count_tokens)
        window = gs.models[name].context_window if name in gs.models else budget
        budget = max(16, min(budget, int(window * cs.history_share)))
    hist = run.history
    kept, dropped = fit(hist.turns, budget, svc.embedder().count_tokens, with_answers=complete is not None)
    dropped += hist.skipped
    original = run.question
    rw = Rewrite(original, original, False, "off", "off", kept_turns=len(kept), dropped_turns=dropped,
                 redacted_turns=hist.redacted)
    with run.trace.span("rewrite", rewriter=cs.rewriter) as span:
        if cs.rewriter != "off":
            rw = _decide(complete, kept, original, rw)
        span.set(original=redact_for_trace(original, svc.settings.guard),
                 standalone=redact_for_trace(rw.standalone, svc.settings.guard), rewritten=rw.rewritten,
                 reason=rw.reason, kind=rw.kind, carried=len(rw.carried), kept_turns=rw.kept_turns,
                 dropped_turns=rw.dropped_turns, redacted_turns=rw.redacted_turns)
    run.trace.set(**{"rewrite.rewritten": rw.rewritten, "rewrite.dropped_turns": dropped})
    run.rewrite, run.question = rw, rw.standalone


def _decide(complete: Complete | None, kept: list[HistoryTurn], question: str, rw: Rewrite) -> Rewrite:
    previous = with_standalones(kept)
    rules = followups.rewrite(question, previous)
    rw.kind, rw.reason = "rules", rules.reason
    if complete is not None and rules.reason not in ("no_history", "self_contained"):
        out = rewrite_with_llm(complete, kept, question)
        if out is not None:
            rw.kind = "llm"
            rw.documents = tuple(sorted({d for t in kept if t.answer for d in t.documents}))
            changed = set(followups.analyze(out)) != set(followups.analyze(question))
            rw.standalone, rw.rewritten = (out, True) if changed else (question, False)
            rw.reason = "llm" if changed else "no_change"
            return rw
        rw.reason = rules.reason + ":llm_unusable"
    rw.standalone, rw.rewritten, rw.carried = rules.standalone, rules.rewritten, list(rules.carried)
    return rw
