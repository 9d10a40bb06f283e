"""Test helpers shipped with the package, so every suite (and users' own) can reuse them."""

from tether.testing.fake_openai import FakeOpenAI, Faults, Reply

__all__ = ["FakeOpenAI", "Faults", "Reply"]
