"""Unseen words: a question word no chunk the asker may read contains, the same whether it sits
in a document the asker may not read or in none; and the gate that abstains on it."""

from __future__ import annotations

import pytest

from tether.engine import Tether
from tether.ground.focus import topic_words
from tether.ingest.bulk import TextItem, index_texts
from tether.retrieve.filters import SearchFilter
from tether.retrieve.vocabulary import unseen_words
from tether.settings import Settings
from tether.store import principals
from tether.store.db import Database


@pytest.fixture
def corpus(settings: Settings, db: Database, embedder):
    with db.transaction() as conn:
        gid = principals.ensure_group(conn, "legal")
    items = [
        TextItem(uri="t://office", title="Utrecht office", acl=("public",),
                 text="The Utrecht office is at Vredenburgkade 47. The office manager is Sanne Bakker. "
                      "Employees may bring a guest to the office after signing them in."),
        TextItem(uri="t://hold", title="Litigation hold", acl=(f"g:{gid}",),
                 text="The custodians named in the litigation hold are the account director and the CTO."),
    ]
    index_texts(db, embedder, settings, items, collection="vocab")
    return gid


def test_words_unseen_by_the_asker_whether_restricted_or_absent(corpus, db):
    gid = corpus
    words = ["custodians", "dog", "office", "bring", "the"]
    with db.connection() as conn:
        outsider = unseen_words(conn, words, acl_tokens=["public"])
        insider = unseen_words(conn, words, acl_tokens=["public", f"g:{gid}"])
        everyone = unseen_words(conn, words, acl_tokens=None)
        scoped = unseen_words(conn, ["office"], acl_tokens=None, flt=SearchFilter(collections=["other"]))
    # "custodians" exists only in a document the outsider may not read: unseen, like "dog"
    assert outsider == ["custodians", "dog"]
    assert insider == ["dog"] and everyone == ["dog"]
    assert scoped == ["office"]  # the request's filter bounds what counts as seen
    with db.connection() as conn:
        assert unseen_words(conn, [], acl_tokens=["public"]) == []


def test_topic_words_leave_out_frame_measure_words_acronyms_and_numbers():
    assert topic_words("Can I bring my dog to the Utrecht office?") == ["bring", "dog", "utrecht", "office"]
    assert topic_words("How big is the learning budget?") == ["learning", "budget"]
    assert topic_words("What are the RPO and RTO for the main database in 2026?") == ["main", "database"]
    assert topic_words("By which day must the month-end close be complete?") == [
        "day", "month", "end", "close", "complete"]
    assert topic_words("List every band. When is a Sev2 acknowledged?") == ["band", "acknowledged"]


def test_the_gate_abstains_on_an_unseen_word_and_says_so_on_the_trace(settings: Settings, corpus):
    with Tether(settings) as t:
        with t.db.transaction() as conn:
            principals.ensure_user(conn, "walt")
        walt = t.principal("walt")
        tr = t.new_trace("ask", walt)
        res = t.ask(walt, "Can I bring my dog to the Utrecht office?", trace=tr)
        assert res.answer.abstained
        gate = next(s for s in tr.root.children if s.name == "answerable")
        assert gate.attrs["decision"] == "not_answerable" and gate.attrs["words_unseen"] == 1
        tr2 = t.new_trace("ask", walt)
        res2 = t.ask(walt, "Can I bring a guest to the Utrecht office?", trace=tr2)
        gate2 = next(s for s in tr2.root.children if s.name == "answerable")
        assert gate2.attrs["words_unseen"] == 0
        assert not res2.answer.abstained
