"""Render a :class:`GenerationRequest` into chat messages from the versioned templates.

Templates live in ``prompts/*_v<N>.txt`` so a prompt change is a reviewed file diff (and a
golden-test diff), never a string edit buried in code. Sources are delimited as DATA:
``<source id="n" title="...">text</source>``; anything inside a document that looks like the
delimiter is escaped, so a document cannot close its element and speak as the user.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from tether.generate.base import GenerationRequest

PROMPT_VERSION = "v1"
_TAG = re.compile(r"<(\s*/?\s*source)", re.IGNORECASE)


@cache
def template(name: str, version: str = PROMPT_VERSION) -> str:
    """The text of ``prompts/<name>_<version>.txt``."""
    path = resources.files("tether.generate").joinpath(f"prompts/{name}_{version}.txt")
    return path.read_text(encoding="utf-8").rstrip("\n")


def escape_source_text(text: str) -> str:
    """Neutralise delimiter look-alikes (``</source>``, ``<source ...>``) inside a document."""
    return _TAG.sub(r"&lt;\1", text)


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("\n", " ")
    )


def fill(tpl: str, **values: str) -> str:
    """Substitute ``{name}`` placeholders in one pass (a value is never re-scanned)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), tpl)


def render_sources(req: GenerationRequest) -> str:
    """The numbered, delimited sources block."""
    parts = []
    for i, p in enumerate(req.passages, start=1):
        title = f' title="{_attr(p.title)}"' if p.title else ""
        parts.append(f'<source id="{i}"{title}>\n{escape_source_text(p.text.strip())}\n</source>')
    return "\n".join(parts) if parts else "(no sources)"


def render_messages(req: GenerationRequest, version: str = PROMPT_VERSION) -> list[dict[str, str]]:
    """System + user messages for ``req`` (the regeneration feedback joins the user message)."""
    if req.json_schema is not None:
        schema = json.dumps(req.json_schema, indent=2, sort_keys=True)
        system = fill(template("answer_json", version), schema=schema)
    else:
        system = template("answer", version)
    user = fill(template("sources", version), question=req.question.strip(), sources=render_sources(req))
    if req.feedback:
        user += "\n\n" + fill(template("regenerate", version), feedback=req.feedback.strip())
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
