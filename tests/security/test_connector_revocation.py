"""Leakage probe for connectors: an item deleted or made unreadable at the source is never
answered, searched, listed or served from the answer cache after the next sync.

A folder share holds two canary-bearing files readable by the ``hr`` group (through the POSIX
group mapping). ana (in hr) first reaches both (positive control, and the answers are cached);
then one file is deleted and the other's group read bit removed, the connector syncs once, and
every surface is probed for the canaries, titles and document ids.
"""

from __future__ import annotations

import grp
import os
import sys
from pathlib import Path

import pytest

from tether.engine import Tether
from tether.types import Principal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "connect"))
from helpers import sync  # noqa: E402

SYSTEM = Principal.system()
CANARIES = {"bonus.md": "Quillfeather bonus pool is 4.7 million", "layoffs.md": "Project Marrowgate cuts 212 roles"}
QUESTIONS = {"bonus.md": "How large is the Quillfeather bonus pool?",
             "layoffs.md": "How many roles does Project Marrowgate cut?"}


@pytest.fixture
def engine(settings, embedder):
    t = Tether(settings, secrets={})
    t._embedder = embedder
    yield t
    t.close()


def _surfaces(engine: Tether, who: Principal, name: str) -> str:
    """Everything ``who`` gets back for the item ``name``'s question and canary, as one text."""
    out = []
    for q in (QUESTIONS[name], CANARIES[name]):
        ans = engine.ask(who, q)
        out += [ans.answer.text, *(str(p.text) for p in ans.passages)]
        out += [str(p.text) for p in engine.search(who, q, k=10).passages]
    out += [f"{d['title']} {d['source_uri']}" for d in engine.documents.list(who)]
    return "\n".join(out)


def test_deleted_and_revoked_items_are_never_answered_after_the_sync(engine, tmp_path: Path) -> None:
    unix_group = grp.getgrgid(os.getgid()).gr_name
    engine.accounts.add_group(SYSTEM, "hr")
    engine.accounts.add_user(SYSTEM, "ana", groups=["hr"])
    share = tmp_path / "share"
    share.mkdir()
    for name, canary in CANARIES.items():
        (share / name).write_text(f"# {name[:-3].title()}\n\nConfidential: {canary}.\n")
        (share / name).chmod(0o640)
    engine.connectors.add(SYSTEM, "hrshare", "folder", collection="hr",
                          config={"path": str(share), "groups": {unix_group: "hr"}})
    assert sync(engine, "hrshare")["added"] == 2
    ana = engine.principal("ana")
    for name, canary in CANARIES.items():  # positive control: ana reaches both (answers cached)
        assert canary.split()[-1] in _surfaces(engine, ana, name)

    (share / "bonus.md").unlink()  # deleted at the source
    (share / "layoffs.md").chmod(0o600)  # the group may no longer read it: revoked
    run = sync(engine, "hrshare")
    assert run["deleted"] == 2
    for name, canary in CANARIES.items():
        seen = _surfaces(engine, ana, name)
        for marker in (canary, canary.split()[1], name[:-3].title()):
            assert marker not in seen, f"{marker!r} of {name} leaked after the sync"
    assert engine.documents.list(SYSTEM, "hr", every=True) == []
