"""The kinds of connector Tether knows, and how a stored config becomes a running connector.

Each kind is a class with ``kind``, a pydantic ``Config`` (its options, validated when the
connector is added) and ``create(config, ctx)``. The built-in kinds are named here by module
and class, imported when first used, so a kind's dependencies (boto3 for ``s3``, trafilatura
for ``web``) load only when a connector of that kind runs. ``register`` adds a kind of one's own.

A config never holds a secret: keys that look like one (``password``, ``secret...``,
``token``, ``..._key``) are refused unless they name where the secret is (``..._env``: an
environment variable, ``..._file``: a file).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from tether.connect.base import Connector, ConnectorContext
from tether.errors import InvalidInput

_BUILTIN: dict[str, tuple[str, str]] = {
    "folder": ("tether.connect.folder", "FolderConnector"),
    "s3": ("tether.connect.s3", "S3Connector"),
    "git": ("tether.connect.git", "GitConnector"),
    "web": ("tether.connect.web", "WebConnector"),
    "imap": ("tether.connect.imap", "ImapConnector"),
    "push": ("tether.connect.push", "PushConnector"),
}
_REGISTERED: dict[str, type] = {}
_SECRETISH = re.compile(r"(password|passwd|secret|token|credential|(^|_)key)$|^(api_?key|access_?key)", re.I)


def register(cls: type) -> type:
    """Add a connector class (``kind``, ``Config``, ``create``); usable as a decorator."""
    for attr in ("kind", "Config", "create"):
        if not hasattr(cls, attr):
            raise TypeError(f"a connector class needs {attr!r}")
    _REGISTERED[cls.kind] = cls  # type: ignore[attr-defined]
    return cls


def kinds() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


def connector_class(kind: str) -> Any:
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    if kind not in _BUILTIN:
        raise InvalidInput(f"unknown connector kind {kind!r}; the kinds are: {', '.join(kinds())}")
    module, name = _BUILTIN[kind]
    try:
        cls = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:  # an optional dependency is missing
        raise InvalidInput(f"the {kind} connector needs the package {exc.name!r}: pip install 'tether[connectors]'") \
            from exc
    _REGISTERED[kind] = cls
    return cls


def check_no_secrets(config: dict[str, Any], path: str = "") -> None:
    for key, value in config.items():
        where = f"{path}{key}"
        if isinstance(value, dict):
            check_no_secrets(value, f"{where}.")
        elif _SECRETISH.search(key) and not key.endswith(("_env", "_file")):
            raise InvalidInput(f"config key {where!r} looks like a secret; store only where it is: "
                               f"{key}_env (an environment variable) or {key}_file (a file)")


def validate_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config as stored (defaults filled in), or InvalidInput naming the bad fields."""
    check_no_secrets(config)
    model: type[BaseModel] = connector_class(kind).Config
    try:
        parsed = model.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        fields = ", ".join(model.model_fields)
        raise InvalidInput(f"invalid {kind} connector config: {problems} (its options: {fields})") from exc
    return parsed.model_dump(mode="json")


def make_connector(kind: str, config: dict[str, Any], ctx: ConnectorContext) -> Connector:
    cls = connector_class(kind)
    return cls.create(cls.Config.model_validate(config), ctx)
