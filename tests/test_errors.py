"""The error tree: the drawing in ``tether.errors``'s docstring is the code, and every error is in it.

Every module of ``src/tether`` is imported, so an error class defined anywhere is found by walking
``TetherError.__subclasses__()``; each must live in ``tether.errors``, be drawn under its real
parent with its real code and status, and have a code of its own (the code is API contract).
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import tether
from tether import errors
from tether.errors import TetherError

_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)\s+code=(?P<code>[a-z_]+)\s+(?P<status>\d{3})\b")


_TRAIN_EXTRA = {"torch", "transformers"}


def _drawn() -> dict[str, tuple[str | None, str, int]]:
    """name -> (parent, code, status) as drawn in the docstring (4 columns per level)."""
    tree: dict[str, tuple[str | None, str, int]] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        m = _LINE.match(line.strip("\n")[4:])  # the drawing is indented 4 spaces
        if not m:
            continue
        depth = len(m["indent"]) // 4
        stack[depth:] = [m["name"]]
        tree[m["name"]] = (stack[depth - 1] if depth else None, m["code"], int(m["status"]))
    return tree


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


@pytest.fixture(scope="module")
def every_error() -> list[type[TetherError]]:
    for mod in pkgutil.walk_packages(tether.__path__, "tether."):
        try:
            importlib.import_module(mod.name)
        except ModuleNotFoundError as exc:
            # the training modules need the optional `train` extra (CPU torch), which CI and the
            # default install do not have; any other missing module is a real failure
            if not (mod.name.startswith("tether.tune.") and exc.name in _TRAIN_EXTRA):
                raise
    return [TetherError, *_subclasses(TetherError)]


def test_the_parser_reads_the_drawing() -> None:
    tree = _drawn()
    assert tree["TetherError"] == (None, "internal", 500)
    assert tree["FileTooLarge"] == ("IngestError", "file_too_large", 413)
    assert tree["IngestError"][0] == "InvalidInput" and tree["InvalidInput"][0] == "TetherError"


def test_every_error_is_drawn_where_it_is(every_error) -> None:
    tree = _drawn()
    found = {cls.__name__: cls for cls in every_error}
    assert len(found) == len(every_error), "two error classes share a name"
    elsewhere = sorted(f"{c.__module__}.{c.__name__}" for c in every_error if c.__module__ != "tether.errors")
    assert not elsewhere, f"define these in tether.errors (and draw them there): {elsewhere}"
    assert set(found) - set(tree) == set(), "in the code, not in the docstring tree"
    assert set(tree) - set(found) == set(), "in the docstring tree, not in the code"
    for name, (parent, code, status) in tree.items():
        cls = found[name]
        base = cls.__bases__[0]
        assert (base.__name__ if cls is not TetherError else None) == parent, name
        assert (cls.code, cls.status) == (code, status), f"{name}: drawn {code} {status}, is {cls.code} {cls.status}"


def test_codes_are_stable_and_distinct(every_error) -> None:
    for cls in every_error:
        assert "code" in vars(cls), f"{cls.__name__} inherits its code; give it its own"
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls.code
        assert 400 <= cls.status <= 599, cls
    codes = [cls.code for cls in every_error]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


def test_the_one_json_shape_and_retry_after() -> None:
    exc = errors.StoreUnavailable("the database is unavailable", retry_after=2)
    assert exc.to_dict() == {"error": {"code": "store_unavailable", "message": "the database is unavailable",
                                       "details": {"retry_after": 2}}}
    assert (exc.status, errors.RateLimited.status) == (503, 429)
    assert errors.NotFound("x").to_dict() == {"error": {"code": "not_found", "message": "x"}}
