"""Fine-tune the verifier on CPU, deterministically for a given seed.

Why these choices: the whole run must fit in half an hour on two shared cores, so pairs are
tokenised once with the run-time tokenizer (:func:`tether.ground.verifier.encode_pairs`, so
training and inference see identical ids), grouped by length so a batch pads only to its
longest pair, and the schedule is short (AdamW, linear warm-up and decay, a few epochs).
Every random choice (head init, dropout, batch order) flows from the seed; the thread count is
fixed because float reductions depend on it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from tether.ground.verifier import encode_pairs, make_tokenizer, pad_batch
from tether.tune.examples import Example
from tether.tune.model import load_base


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 13
    epochs: int = 2
    batch_size: int = 16
    lr: float = 8e-5
    head_lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_len: int = 256
    threads: int = 2
    max_steps: int | None = None  # stop early (the smoke test runs one step)


Progress = Callable[[int, int, float], None]


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled, then sorted by length inside windows of 50 batches, then the batches shuffled."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    window = batch_size * 50
    out: list[list[int]] = []
    for s in range(0, len(idx), window):
        chunk = sorted(idx[s : s + window], key=lambda i: lengths[i])
        out += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def _tensors(enc: list[tuple[list[int], list[int]]], batch: list[int]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(a) for a in pad_batch(enc, batch))


def loss_fn(answer_logit: torch.Tensor, nli_logits: torch.Tensor, examples: Sequence[Example]) -> torch.Tensor:
    """Binary cross-entropy on *answers* pairs plus partial-label cross-entropy on entailment
    pairs: -log of the probability mass on the allowed labels (one-hot allowed = plain CE)."""
    is_answer = torch.tensor([e.task == "answer" for e in examples])
    total = answer_logit.new_zeros(())
    if is_answer.any():
        y = torch.tensor([float(e.label) for e in examples if e.task == "answer"])
        total = total + torch.nn.functional.binary_cross_entropy_with_logits(answer_logit[is_answer], y)
    if (~is_answer).any():
        logits = nli_logits[~is_answer]
        allowed = torch.tensor([e.allowed for e in examples if e.task == "nli"])
        masked = logits.masked_fill(~allowed, float("-inf"))
        total = total + (torch.logsumexp(logits, dim=-1) - torch.logsumexp(masked, dim=-1)).mean()
    return total


def train(examples: Sequence[Any], cfg: TrainConfig, progress: Progress | None = None, *,
          model: torch.nn.Module | None = None, loss: Callable[[Any, Sequence[Any]], torch.Tensor] | None = None,
          encoded: list[tuple[list[int], list[int]]] | None = None,
          inputs: Callable[[list[int]], tuple[torch.Tensor, ...]] | None = None) -> tuple[Any, dict]:
    """Train from the bundled base; returns the model (in eval mode) and run statistics.

    Defaults train the verifier (:class:`CrossEncoder` over ``(first, second)`` pairs,
    :func:`loss_fn`); the injection guard passes its own ``model`` (built from the same seed),
    ``loss(outputs, batch_examples)``, ``encoded`` ids (single texts, not pairs; they set the
    length batching) and ``inputs(batch) -> model inputs`` (cached hidden states of the frozen
    lower layers instead of token ids)."""
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    t0 = time.perf_counter()
    model = load_base(cfg.seed) if model is None else model
    step_loss = loss or (lambda out, ex: loss_fn(out[0], out[1], ex))
    # the 30k x 384 word-embedding table is half the weights: frozen, it costs no optimizer time
    if hasattr(model.encoder, "embeddings"):
        model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    tok = make_tokenizer(cfg.max_len)
    enc = encoded if encoded is not None else encode_pairs(tok, [(e.first, e.second) for e in examples])
    lengths = [len(ids) for ids, _ in enc]
    rng = random.Random(f"{cfg.seed}:batches")
    plan = [_batches(lengths, cfg.batch_size, rng) for _ in range(cfg.epochs)]
    total = sum(len(p) for p in plan)
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    heads = [p for n, p in params if not n.startswith("encoder.")]
    decay = [p for n, p in params if n.startswith("encoder.") and p.ndim > 1]
    no_decay = [p for n, p in params if n.startswith("encoder.") and p.ndim <= 1]
    opt = torch.optim.AdamW([
        {"params": decay, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "lr": cfg.lr, "weight_decay": 0.0},
        {"params": heads, "lr": cfg.head_lr, "weight_decay": 0.0},
    ])
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
    )
    model.train()
    step, running, tokens = 0, 0.0, 0
    for batches in plan:
        for batch in batches:
            if step >= total:
                break
            tensors = _tensors(enc, batch) if inputs is None else inputs(batch)
            value_t = step_loss(model(*tensors), [examples[i] for i in batch])
            opt.zero_grad(set_to_none=True)
            value_t.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in params], 1.0)
            opt.step()
            sched.step()
            step += 1
            tokens += int(tensors[0].shape[0] * tensors[0].shape[1])
            value = float(value_t.detach())
            running = 0.98 * running + 0.02 * value if step > 1 else value
            if progress is not None:
                progress(step, total, running)
    model.eval()
    stats = {"steps": step, "examples": len(examples), "padded_tokens": tokens, "final_loss": round(running, 4),
             "seconds": round(time.perf_counter() - t0, 1)}
    return model, stats
