"""The embedded default generator: no LLM, it quotes the source units that answer, verbatim.

With the verifier (the engine injects its :class:`~tether.ground.focus.AnswerScorer`), the
units are chosen for the question (:mod:`tether.generate.focused`): ranked by P(answers) blended
with similarity, every part of a multi-part question covered, list items and table rows kept
whole (a row after its table's header), and nothing quoted whose P(answers) is under
``ground.answerability.sentence_threshold``. Without one (no model shipped), each sentence is
scored by similarity alone (cosine with the bundled embedder, plus the share of the question's
content terms it contains) and the best one to ``max_sentences`` are quoted, as before the
verifier. Either way each quote is followed by its citation ``[n]``; when nothing qualifies the
answer is empty (the answer path abstains). Grounded by construction, cheap, and deterministic.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import numpy as np
from pydantic import BaseModel

from tether.embed.base import Embedder
from tether.generate.base import Capabilities, GenerationRequest, GeneratorBase
from tether.generate.focused import FocusConfig, Pick, select_focused
from tether.ground.analysis import terms
from tether.ground.answerable import sentence_threshold
from tether.ground.citations import MARKER
from tether.ground.focus import AnswerScorer
from tether.settings import AnswerabilityConfig
from tether.text import split_sentences
from tether.types import Generation

#: The engine's scorer, looked up when a request comes (the model loads lazily, once per engine).
ScorerSource = Callable[[], AnswerScorer | None]


class ExtractiveConfig(BaseModel):
    max_sentences: int = 3
    #: Minimum blended score (``sim_weight`` * cosine + rest * term overlap) of the best sentence.
    min_score: float = 0.25
    sim_weight: float = 0.6
    #: Further sentences must score at least this share of the best one.
    relative_score: float = 0.8
    #: A candidate this similar (cosine) to an already chosen sentence is redundant.
    redundancy: float = 0.9


class ExtractiveGenerator(GeneratorBase):
    """Selects and quotes source sentences; never invents text."""

    capabilities = Capabilities(streaming=True, json_schema=False, extractive=True)

    def __init__(self, embedder: Embedder, cfg: ExtractiveConfig | None = None, *,
                 scorer: AnswerScorer | ScorerSource | None = None,
                 answerability: AnswerabilityConfig | None = None, focus: FocusConfig | None = None) -> None:
        self.embedder = embedder
        self.cfg = cfg or ExtractiveConfig()
        self.name = f"extractive:{embedder.name}"
        self._scorer = scorer
        self.answerability = answerability or AnswerabilityConfig()
        self.focus = focus or FocusConfig()

    @property
    def scorer(self) -> AnswerScorer | None:
        s = self._scorer
        return s() if callable(s) and not isinstance(s, AnswerScorer) else s

    def select_units(self, req: GenerationRequest) -> list[Pick] | None:
        """The question-focused picks, or None when no verifier is available (then
        :meth:`select` ranks by similarity, as before the verifier)."""
        scorer = self.scorer
        if scorer is None:
            return None
        floor = sentence_threshold(self.answerability, scorer.verifier)
        return select_focused(req.question, req.passages, self.embedder, scorer, floor, self.focus,
                              min_coverage=self.answerability.min_term_coverage)

    def select(self, req: GenerationRequest) -> list[tuple[int, str, float]]:
        """``(source number, sentence, score)`` of the chosen sentences, in source order."""
        cands: list[tuple[int, int, str]] = []
        for n, p in enumerate(req.passages, start=1):
            for sentence in split_sentences(p.text):
                if not sentence.has_words or _is_heading(sentence.text):
                    continue  # a bare heading (or rule) states nothing worth quoting
                cands.append((n, sentence.start, sentence.text))
        if not cands or not req.question.strip():
            return []
        vecs = self.embedder.embed([req.question] + [c[2] for c in cands])
        q, svecs = vecs[0], vecs[1:]
        q_terms = terms(req.question)
        overlap = np.array([len(q_terms & terms(c[2])) / max(1, len(q_terms)) for c in cands])
        w = self.cfg.sim_weight
        scores = w * (svecs @ q) + (1 - w) * overlap
        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]])
        if best < self.cfg.min_score:
            return []
        chosen: list[int] = []
        for i in order:
            if len(chosen) >= self.cfg.max_sentences or scores[i] < best * self.cfg.relative_score:
                break
            if any(float(svecs[i] @ svecs[j]) >= self.cfg.redundancy for j in chosen):
                continue
            chosen.append(int(i))
        chosen.sort(key=lambda i: (cands[i][0], cands[i][1]))
        return [(cands[i][0], cands[i][2], float(scores[i])) for i in chosen]

    def generate(self, req: GenerationRequest) -> Generation:
        t0 = time.perf_counter()
        focused = self.select_units(req)
        if focused is None:
            picked = self.select(req)
            # a source's own "[12]"-style reference marks would read as citations: drop them
            text = " ".join(f"{_clean(sentence)} [{n}]" for n, sentence, _ in picked)
            found = bool(picked)
        else:
            text, found = render(focused), bool(focused)
        return Generation(
            text=text,
            model=self.name,
            input_tokens=0,
            output_tokens=0,
            finish_reason="stop" if found else "abstain",
            latency_s=time.perf_counter() - t0,
        )

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        text = self.generate(req).text
        for i, word in enumerate(text.split(" ") if text else []):
            yield word if i == 0 else " " + word


def render(picks: list[Pick]) -> str:
    """The quotes as answer text, each sentence with its ``[n]``. Sentences of one passage run
    on; rows of one table and items of one list follow line by line (a row after its table's
    header, once per table); anything else starts a paragraph of its own, so a quote without a
    full stop ("Item Amount (EUR) Notes") never runs into the next one."""
    out: list[str] = []
    headers: set[tuple[int, int]] = set()
    last: Pick | None = None
    for p in picks:
        u, n = p.cand.unit, p.cand.number
        if u.kind == "row":
            quote = f"{_clean(u.text)} [{n}]"
            if u.context and (n, u.block) not in headers:
                headers.add((n, u.block))
                quote = f"{_clean(u.context)} [{n}]\n{quote}"
        else:  # every sentence of a unit carries the citation (an item may hold several)
            quote = " ".join(f"{s.text} [{n}]" for s in split_sentences(_clean(u.text)))
        if last is not None:
            out.append(_separator(last, p))
        out.append(quote)
        last = p
    return "".join(out)


def _separator(a: Pick, b: Pick) -> str:
    ua, ub = a.cand.unit, b.cand.unit
    same_passage = a.cand.number == b.cand.number
    if same_passage and ua.block >= 0 and ua.block == ub.block and ua.kind == ub.kind:
        return "\n"
    if same_passage and ua.kind == ub.kind == "sentence" and ua.text.rstrip()[-1:] in ".!?":
        return " "
    return "\n\n"


def _is_heading(sentence: str) -> bool:
    words = sentence.strip().lstrip("#").split()
    return len(words) < 4 and not sentence.rstrip().endswith((".", "!", "?", ":"))


def _clean(sentence: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(MARKER.sub("", sentence).split()))
