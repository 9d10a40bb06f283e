"""The local llama.cpp generator is an optional extra: without it, a clear ConfigError."""

import importlib.util

import pytest

from tether.errors import ConfigError


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is not None, reason="the local extra is installed")
def test_missing_extra_says_how_to_install():
    from tether.generate.llama_local import LlamaLocalGenerator

    with pytest.raises(ConfigError, match=r"pip install tether\[local\]"):
        LlamaLocalGenerator()
