"""Settings keys that match no field. pydantic ignores them, so a misspelt ``TETHER_*`` variable
or config-file key would silently leave a default in force; :func:`unknown_keys` finds each one,
at any nesting level, with the closest valid name (``difflib``) to suggest.

Environment variables are matched as pydantic-settings reads them: case-insensitive, nested
with ``__``; below a ``dict`` of sections (``generate.models``, ``guard.policies``) the next
part is a free name. TOML keys are checked table by table, arrays of tables item by item.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel

Shape = Literal["model", "models", "list", "free", "leaf"]


@dataclass(frozen=True)
class UnknownKey:
    """One key that matches no setting, as written, and the closest valid one written the same way."""

    source: Literal["env", "toml"]
    key: str
    suggestion: str | None = None
    #: The config file a TOML key was read from.
    file: str = ""

    def __str__(self) -> str:
        what = "environment variable" if self.source == "env" else "setting"
        where = f" in {self.file}" if self.file else ""
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return f"unknown {what} {self.key}{where}{hint}"


def _shape(annotation: Any) -> tuple[Shape, type[BaseModel] | None]:
    """What a field holds: a section, a dict or list of sections, a free-form dict, or a value."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _shape(rest[0]) if len(rest) == 1 else ("leaf", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if origin is dict and len(args) == 2:
        kind, model = _shape(args[1])
        return ("models", model) if kind == "model" else ("free", None)
    if origin is list and args:
        kind, model = _shape(args[0])
        return ("list", model) if kind == "model" else ("leaf", None)
    return "leaf", None


def _paths(model: type[BaseModel], sep: str) -> Iterator[str]:
    """Every name that may be set below ``model``, sections included (``retrieve``, ``retrieve.k1``)."""
    for name, field in model.model_fields.items():
        yield name
        kind, sub = _shape(field.annotation)
        if kind == "model" and sub is not None:
            yield from (f"{name}{sep}{p}" for p in _paths(sub, sep))


def _closest(word: str, candidates: Collection[str]) -> str | None:
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return match[0] if match else None


def _first_unknown(model: type[BaseModel], parts: list[str]) -> tuple[int, type[BaseModel] | None] | None:
    """Index of the first part that names nothing (and the section it was looked up in, None
    below a value), or None when every part names something."""
    i = 0
    while i < len(parts):
        field = model.model_fields.get(parts[i])
        if field is None:
            return i, model
        kind, sub = _shape(field.annotation)
        i += 1
        if i == len(parts) or kind == "free":
            return None
        if kind == "models" and sub is not None:
            i += 1  # a free name: a model, a policy's classification, a drift rule
            if i == len(parts):
                return None
            model = sub
        elif kind == "model" and sub is not None:
            model = sub
        else:  # a value (or a list) has no parts
            return i, None
    return None


def _unknown_env(root: type[BaseModel], environ: Mapping[str, str], prefix: str,
                 ignore: Collection[str]) -> Iterator[UnknownKey]:
    skip = {n.upper() for n in ignore}
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(prefix.upper()) or upper in skip:
            continue
        parts = name[len(prefix):].lower().split("__")
        found = _first_unknown(root, parts)
        if found is None:
            continue
        i, section = found
        best = _closest("__".join(parts[i:]), list(_paths(section, "__"))) if section else None
        suggestion = (prefix + "__".join([*parts[:i], best])).upper() if best else None
        yield UnknownKey("env", name, suggestion)


def _unknown_toml(model: type[BaseModel], data: Mapping[str, Any], path: list[str],
                  root: type[BaseModel]) -> Iterator[UnknownKey]:
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            best = _closest(key, model.model_fields)
            if best is None and not path:  # a section's key at the top: retrieve.top_k for top_k
                best = next((p for p in _paths(root, ".") if p.rsplit(".", 1)[-1] == key), None)
                yield UnknownKey("toml", key, best)
                continue
            yield UnknownKey("toml", ".".join([*path, key]), ".".join([*path, best]) if best else None)
            continue
        kind, sub = _shape(field.annotation)
        if sub is None:
            continue
        if kind == "model" and isinstance(value, Mapping):
            yield from _unknown_toml(sub, value, [*path, key], root)
        elif kind == "models" and isinstance(value, Mapping):
            for name, item in value.items():
                if isinstance(item, Mapping):
                    yield from _unknown_toml(sub, item, [*path, key, name], root)
        elif kind == "list" and isinstance(value, list):
            for n, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from _unknown_toml(sub, item, [*path, f"{key}[{n}]"], root)


def unknown_keys(root: type[BaseModel], environ: Mapping[str, str], toml: Mapping[str, Any], *,
                 prefix: str = "TETHER_", ignore: Collection[str] = (), toml_file: str = "") -> list[UnknownKey]:
    """Every ``prefix*`` variable of ``environ`` (but those in ``ignore``) and every key of the
    parsed ``toml`` file (read from ``toml_file``) that names no field of ``root``, environment first."""
    in_file = [replace(u, file=toml_file) for u in _unknown_toml(root, toml, [], root)]
    return [*_unknown_env(root, environ, prefix, ignore), *in_file]
