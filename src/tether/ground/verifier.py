"""The verifier Tether trains itself, at run time: ONNX on onnxruntime, no torch.

Why: the similarity checker (:mod:`tether.ground.support`) measures topic, not meaning, so a
sentence that says the opposite of its source still looks "supported". The verifier is a
cross-encoder (MiniLM-L6, fine-tuned by ``tether tune verifier``) that reads a (question or
claim, passage) pair together and has two heads:

- *answers*: does the passage answer the question (a probability), and
- *entailment*: is the claim entailed by, contradicted by, or not stated in the evidence.

The model ships in ``ground/models/verifier/`` with its config (labels, max_len, thresholds
calibrated on held-out data) and a SHA256 checksum that :meth:`Verifier.load` checks before the
file is used. Pairs are sorted by length and batched, so each batch pads only to its longest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tether.errors import ConfigError, InvalidInput

LABELS = ("entailed", "contradicted", "not_stated")
CHECKSUMS = "checksums.sha256"
MODEL_FILE = "model.onnx"
CONFIG_FILE = "config.json"


def default_path() -> Path:
    """The folder of the shipped model inside the installed package."""
    return Path(str(resources.files("tether.ground").joinpath("models/verifier")))


def claim_text(claim: str, question: str | None = None) -> str:
    """The first segment of an entailment pair: the claim, read as an answer to ``question``
    when one is given (a bare answer such as "Delhi" only means something after its question).
    Training and run time both build pairs here, so they cannot drift apart."""
    claim = claim.strip()
    return f"{question.strip()} {claim}" if question and question.strip() else claim


def encode_pairs(tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """(ids, type_ids) per pair, ``[CLS] first [SEP] second [SEP]`` truncated longest-first."""
    encs = tokenizer.encode_batch([(a, b) for a, b in pairs])
    return [(e.ids, e.type_ids) for e in encs]


def pad_batch(enc: Sequence[tuple[list[int], list[int]]], batch: Sequence[int]) -> tuple[np.ndarray, ...]:
    """(input_ids, attention_mask, token_type_ids) of the pairs ``batch`` of ``enc``, zero-padded
    to the longest; training (``tune/train.py``) pads through here too, so both read pairs alike."""
    width = max(len(enc[i][0]) for i in batch)
    ids = np.zeros((len(batch), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, i in enumerate(batch):
        k = len(enc[i][0])
        ids[row, :k], types[row, :k], mask[row, :k] = enc[i][0], enc[i][1], 1
    return ids, mask, types


def make_tokenizer(max_len: int, folder: Path | None = None) -> Any:
    """The bundled MiniLM WordPiece tokenizer (or ``folder/tokenizer.json``), truncating pairs."""
    from tokenizers import Tokenizer

    from tether.embed.tokenizer import load_tokenizer

    own = folder / "tokenizer.json" if folder else None
    tok = Tokenizer.from_file(str(own)) if own and own.is_file() else load_tokenizer()
    tok.no_padding()
    tok.enable_truncation(max_length=max_len, strategy="longest_first")
    return tok


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksums(folder: Path) -> None:
    """Raise :class:`ConfigError` unless every file listed in ``checksums.sha256`` matches."""
    sums = folder / CHECKSUMS
    if not sums.is_file():
        raise ConfigError(f"verifier checksum file missing: {sums}")
    listed = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            listed[name.strip()] = digest.strip()
    if MODEL_FILE not in listed:
        raise ConfigError(f"{sums} does not pin {MODEL_FILE}")
    for name, digest in listed.items():
        path = folder / name
        if not path.is_file():
            raise ConfigError(f"verifier file missing: {path}")
        if sha256_file(path) != digest:
            raise ConfigError(f"verifier file {path} does not match its SHA256 checksum (corrupt or tampered)")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Thresholds:
    """``entailed``: a claim is supported iff P(entailed) >= this. ``entailed_question``: the
    same for a claim read as the answer to a question (short answers score differently from
    standalone sentences, so each reading has its own calibrated cut). ``answers``: a passage
    answers iff P(answers) >= this. All calibrated on held-out slices (see MODEL_CARD.md)."""

    entailed: float = 0.5
    answers: float = 0.5
    entailed_question: float = 0.5

    def for_claim(self, question: str | None) -> float:
        return self.entailed_question if question and question.strip() else self.entailed


class Verifier:
    """Scores (question, passage) and (claim, evidence) pairs with the shipped cross-encoder."""

    batch_size = 16

    def __init__(self, session: Any, tokenizer: Any, config: dict[str, Any], path: Path) -> None:
        self._session = session
        self._tok = tokenizer
        self._lock = threading.Lock()
        self.config = config
        self.path = path
        self.max_len = int(config["max_len"])
        t = config.get("thresholds", {})
        entailed = float(t.get("entailed", 0.5))
        self.thresholds = Thresholds(entailed, float(t.get("answers", 0.5)),
                                     float(t.get("entailed_question", entailed)))

    @classmethod
    def load(cls, path: Path | str | None = None, *, threads: int = 2) -> Verifier:
        """Open the model in ``path`` (default: the shipped one) after checking its checksum."""
        folder = Path(path) if path else default_path()
        if not (folder / MODEL_FILE).is_file():
            raise ConfigError(f"no verifier model at {folder} (train one with `tether tune verifier`)")
        verify_checksums(folder)
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            labels = tuple(config["labels"]["entailment"])
            int(config["max_len"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"verifier config {folder / CONFIG_FILE} is unreadable: {exc}") from None
        if labels != LABELS:
            raise ConfigError(f"verifier labels {labels} are not {LABELS}")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, min(int(threads), 2))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(folder / MODEL_FILE), sess_options=opts, providers=["CPUExecutionProvider"])
        return cls(session, make_tokenizer(int(config["max_len"]), folder), config, folder)

    def logits(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Raw (answer logit [n], entailment logits [n, 3]) for ``pairs``, in input order."""
        n = len(pairs)
        ans = np.zeros(n, dtype=np.float32)
        nli = np.zeros((n, len(LABELS)), dtype=np.float32)
        if not n:
            return ans, nli
        for a, b in pairs:
            if not isinstance(a, str) or not isinstance(b, str):
                raise InvalidInput("verifier pairs must be (str, str)")
        enc = encode_pairs(self._tok, pairs)
        order = sorted(range(n), key=lambda i: len(enc[i][0]))
        for s in range(0, n, self.batch_size):
            batch = order[s : s + self.batch_size]
            ids, mask, types = pad_batch(enc, batch)
            with self._lock:
                a_out, n_out = self._session.run(
                    ["answer_logit", "nli_logits"],
                    {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
                )
            ans[batch] = a_out.reshape(-1)
            nli[batch] = n_out
        return ans, nli

    def answer_scores(self, question: str, passages: Sequence[str]) -> list[float]:
        """P(the passage answers ``question``) for each passage, in order."""
        if not isinstance(question, str) or not question.strip():
            raise InvalidInput("the question must be a non-empty string")
        return self.answer_scores_pairs([(question.strip(), p) for p in passages])

    def answer_scores_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """P(answers) for many (question, passage) pairs at once, in order."""
        ans, _ = self.logits(pairs)
        return [float(x) for x in 1.0 / (1.0 + np.exp(-ans.astype(np.float64)))]

    def entailment(
        self, claims: Sequence[str], evidences: Sequence[str], questions: Sequence[str | None] | None = None
    ) -> list[dict[str, Any]]:
        """For each (claim, evidence[, question]): the three probabilities, ``score`` (=
        P(entailed)) and a ``verdict``: ``supported`` at or above the calibrated threshold (the
        one for claims read with a question where one is given),
        otherwise ``contradicted`` when contradiction is the likelier failure, else ``unsupported``."""
        if len(claims) != len(evidences) or (questions is not None and len(questions) != len(claims)):
            raise InvalidInput("claims, evidences (and questions) must have the same length")
        qs = list(questions) if questions is not None else [None] * len(claims)
        for c in claims:
            if not isinstance(c, str):
                raise InvalidInput("each claim must be a string")
        _, nli = self.logits([(claim_text(c, q), e) for c, e, q in zip(claims, evidences, qs)])
        probs = _softmax(nli.astype(np.float64))
        out = []
        for p, q in zip(probs, qs):
            d: dict[str, Any] = {name: round(float(x), 6) for name, x in zip(LABELS, p)}
            d["score"] = d["entailed"]
            if p[0] >= self.thresholds.for_claim(q):
                d["verdict"] = "supported"
            else:
                d["verdict"] = "contradicted" if p[1] >= p[2] else "unsupported"
            out.append(d)
        return out
