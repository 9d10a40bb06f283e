"""The review queue and feedback stores: evidence re-checked against the asker's ACL, views
filtered by the viewer's ACL, the state machine, an atomic claim, promotion to a golden file."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest
import yaml

from tether.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tether.evaluate.golden import load_golden
from tether.observe import store as obs_store
from tether.observe.trace import Trace
from tether.review.promote import append_case, key_facts, promote
from tether.store import feedback, principals, reviews
from tether.store.migrations import apply_migrations
from tether.types import Passage

REPO = Path(__file__).resolve().parents[2]
LEAVE = "# Leave\n\nEmployees accrue 27 days of annual leave per year. Up to 5 days carry over.\n"
BANDS = "# Nightingale bands\n\nThe senior band is between 91,000 and 118,000 euro. CANARY-HR-77aa\n"
CONTRACT = "# Acme contract\n\nThe liability cap is EUR 2,000,000. CANARY-LEGAL-9f1c\n"


def _doc(conn, uri: str, title: str, body: str, acl: list[str]) -> int:
    cid = conn.execute("INSERT INTO collections (name) VALUES (%s)"
                       " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id", ("c",)).fetchone()["id"]
    did = conn.execute(
        "INSERT INTO documents (collection_id, source_uri, title, format, content_hash, acl, body)"
        " VALUES (%s, %s, %s, 'md', %s, %s, %s) RETURNING id", (cid, uri, title, uri, acl, body)).fetchone()["id"]
    conn.execute(
        "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end, token_count, acl,"
        " classification, source_uri, doc_date) VALUES (%s, %s, 0, %s, 0, %s, 10, %s, 'internal', %s, now())",
        (did, cid, body, len(body), acl, uri))
    return int(did)


@pytest.fixture
def world(db):
    """ana (hr) and eve (no group) ask; rita (reviewer, no group), hana (reviewer, hr) and root
    (admin, no group) review; three documents: public, hr, legal."""
    with db.transaction() as conn:
        for g in ("hr", "legal"):
            principals.ensure_group(conn, g)
        for name, role in (("ana", "member"), ("eve", "member"), ("rita", "reviewer"), ("hana", "reviewer"),
                           ("root", "admin")):
            principals.add_user(conn, name, role=role)
        principals.add_member(conn, "ana", "hr")
        principals.add_member(conn, "hana", "hr")
        p = {n: principals.get_principal(conn, n) for n in ("ana", "eve", "rita", "hana", "root")}
        hr, legal = (f"g:{principals.get_principal(conn, 'ana').group_ids[0]}",
                     f"g:{conn.execute('SELECT id FROM groups WHERE name = %s', ('legal',)).fetchone()['id']}")
        d = {"leave": _doc(conn, "demo://handbook/leave.md", "Leave policy", LEAVE, ["public"]),
             "bands": _doc(conn, "demo://hr/bands.md", "Nightingale bands", BANDS, [hr]),
             "contract": _doc(conn, "demo://legal/acme.md", "Acme contract", CONTRACT, [legal])}
    return db, p, d


def _span(body: str, needle: str) -> tuple[int, int]:
    i = body.index(needle)
    return i, i + len(needle)


def _answer(d: dict) -> dict:
    s1, e1 = _span(LEAVE, "Employees accrue 27 days of annual leave per year.")
    s2, e2 = _span(BANDS, "The senior band is between 91,000 and 118,000 euro.")
    return {"text": "You get 27 days [1]. The band is 91,000 to 118,000 euro [2].", "abstained": False,
            "reasons": [], "model": "extractive",
            "citations": [
                {"number": 1, "document_id": d["leave"], "chunk_id": None, "title": "Leave policy",
                 "doc_start": s1, "doc_end": e1, "quote": LEAVE[s1:e1]},
                {"number": 2, "document_id": d["bands"], "chunk_id": None, "title": "Nightingale bands",
                 "doc_start": s2, "doc_end": e2, "quote": "forged text the store must not keep"},
                {"number": 3, "document_id": d["contract"], "title": "Acme contract", "doc_start": 0, "doc_end": 20,
                 "quote": "ana cannot read this"},
            ],
            "sentences": [{"text": "big grounding details", "citations": []}]}


def test_evidence_is_rechecked_against_the_askers_acl_and_reread(world):
    db, p, d = world
    with db.transaction() as conn:
        rid = reviews.create(conn, p["ana"], "What are the leave days and the band?", answer=_answer(d))
        row = conn.execute("SELECT * FROM review_items WHERE id = %s", (rid,)).fetchone()
    ev = row["evidence"]
    assert [e["document_id"] for e in ev] == [d["leave"], d["bands"]]  # the legal citation is dropped
    assert ev[1]["text"] == "The senior band is between 91,000 and 118,000 euro."  # re-read, not the client's
    assert ev[1]["title"] == "Nightingale bands"
    assert "sentences" not in row["draft_answer"] and row["source"] == "user_request" and row["status"] == "open"


def test_views_withhold_what_the_viewer_cannot_read(world):
    db, p, d = world
    with db.transaction() as conn:
        rid = reviews.create(conn, p["ana"], "What are the leave days and the band?", answer=_answer(d),
                             evidence=reviews.evidence_from_passages(
                                 [Passage(chunk_id=0, document_id=d["leave"], ordinal=0, text="", char_start=0,
                                          char_end=len(LEAVE))]))
        public_only = reviews.create(conn, p["eve"], "How many leave days?", evidence=[
            {"document_id": d["leave"], "char_start": 0, "char_end": 30}],
            answer={"text": "27 days [1]", "citations": [{"document_id": d["leave"], "doc_start": 0, "doc_end": 30}]})
    with db.connection() as conn:
        rita = reviews.get(conn, rid, p["rita"])
        hana = reviews.get(conn, rid, p["hana"])
        root = reviews.get(conn, rid, p["root"])
        ana = reviews.get(conn, rid, p["ana"])
        with pytest.raises(NotFound) as absent:
            reviews.get(conn, 10_000, p["eve"])
        with pytest.raises(NotFound) as others:
            reviews.get(conn, rid, p["eve"])
        assert str(absent.value).replace("10000", "#") == str(others.value).replace(str(rid), "#")
        assert [x["id"] for x in reviews.list_items(conn, p["eve"])] == [public_only]
        assert [x["id"] for x in reviews.list_items(conn, p["rita"])] == [public_only, rid]
        assert [x["id"] for x in reviews.list_items(conn, p["rita"], mine=True)] == []
        eve_item = reviews.get(conn, public_only, p["rita"])
    for view in (rita, root):  # no hr membership: the hr evidence and the draft are withheld
        text = repr(view)
        assert "91,000" not in text and "Nightingale" not in text and "CANARY" not in text
        assert view["withheld_sources"] == 1 and view["draft_answer"]["withheld"] is True
        assert view["evidence"][2] == {"withheld": True, "note": reviews.WITHHELD_SOURCE}
        assert "27 days" in view["evidence"][0]["text"]
    # hana reads hr: every evidence entry; the draft still cites the legal document (forged by the
    # client: ana cannot read it, so it never became evidence), which hana cannot read either
    assert hana["withheld_sources"] == 0 and hana["draft_answer"]["withheld"] is True
    assert {e["title"] for e in hana["evidence"]} == {"Leave policy", "Nightingale bands"}
    assert ana["view"] == "asker" and "evidence" not in ana and "draft_answer" not in ana
    assert eve_item["draft_answer"]["withheld"] is False and eve_item["draft_answer"]["text"] == "27 days [1]"


def test_state_machine_and_roles(world):
    db, p, d = world
    with db.transaction() as conn:
        rid = reviews.create(conn, p["eve"], "Can I bring my dog?", source="abstention")
        with pytest.raises(PermissionDenied):
            reviews.claim(conn, rid, p["eve"])  # own item, but not a reviewer
        with pytest.raises(NotFound):
            reviews.claim(conn, rid, p["ana"])  # someone else's: not found
        assert reviews.claim(conn, rid, p["rita"])["claimed_by"] == "rita"
        with pytest.raises(Conflict) as exc:
            reviews.claim(conn, rid, p["hana"])
        assert exc.value.details["claimed_by"] == "rita"
        with pytest.raises(Conflict):
            reviews.answer(conn, rid, p["hana"], "No.")
        with pytest.raises(InvalidInput):
            reviews.answer(conn, rid, p["rita"], "  ")
        done = reviews.answer(conn, rid, p["rita"], "Dogs are not allowed in the offices.")
        assert done["status"] == "answered" and done["answered_by"] == "rita"
        with pytest.raises(Conflict):
            reviews.dismiss(conn, rid, p["rita"], "dup")
        mine = reviews.get(conn, rid, p["eve"])
        assert mine["answer"] == "Dogs are not allowed in the offices." and mine["status"] == "answered"
        # dedupe: an open item with the same question is reused; an answered one is not
        again = reviews.create(conn, p["eve"], "Can I bring my dog?")
        assert again != rid and reviews.create(conn, p["eve"], "Can I bring my dog?", source="abstention") == again
        assert reviews.release(conn, reviews.claim(conn, again, p["hana"])["id"], p["hana"])["status"] == "open"
        assert reviews.dismiss(conn, again, p["root"], "asked and answered")["status"] == "dismissed"
        with pytest.raises(InvalidInput):
            reviews.create(conn, p["eve"], "x", source="nope")
        assert reviews.counts(conn) == {"open": 0, "claimed": 0, "answered": 1, "dismissed": 1}


def test_two_reviewers_cannot_both_claim(world):
    db, p, _ = world
    with db.transaction() as conn:
        for i in range(6):
            principals.add_user(conn, f"rev{i}", role="reviewer")
        revs = [principals.get_principal(conn, f"rev{i}") for i in range(6)]
        rid = reviews.create(conn, p["eve"], "Who approves travel?")
    barrier = threading.Barrier(len(revs))
    won, lost, errors = [], [], []

    def go(rev):
        try:
            with psycopg.connect(db.url, row_factory=psycopg.rows.dict_row) as conn:
                barrier.wait(timeout=30)
                with conn.transaction():
                    won.append(reviews.claim(conn, rid, rev)["claimed_by"])
        except Conflict:
            lost.append(rev.name)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(r,)) for r in revs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(won) == 1 and len(lost) == len(revs) - 1
    with db.connection() as conn:
        assert reviews.get(conn, rid, p["root"])["claimed_by"] == won[0]


def test_promote_writes_a_golden_case_the_loader_reads(world, tmp_path):
    db, p, d = world
    with db.transaction() as conn:
        rid = reviews.create(conn, p["ana"], "What are the leave days and the band?", answer=_answer(d))
        open_id = reviews.create(conn, p["eve"], "Is there a gym?")
        reviews.answer(conn, rid, p["rita"], "Employees accrue 27 days of annual leave per year.")
    path = tmp_path / "golden" / "reviewed.yaml"
    with pytest.raises(Conflict):
        promote(db, open_id, p["rita"], path)
    with pytest.raises(NotFound):
        promote(db, rid, p["eve"], path)
    out = promote(db, rid, p["rita"], path)
    case = out["case"]
    # rita cannot read the hr document: it is not an expected source (nor shown to her)
    assert case == {"id": f"review-{rid}", "question": "What are the leave days and the band?", "as": "ana",
                    "expected_answer": "Employees accrue 27 days of annual leave per year.", "key_facts": ["27 days"],
                    "expected_sources": ["demo://handbook/leave.md"],
                    "tags": {"topic": "reviewed", "difficulty": "medium", "kind": "answerable"}}
    assert out["item"]["promoted"] is True and out["item"]["golden_case_id"] == f"review-{rid}"
    with pytest.raises(Conflict):
        promote(db, rid, p["rita"], path)
    gs = load_golden(path)
    assert [c.id for c in gs.cases] == [f"review-{rid}"] and gs.cases[0].principal == "ana"
    assert gs.cases[0].source_uris == ["demo://handbook/leave.md"]

    # a second item, promoted by hana (hr): both documents; appended, the first case kept
    with db.transaction() as conn:
        rid2 = reviews.create(conn, p["ana"], "What is the senior band?", answer=_answer(d))
        reviews.answer(conn, rid2, p["hana"], "Between 91,000 and 118,000 euro.")
    out2 = promote(db, rid2, p["hana"], path, facts=["91,000", "118,000"])
    assert out2["case"]["expected_sources"] == ["demo://handbook/leave.md", "demo://hr/bands.md"]
    gs = load_golden(path)
    assert [c.id for c in gs.cases] == [f"review-{rid}", f"review-{rid2}"]
    assert gs.cases[1].tags.kind == "multi_doc" and gs.cases[1].key_facts == ["91,000", "118,000"]
    assert path.read_text().startswith("# Golden cases promoted")


def test_append_keeps_an_existing_files_comments(tmp_path):
    path = tmp_path / "golden.yaml"
    shutil.copy(REPO / "demo" / "golden" / "golden.yaml", path)
    before = load_golden(path)
    case = {"id": "q01-leave-days-eve", "question": "Q?", "as": "eve", "expected_answer": "A.",
            "tags": {"topic": "reviewed", "kind": "answerable"}}
    new_id = append_case(path, case, comment="from review item 1")
    assert new_id == "q01-leave-days-eve-2"  # the id was taken
    after = load_golden(path)
    assert len(after.cases) == len(before.cases) + 1 and after.cases[-1].id == new_id
    text = path.read_text()
    assert text.startswith("# Golden set for the Corvane") and "  # from review item 1\n  - id: q01-leave" in text
    # a file whose cases are not the last block is rewritten whole, still valid
    odd = tmp_path / "odd.yaml"
    odd.write_text(yaml.safe_dump({"cases": [{"id": "a", "question": "q", "as": "eve", "must_abstain": True}],
                                   "name": "odd"}))
    append_case(odd, {**case, "id": "b"})
    assert [c.id for c in load_golden(odd).cases] == ["a", "b"]


def test_key_facts_are_figures_amounts_and_dates():
    assert key_facts("Up to 5 days, used by 31 March; EUR 40 a day or 2.08 days a month.") == [
        "5 days", "31 March", "EUR 40", "2.08 days"]


def test_feedback_only_by_the_asker_and_thumbs_down_opens_an_item(world):
    db, p, d = world
    trace = Trace("ask", principal_id=p["ana"].id, principal_name="ana")
    trace.finish("answered")
    with db.transaction() as conn:
        obs_store.save(conn, trace, question="What are the leave days and the band?")
    with db.transaction() as conn:
        with pytest.raises(NotFound):
            feedback.record(conn, p["eve"], trace.id, "down")
        with pytest.raises(NotFound):
            feedback.record(conn, p["ana"], "0" * 32, "down")
        up = feedback.record(conn, p["ana"], trace.id, "up", "great")
        assert up["review_id"] is None and up["created"]
        down = feedback.record(conn, p["ana"], trace.id, "down", "the band looks wrong", answer=_answer(d))
        assert not down["created"] and down["review_id"] is not None
        again = feedback.record(conn, p["ana"], trace.id, "down", "still wrong", answer=_answer(d))
        assert again["review_id"] == down["review_id"]
        item = reviews.get(conn, down["review_id"], p["hana"])
        assert item["source"] == "feedback" and item["trace_id"] == trace.id
        assert item["question"] == "What are the leave days and the band?" and item["reason"] == "the band looks wrong"
        assert [e["title"] for e in item["evidence"]] == ["Leave policy", "Nightingale bands"]
        with pytest.raises(InvalidInput):
            feedback.record(conn, p["ana"], trace.id, "meh")
        admin = feedback.list_feedback(conn, p["root"])
        assert admin["counts"] == {"up": 0, "down": 1} and admin["feedback"][0]["principal"] == "ana"
        assert feedback.list_feedback(conn, p["eve"]) == {"feedback": [], "counts": {"up": 0, "down": 0}}


def test_engine_hand_off(settings, world):
    from tether.engine import Tether
    from tether.types import Answer

    _, p, d = world
    with Tether(settings) as engine:
        passages = [Passage(chunk_id=0, document_id=d["bands"], ordinal=0, text="", char_start=0, char_end=20),
                    Passage(chunk_id=0, document_id=d["contract"], ordinal=0, text="", char_start=0, char_end=20)]
        rid = engine.hand_off(p["ana"], "What is the band?", source="abstention",
                              answer=Answer(text="Not found.", abstained=True, reasons=["weak_retrieval"]),
                              passages=passages)
        assert engine.hand_off(p["ana"], "What is the band?", source="abstention") == rid
        assert engine.auto_hand_off(p["ana"], "Other?", source="low_confidence") is None  # not in review.sources
        with engine.db.connection() as conn:
            item = reviews.get(conn, rid, p["hana"])
    assert item["reason"] == "weak_retrieval" and item["source"] == "abstention"
    assert [e["document_id"] for e in item["evidence"]] == [d["bands"]]  # legal: ana cannot read it
    assert item["draft_answer"]["abstained"] is True


def test_upgrade_keeps_review_requests(pg_server):
    name = "t_mig_reviews"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(**{**psycopg.conninfo.conninfo_to_dict(pg_server), "dbname": name})
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn, target=6)
            pid = conn.execute("INSERT INTO principals (name) VALUES ('old') RETURNING id").fetchone()[0]
            conn.execute("INSERT INTO review_requests (principal_id, question, reason, answer, status) VALUES"
                         " (%s, 'old q', 'r', '{\"text\": \"t\"}', 'open'), (%s, 'closed q', '', NULL, 'closed')",
                         (pid, pid))
            assert 7 in apply_migrations(conn)
            rows = conn.execute("SELECT question, status, source, draft_answer, evidence FROM review_items"
                                " ORDER BY id").fetchall()
            assert rows == [("old q", "open", "user_request", {"text": "t"}, []),
                            ("closed q", "dismissed", "user_request", None, [])]
            new = conn.execute("INSERT INTO review_items (principal_id, question) VALUES (%s, 'n') RETURNING id",
                               (pid,)).fetchone()[0]
            assert new == 3
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_evidence_is_rederived_from_the_version_the_reviewer_may_read(world):
    """Issue 17, item 2: a restricted document replaced by a public version; a reviewer who may
    read the new version is never shown the old restricted text (evidence or draft)."""
    from tether.store import documents

    db, p, d = world
    with db.transaction() as conn:
        rid = reviews.create(conn, p["ana"], "What is the senior band?", evidence=[
            {"document_id": d["bands"], "char_start": 0, "char_end": len(BANDS)},
            {"document_id": d["leave"], "char_start": 0, "char_end": 30}],
            answer={"text": "91,000 to 118,000 [1]",
                    "citations": [{"document_id": d["bands"], "doc_start": 0, "doc_end": len(BANDS)}]})
    with db.connection() as conn:
        before = reviews.get(conn, rid, p["hana"])  # hr reviewer, first version: shown as it was
    assert "CANARY-HR-77aa" in before["evidence"][0]["text"] and before["draft_answer"]["withheld"] is False
    public = "# Nightingale bands\n\nBands are published on the intranet from next year.\n"
    with db.transaction() as conn:
        _, version, status = documents.write_document(conn, documents.DocumentWrite(
            collection="c", source_uri="demo://hr/bands.md", title="Nightingale bands", format="md",
            content_hash="v2", classification="internal", owner_id=None, acl=["public"],
            size_bytes=len(public), body=public, metadata={}), [], [], [], k1=1.2, b=0.75)
    assert (version, status) == (2, "updated")
    with db.connection() as conn:
        views = {n: reviews.get(conn, rid, p[n]) for n in ("rita", "hana", "root")}
    for name, view in views.items():  # everyone may read version 2; nobody sees version 1's text
        text = repr(view)
        assert "91,000" not in text and "CANARY" not in text, name
        assert view["evidence"][0] == {"document_id": d["bands"], "title": "Nightingale bands", "version": 2,
                                       "stale": True, "note": reviews.STALE_SOURCE}
        assert view["stale_sources"] == 1 and view["withheld_sources"] == 0
        assert view["draft_answer"] == {"withheld": True, "text": reviews.STALE_ANSWER, "abstained": False}
        assert view["evidence"][1]["text"] == LEAVE[:30]  # unchanged source: re-read from the current body
    with db.transaction() as conn:  # a stored copy is never what is shown: the body is read again
        conn.execute("UPDATE review_items SET evidence = jsonb_set(evidence, '{1,text}', '\"forged\"') WHERE id = %s",
                     (rid,))
    with db.connection() as conn:
        assert reviews.get(conn, rid, p["rita"])["evidence"][1]["text"] == LEAVE[:30]
