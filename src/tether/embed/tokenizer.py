"""The bundled WordPiece tokenizer of all-MiniLM-L6-v2 (``assets/minilm-tokenizer.json``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from tokenizers import Tokenizer


@lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    return resources.files("tether.embed").joinpath("assets/minilm-tokenizer.json").read_text(encoding="utf-8")


def load_tokenizer() -> Tokenizer:
    """A fresh tokenizer instance (callers may change its truncation settings)."""
    tok = Tokenizer.from_str(_tokenizer_json())
    tok.no_padding()
    tok.no_truncation()
    return tok


@lru_cache(maxsize=1)
def minilm_tokenizer() -> Tokenizer:
    return load_tokenizer()


def count_tokens(text: str) -> int:
    """WordPiece tokens in ``text``, without the [CLS]/[SEP] markers."""
    return len(minilm_tokenizer().encode(text, add_special_tokens=False).ids)
