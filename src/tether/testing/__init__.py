"""Test helpers shipped with the package, so every suite (and users' own) can reuse them.

One fake per extension point, each a real implementation of its protocol (the contract suites
in ``tests/contracts`` run against them too), and a real OpenAI-compatible HTTP server:

- :class:`FakeEmbedder` (:class:`~tether.embed.base.Embedder`): hashed bag of words, unit rows.
- :class:`FakeGenerator` (:class:`~tether.generate.base.Generator`): replays queued outputs,
  streams them, reports usage, raises queued typed errors.
- :class:`FakeReranker` (:class:`~tether.retrieve.rerank.Reranker`): orders by query-word overlap.
- :class:`FakeGuard` (:class:`~tether.guard.base.Guard`): blocks, redacts or flags chosen words.
- :class:`FakeOpenAI`: chat, embeddings and rerank endpoints on 127.0.0.1, scripted replies and faults.
"""

from tether.testing.fake_embedder import FakeEmbedder
from tether.testing.fake_generator import FakeGenerator
from tether.testing.fake_guard import FakeGuard
from tether.testing.fake_openai import FakeOpenAI, Faults, Reply
from tether.testing.fake_reranker import FakeReranker

__all__ = ["FakeEmbedder", "FakeGenerator", "FakeGuard", "FakeOpenAI", "FakeReranker", "Faults", "Reply"]
