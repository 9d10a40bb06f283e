"""Live delivery: the ``ground`` step of a streamed run, its tokens and sentence verdicts passed
on as they come.

Only the delivery differs from a non-streamed run: the same steps run before (guards, cache,
retrieval, routing, packing, budget) and after (the output guard on the whole answer, the trace,
the cache rules, budget settlement, the review hand-off). What is shown early is screened
early too: each sentence event's text and citation quotes pass the output stage on their own
before they are sent. A run streams live only when the sources' policy neither redacts nor
blocks (:func:`streams_live`); otherwise tokens would be shown before the output guard saw the
whole answer, so the answer is delivered whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tether.answer import steps
from tether.answer.respond import Event
from tether.errors import ProviderError
from tether.ground.stream import AnswerStream
from tether.guard.stages import most_restrictive

if TYPE_CHECKING:
    from tether.answer.run import Run, Services


def streams_live(svc: Services, run: Run) -> bool:
    """Whether tokens may be shown as they are generated: a stream, no JSON schema, and no
    packed source whose policy redacts or blocks answers."""
    if not run.stream or run.json_schema is not None or run.packed is None:
        return False
    label = most_restrictive([p.classification for p in run.packed.passages])
    return not svc.settings.guard.policy_for(label).changes_answers


def ground_live(svc: Services, run: Run) -> Iterator[Event]:
    """Generate and ground as a stream: token, sentence and retract events; no regeneration and
    no cascade (shown tokens stay shown). Sets ``run.answer``."""
    assert run.packed is not None
    passages, name = run.packed.passages, run.name
    label = most_restrictive([p.classification for p in passages])
    with run.trace.span("ground", model=name, stream=True) as span:
        live = AnswerStream(run.focus or run.question, passages, svc.model(name, run.trace), svc.embedder(),
                            svc.settings.ground,
                            max_tokens=svc.settings.generate.max_answer_tokens, verifier=steps.entailment(svc))
        try:
            for ev in live:
                if ev["type"] == "token":
                    run.streamed = True
                elif ev["type"] == "sentence":
                    ev = _screened(svc, ev, label)
                yield ev
            ans = live.answer
            assert ans is not None
        except ProviderError as exc:
            ans = steps.provider_failed(svc, run, exc, name, span)
        steps.record_ground(span, ans)
    run.answer = ans


def _screened(svc: Services, ev: Event, label: str | None) -> Event:
    """A sentence event as the output stage lets it leave (its text and its quotes)."""
    cites = ev.get("citations", [])
    texts = svc.guards.texts([ev.get("text", ""), *(c.get("quote", "") for c in cites)], label)
    if texts == [ev.get("text", ""), *(c.get("quote", "") for c in cites)]:
        return ev
    return {**ev, "text": texts[0], "citations": [{**c, "quote": q} for c, q in zip(cites, texts[1:])]}
