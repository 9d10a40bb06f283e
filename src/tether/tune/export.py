"""Export the trained verifier to ONNX, fp32 and int8 (dynamic quantisation).

Why: the default install runs models on onnxruntime and never imports torch, so the trainer's
result must leave torch here. Attention is switched to the plain ("eager") implementation
before tracing so the graph holds ordinary ops, and batch and sequence axes stay dynamic.
Whether the int8 copy is shipped is decided by :mod:`tether.tune.verifier` on dev figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tether.tune.model import CrossEncoder

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUTS = ["answer_logit", "nli_logits"]


def export_onnx(model: torch.nn.Module, path: Path, outputs: Sequence[str] = OUTPUTS) -> Path:
    """Write ``model`` (fp32) to ``path`` with dynamic batch and sequence axes; ``outputs`` names
    its outputs (the verifier's two heads by default, ``["injection_logit"]`` for the guard)."""
    import warnings

    model.eval()
    if hasattr(model.encoder, "set_attn_implementation"):
        model.encoder.set_attn_implementation("eager")
    ids = torch.tensor([[101, 2054, 2003, 102, 1996, 3437, 102, 0]], dtype=torch.long).repeat(2, 1)
    mask = (ids != 0).long()
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 0]], dtype=torch.long).repeat(2, 1)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    axes.update({name: {0: "batch"} for name in outputs})
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (ids, mask, types), str(path), dynamo=False, input_names=INPUTS, output_names=list(outputs),
            dynamic_axes=axes, opset_version=17, do_constant_folding=True,
        )
    return path


def quantize_int8(src: Path, dst: Path) -> Path:
    """Dynamic int8 quantisation, per output channel (closer to fp32 than per tensor on this model)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    return dst


def torch_logits(model: CrossEncoder, ids: list[list[int]],
                 types: list[list[int]]) -> tuple[list[float], list[list[float]]]:
    """Reference logits from torch for one padded batch (the export check compares against these)."""
    width = max(len(x) for x in ids)
    t_ids = torch.zeros((len(ids), width), dtype=torch.long)
    t_types = torch.zeros_like(t_ids)
    t_mask = torch.zeros_like(t_ids)
    for r, (a, b) in enumerate(zip(ids, types)):
        t_ids[r, : len(a)], t_types[r, : len(b)], t_mask[r, : len(a)] = torch.tensor(a), torch.tensor(b), 1
    with torch.no_grad():
        ans, nli = model(t_ids, t_mask, t_types)
    return ans.tolist(), nli.tolist()
