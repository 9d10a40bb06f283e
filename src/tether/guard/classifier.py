"""The injection classifier Tether trains itself (``tether tune guard``), at run time: ONNX on
onnxruntime, no torch.

Why our own: jailguard (the earlier classifier) was trained on password-extraction games and
chat prompts; on attacks hidden in documents, e-mails, tables and tool output it reached recall
0.70 at a false-positive rate of 0.21. This model is all-MiniLM-L6-v2 fine-tuned as a
one-logit classifier on the corpus in ``tether/tune/data/injection`` (DATA_CARD.md there), and
ships in ``guard/models/injection/`` with its config (max_len, per-stage thresholds calibrated
on held-out slices) and SHA256 checksums checked before the file is used. Texts are sorted by
length and batched so a batch pads only to its longest.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tether.errors import ConfigError
from tether.ground.verifier import CONFIG_FILE, MODEL_FILE, make_tokenizer, pad_batch, verify_checksums
from tether.guard.normalise import folded

OUTPUT = "injection_logit"
#: The thresholds a config must name: user questions, chunks at ingest, retrieved passages,
#: tool results.
STAGE_KEYS = ("input", "ingest", "context", "tool")


_WINDOW = 600  # longest text scored whole; MiniLM sees at most 256 tokens
_MIN_SENTENCE = 40  # shorter sentences are joined to the next before scoring
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


def windows(text: str) -> list[str]:
    """Sentence-sized windows: a classifier that mean-pools dilutes one injected sentence in a
    long chunk below any threshold unless it is scored on its own."""
    out = [text] if len(text) <= _WINDOW else []
    parts = [p.strip() for p in _SENTENCE.split(text) if p.strip()]
    if len(parts) <= 1:
        return out or [text[i : i + _WINDOW] for i in range(0, len(text), _WINDOW)]
    current = ""
    for part in parts:
        current = f"{current} {part}".strip()
        if len(current) >= _MIN_SENTENCE:
            out.extend(current[i : i + _WINDOW] for i in range(0, len(current), _WINDOW))
            current = ""
    if current:
        out.append(current)
    return out


def default_path() -> Path:
    """The folder of the shipped model inside the installed package."""
    return Path(str(resources.files("tether.guard").joinpath("models/injection")))


def encode_texts(tokenizer: Any, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
    """(ids, type_ids) per text, ``[CLS] text [SEP]`` truncated; training encodes through here."""
    return [(e.ids, e.type_ids) for e in tokenizer.encode_batch(list(texts))]


class InjectionClassifier:
    """P(injection) per text from the shipped (or a given) model folder."""

    batch_size = 32

    def __init__(self, session: Any, tokenizer: Any, config: dict[str, Any], path: Path) -> None:
        self._session = session
        self._tok = tokenizer
        self._lock = threading.Lock()
        self.config = config
        self.path = path
        self.thresholds = {k: float(v) for k, v in config.get("thresholds", {}).items()}

    @classmethod
    def load(cls, path: Path | str | None = None, *, threads: int = 2) -> InjectionClassifier:
        folder = Path(path) if path else default_path()
        if not (folder / MODEL_FILE).is_file():
            raise ConfigError(f"no injection model at {folder} (train one with `tether tune guard`)")
        verify_checksums(folder)
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            max_len = int(config["max_len"])
            missing = [k for k in STAGE_KEYS if k not in config["thresholds"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"injection model config {folder / CONFIG_FILE} is unreadable: {exc}") from None
        if missing:
            raise ConfigError(f"injection model config has no threshold for {', '.join(missing)}")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, min(int(threads), 2))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(folder / MODEL_FILE), sess_options=opts, providers=["CPUExecutionProvider"])
        return cls(session, make_tokenizer(max_len, folder), config, folder)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(texts), dtype=np.float32)
        if not len(texts):
            return out
        enc = encode_texts(self._tok, texts)
        order = sorted(range(len(texts)), key=lambda i: len(enc[i][0]))
        for s in range(0, len(order), self.batch_size):
            batch = order[s : s + self.batch_size]
            ids, mask, types = pad_batch(enc, batch)
            with self._lock:
                (got,) = self._session.run([OUTPUT], {"input_ids": ids, "attention_mask": mask,
                                                      "token_type_ids": types})
            out[batch] = got.reshape(-1)
        return out

    def scores(self, texts: Sequence[str]) -> list[float]:
        """P(injection) per text, in order (each text scored as one window)."""
        z = self.logits(texts).astype(np.float64)
        return [float(x) for x in 1.0 / (1.0 + np.exp(-z))]

    def text_scores(self, texts: Sequence[str]) -> list[float]:
        """P(injection) per text: the most suspicious of its :func:`windows` (0 for blank text)."""
        spans: list[tuple[int, int]] = []
        flat: list[str] = []
        for text in texts:
            parts = windows(folded(text)) if text.strip() else []
            spans.append((len(flat), len(flat) + len(parts)))
            flat.extend(parts)
        unique = sorted(set(flat))
        got = dict(zip(unique, self.scores(unique)))
        return [max((got[p] for p in flat[a:b]), default=0.0) for a, b in spans]


_loaded: dict[tuple[str, int], InjectionClassifier] = {}
_load_lock = threading.Lock()


def shared(path: str = "", threads: int = 2) -> InjectionClassifier:
    """One loaded classifier per (folder, threads) for the process."""
    key = (path, threads)
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = InjectionClassifier.load(path or None, threads=threads)
        return _loaded[key]
