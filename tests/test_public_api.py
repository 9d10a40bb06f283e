"""The public API (``tether.__all__``): the exact list, every name resolving to the object its home
module defines, a typed package, and an ``import tether`` that loads nothing else."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

import tether

PUBLIC = [
    "Answer",
    "Embedder",
    "Generator",
    "Guard",
    "Passage",
    "Principal",
    "Reranker",
    "Settings",
    "Tether",
    "TetherError",
    "__version__",
]

HOMES = {
    "Answer": "tether.types",
    "Passage": "tether.types",
    "Principal": "tether.types",
    "TetherError": "tether.errors",
    "Settings": "tether.settings",
    "Tether": "tether.engine",
    "Embedder": "tether.embed.base",
    "Generator": "tether.generate.base",
    "Reranker": "tether.retrieve.rerank",
    "Guard": "tether.guard.base",
}


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a decision: change this list with it (and the CHANGELOG)."""
    assert tether.__all__ == PUBLIC
    assert set(HOMES) | {"__version__"} == set(PUBLIC)


@pytest.mark.parametrize("name", sorted(HOMES))
def test_every_name_is_the_object_of_its_home_module(name: str) -> None:
    value = getattr(tether, name)
    assert value is getattr(importlib.import_module(HOMES[name]), name)
    assert name in dir(tether)


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from tether import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC)


def test_version_is_the_installed_distribution_version() -> None:
    assert tether.__version__ == importlib.metadata.version("tether")
    assert tether.__version__[0].isdigit()


def test_the_error_base_and_protocols_are_what_they_claim() -> None:
    from tether.errors import NotFound

    assert issubclass(NotFound, tether.TetherError) and issubclass(tether.TetherError, Exception)
    for protocol in (tether.Embedder, tether.Generator, tether.Reranker, tether.Guard):
        assert getattr(protocol, "_is_protocol", False), protocol


def test_an_unknown_name_is_a_clear_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"no attribute 'Engine'; its public names: Answer, "):
        tether.Engine  # noqa: B018 - the access is the test


def test_the_package_is_typed() -> None:
    assert (Path(tether.__file__).parent / "py.typed").is_file()


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def test_import_tether_loads_nothing_else() -> None:
    """``import tether`` runs before every ``import tether.<module>``: it must stay free (the names
    load on first use). A fresh interpreter, so modules other tests imported do not count."""
    got = _fresh(
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import tether\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    assert [m for m in got if m.startswith("tether.")] == []
    heavy = {"numpy", "psycopg", "pydantic", "pydantic_settings", "onnxruntime", "httpx", "typing"}
    assert heavy.isdisjoint(got), sorted(heavy & set(got))


def test_a_name_loads_only_its_own_modules() -> None:
    """Using ``tether.TetherError`` does not pull in the engine (and with it the database driver)."""
    got = _fresh(
        "import json, sys\n"
        "import tether\n"
        "tether.TetherError, tether.Principal\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('tether', 'psycopg')))))\n"
    )
    assert got == ["tether", "tether.errors", "tether.types"]
