"""Tether's public API: the names a program that embeds Tether may rely on.

    from tether import Tether, Settings, Principal

    with Tether(Settings()) as engine:
        result = engine.ask(engine.principal("ana"), "How many days of leave do I get?")

Everything else (``tether.store``, ``tether.retrieve``, ...) is the implementation and may change
between releases. ``tests/test_public_api.py`` pins ``__all__``.

The names load on first use (PEP 562 ``__getattr__``): ``import tether``, which every
``import tether.<module>`` runs first, imports nothing, so a CLI command, a worker or a test pays
only for the modules it uses (``Tether`` alone brings in the database driver, the embedder and
the web of services behind it).
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers read it the same)

__all__ = [
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

#: Public name -> the module that defines it.
_HOME = {
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

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads them
    from tether.embed.base import Embedder
    from tether.engine import Tether
    from tether.errors import TetherError
    from tether.generate.base import Generator
    from tether.guard.base import Guard
    from tether.retrieve.rerank import Reranker
    from tether.settings import Settings
    from tether.types import Answer, Passage, Principal

    __version__: str


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tether")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> object:
    if name == "__version__":
        value: object = _version()
    elif name in _HOME:
        value = getattr(import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module 'tether' has no attribute {name!r}; its public names: {', '.join(__all__)}")
    globals()[name] = value  # once loaded, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
