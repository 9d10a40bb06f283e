"""Leakage probe for connectors: an item deleted or made unreadable at the source is never
answered, searched, listed, shown in a conversation or served from the answer cache after the
next sync, and no row of the database still holds its text.

A folder share holds two canary-bearing files readable by the ``hr`` group (through the POSIX
group mapping). ana (in hr) first reaches both (positive control: the answers are cached, quoted
in a conversation thread, and one turn is rated down into a review item); then one file is
deleted and the other's group read bit removed, the connector syncs once, and every surface is
probed for the canaries, titles and document ids, and every table of the database is searched
for the canaries' facts (the user's own questions may stay; the documents' words may not).
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
#: Words of each document's canary sentence that no probe question contains (the questions, the
#: user's own words, stay in traces and threads): after the sync no row holds them.
FACTS = {"bonus.md": ("Zorbian credits",), "layoffs.md": ("Vellichor plant",)}
TAIL = {"bonus.md": "paid in Zorbian credits", "layoffs.md": "starting at the Vellichor plant"}
QUESTIONS = {"bonus.md": "How large is the Quillfeather bonus pool?",
             "layoffs.md": "How many roles does Project Marrowgate cut?"}


@pytest.fixture
def engine(settings, embedder):
    t = Tether(settings, secrets={})
    t._embedder = embedder
    yield t
    t.close()


def _surfaces(engine: Tether, who: Principal, name: str, thread: str | None = None) -> str:
    """Everything ``who`` gets back for the item ``name``'s question and canary (and their
    conversation ``thread``, as stored and shown), as one text."""
    turns = engine.conversations.get(who, thread)["turns"] if thread else []
    out = [str(t["result"]) for t in turns]  # what the thread shows besides the user's own questions
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
        (share / name).write_text(f"# {name[:-3].title()}\n\nConfidential: {canary}, {TAIL[name]}.\n")
        (share / name).chmod(0o640)
    engine.connectors.add(SYSTEM, "hrshare", "folder", collection="hr",
                          config={"path": str(share), "groups": {unix_group: "hr"}})
    assert sync(engine, "hrshare")["added"] == 2
    ana = engine.principal("ana")
    thread = engine.conversations.create(ana, "hr questions")["id"]
    for name, canary in CANARIES.items():  # positive control: ana reaches both (answers cached)
        assert canary.split()[-1] in _surfaces(engine, ana, name)
        turn = engine.conversations.ask(ana, thread, QUESTIONS[name])["turn"]
        assert FACTS[name][0] in str(turn["result"]["answer"]["citations"])  # the thread quotes it
    engine.conversations.rate(ana, thread, 1, "down", "check this")  # a review item with its evidence
    stored = _database_text(engine)
    for name in CANARIES:
        held = {t for t, text in stored.items() if FACTS[name][0] in text}
        assert {"chunks", "conversation_turns", "answer_cache"} <= held, held
    assert FACTS["bonus.md"][0] in stored["review_items"]

    (share / "bonus.md").unlink()  # deleted at the source
    (share / "layoffs.md").chmod(0o600)  # the group may no longer read it: revoked
    run = sync(engine, "hrshare")
    assert run["deleted"] == 2
    for name, canary in CANARIES.items():
        seen = _surfaces(engine, ana, name, thread)
        for marker in (canary, canary.split()[1], name[:-3].title(), *FACTS[name]):
            assert marker not in seen, f"{marker!r} of {name} leaked after the sync"
    assert engine.documents.list(SYSTEM, "hr", every=True) == []
    shown = engine.conversations.get(ana, thread)["turns"]
    assert [t["question"] for t in shown] == [QUESTIONS[n] for n in CANARIES]  # the user's own words stay
    assert all(t["redacted"] for t in shown)
    stored = _database_text(engine)  # every row of every table, as text
    for name in CANARIES:
        for marker in FACTS[name]:
            held = sorted(t for t, text in stored.items() if marker in text)
            assert not held, f"{marker!r} of {name} is still stored in {held} after the sync"


def _database_text(engine: Tether) -> dict[str, str]:
    """Every table of the database, each row as PostgreSQL's text form of the row."""
    with engine.db.connection() as conn:
        tables = [r["table_name"] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]
        out = {}
        for t in tables:
            row = conn.execute(f'SELECT coalesce(string_agg(x::text, E\'\\n\'), \'\') AS s FROM "{t}" x').fetchone()
            out[t] = row["s"]
    return out
