"""Runs the guards of one stage and folds their results into one decision with reasons; the
registry of which guards each stage runs.

Why a separate module: the answer path asks one question per stage ("may this text go on, and
in what form?") without knowing which guards exist. Guards run in order; each sees the text as
sanitised by the guards before it, so a neutralised chunk is then PII-checked as neutralised.
The strictest verdict wins and every reason is kept (prefixed by the guard name).

Adding a guard is a registration, not an edit of the answer path::

    register_guard("output", "canary", lambda settings, classification: CanaryGuard(settings))

Every pipeline built afterwards (:func:`build_pipeline`, the answer path's stages in
:mod:`tether.guard.stages`) runs it after the built-in guards of its stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tether.guard.base import STAGES, Entity, Guard, GuardResult, Stage, Verdict, most_severe
from tether.guard.injection import InjectionGuard
from tether.guard.pii import PiiGuard, entities_within
from tether.settings import GuardSettings

#: Makes a stage's guard for one request: ``(settings, classification) -> Guard``.
GuardFactory = Callable[[GuardSettings, "str | None"], Guard]


@dataclass(frozen=True)
class Registration:
    """A guard of a stage. ``label(settings)`` names it in spans and in the usage ledger."""

    name: str
    factory: GuardFactory
    label: Callable[[GuardSettings], str]


_REGISTRY: dict[Stage, list[Registration]] = {s: [] for s in STAGES}


def register_guard(stage: Stage, name: str, factory: GuardFactory,
                   label: str | Callable[[GuardSettings], str] | None = None) -> None:
    """Run ``factory(settings, classification)``'s guard at ``stage`` (after those registered
    before it); a registration of the same name replaces the earlier one in place."""
    if stage not in _REGISTRY:
        raise ValueError(f"unknown guard stage {stage!r}; stages: {', '.join(STAGES)}")
    text = label or name
    reg = Registration(name, factory, text if callable(text) else _fixed_label(text))
    regs = _REGISTRY[stage]
    at = next((i for i, r in enumerate(regs) if r.name == name), None)
    if at is None:
        regs.append(reg)
    else:
        regs[at] = reg


def _fixed_label(text: str) -> Callable[[GuardSettings], str]:
    return lambda _settings: text


def unregister_guard(stage: Stage, name: str) -> bool:
    """Stop running the guard ``name`` at ``stage``; False when there was none."""
    before = len(_REGISTRY[stage])
    _REGISTRY[stage][:] = [r for r in _REGISTRY[stage] if r.name != name]
    return len(_REGISTRY[stage]) < before


def registered(stage: Stage) -> list[Registration]:
    return list(_REGISTRY[stage])


def stage_label(stage: Stage, settings: GuardSettings) -> str:
    """What the stage's span and ledger call its guards ("jailguard+rules", "presidio+regex")."""
    return "+".join(r.label(settings) for r in _REGISTRY[stage])


@dataclass
class StageRun:
    """One text through a stage: the combined result and what each guard saw and said (so a copy
    of part of the text can reuse the findings, see :meth:`GuardPipeline.check_copy`)."""

    text: str
    result: GuardResult
    parts: list[tuple[Guard, str, GuardResult]] = field(default_factory=list)


class GuardPipeline:
    """The guards of one stage, applied in order. ``prefix``: reasons carry the guard's name."""

    def __init__(self, stage: Stage, guards: Sequence[Guard], *, prefix: bool = True) -> None:
        wrong = [g.name for g in guards if g.stage != stage]
        if wrong:
            raise ValueError(f"guards {wrong} are not for stage {stage!r}")
        self.stage = stage
        self.guards = list(guards)
        self.prefix = prefix

    def check(self, text: str, known: Sequence[list[Entity] | None] | None = None) -> GuardResult:
        """One combined result: strictest verdict, max score, all reasons and entities.
        ``known[i]``: guard i's findings for ``text`` when already known (passed to its ``check``
        as ``entities``; guards that report none ignore them)."""
        return self.run(text, known).result

    def run(self, text: str, known: Sequence[list[Entity] | None] | None = None) -> StageRun:
        parts: list[tuple[Guard, str, GuardResult]] = []
        current = text
        for i, guard in enumerate(self.guards):
            found = known[i] if known is not None and i < len(known) else None
            result = guard.check(current, found)
            parts.append((guard, current, result))
            if result.verdict is Verdict.BLOCK:
                break
            if result.sanitised_text is not None:
                current = result.sanitised_text
        return StageRun(text, self._combine([(g, r) for g, _t, r in parts], current), parts)

    def check_many(self, texts: Sequence[str]) -> list[GuardResult]:
        """:meth:`check` for many texts, each guard's ``check_many`` called once on the batch
        (classifiers are much faster in batches)."""
        current = list(texts)
        parts: list[list[tuple[Guard, GuardResult]]] = [[] for _ in current]
        live = list(range(len(current)))
        for guard in self.guards:
            if not live:
                break
            batch = [current[i] for i in live]
            results = guard.check_many(batch)
            for i, result in zip(list(live), results):
                parts[i].append((guard, result))
                if result.verdict is Verdict.BLOCK:
                    live.remove(i)
                elif result.sanitised_text is not None:
                    current[i] = result.sanitised_text
        return [self._combine(p, c) for p, c in zip(parts, current)]

    def check_copy(self, text: str, whole: StageRun) -> GuardResult:
        """The stage's decision for ``text``, a copy of part of ``whole.text`` (a sentence, a quote
        the answer repeats) or any other text: a guard that saw the whole text unchanged gets its
        own findings for that part instead of analysing it again; anything else is analysed."""
        at = whole.text.find(text) if text else -1
        if at < 0:
            return self.check(text)
        known = [entities_within(r.entities, at, at + len(text)) if seen == whole.text else None
                 for _g, seen, r in whole.parts]
        return self.check(text, known)

    def _combine(self, parts: list[tuple[Guard, GuardResult]], current: str) -> GuardResult:
        verdict = most_severe([r.verdict for _g, r in parts])
        return GuardResult(
            verdict=verdict,
            score=max((r.score for _g, r in parts), default=0.0),
            reasons=[f"{g.name}:{reason}" if self.prefix else reason for g, r in parts for reason in r.reasons],
            entities=[e for _g, r in parts for e in r.entities],
            sanitised_text=current if verdict is Verdict.SANITISE else None,
        )


def build_pipeline(stage: Stage, settings: GuardSettings, classification: str | None = None, *,
                   prefix: bool = True) -> GuardPipeline:
    """The registered guards of a stage (by default injection for input, context and tool, PII
    and secrets for output). ``classification`` (of the most restrictive document behind an
    answer) picks the PII policy."""
    return GuardPipeline(stage, [r.factory(settings, classification) for r in _REGISTRY[stage]], prefix=prefix)


def _injection_label(settings: GuardSettings) -> str:
    model = "jailguard" if settings.injection_model == "jailguard" else "tether-clf"
    return {"classifier": model, "heuristics": "rules"}.get(settings.injection_mode, f"{model}+rules")


register_guard("input", "injection", lambda s, _c: InjectionGuard(s, "input"), _injection_label)
register_guard("context", "injection", lambda s, _c: InjectionGuard(s, "context"), _injection_label)
register_guard("tool", "injection", lambda s, _c: InjectionGuard(s, "tool"), _injection_label)
register_guard("output", "pii", lambda s, c: PiiGuard(s, c), "presidio+regex")
