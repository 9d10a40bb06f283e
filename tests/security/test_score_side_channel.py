"""The score side channel (issue 17, item 1): BM25 idf counts every chunk, readable or not.

The attack: a member uploads two private controls, A = "u v g ..." and B = "u ...", where ``u``
and ``v`` are words nobody else uses and ``g`` is a guessed word (a colleague's name). For
single-term queries the score of A's chunk is ``idf(df) * T_A`` with the same ``T_A``, so

- ``score(v) / score(u) = idf(1) / idf(2)`` depends only on ``N``, the total chunk count: solve;
- ``score(g) / score(v) = idf(df_g) / idf(1)`` then gives ``df_g``; minus the one readable chunk
  with ``g`` it is the number of *unreadable* chunks containing the guessed word.

The test runs the attack twice: against raw scores (what ``/v1/search`` returned before; it must
recover the true counts, or the test proves nothing), and against what a member receives now
(``Tether.search`` as the member, the same surface ``/v1/search`` and the CLI print, and the
member's own trace): the solved counts and the whole response are identical with and without
the hidden chunks.
"""

from __future__ import annotations

import math

import pytest

from tether.engine import Tether
from tether.ingest.bulk import TextItem, index_texts
from tether.retrieve.exposure import expose, rank_normalised
from tether.retrieve.retriever import retrieve
from tether.store import documents, principals
from tether.types import Passage

GUESS = "quintavalle"  # the colleague's name the attacker guesses
U, V = "zqxcontrolu", "zqxcontrolv"
FILLER = "meeting notes budget review travel policy office schedule project update".split()
HIDDEN_WITH_GUESS = 3


def _idf(n: float, df: float) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def solve(s_u: float, s_v: float, s_g: float) -> tuple[int | None, int | None]:
    """(total chunks N, chunks containing the guess) from the control chunk's three scores."""
    if not (s_u > 0 and s_v > 0 and s_g > 0):
        return None, None
    target = s_v / s_u  # idf(1) / idf(2), decreasing in N towards 1
    lo, hi = 2.0, 1e8
    if not (_idf(hi, 1) / _idf(hi, 2) < target < _idf(lo, 1) / _idf(lo, 2)):
        return None, None
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _idf(mid, 1) / _idf(mid, 2) > target else (lo, mid)
    n = (lo + hi) / 2
    y = s_g / s_v * _idf(n, 1)
    return round(n), round((n + 1.0) / math.exp(y) - 0.5)


def _filler(i: int, words: int = 12) -> str:
    return " ".join(FILLER[(i * 7 + j * 3) % len(FILLER)] for j in range(words)) + f" item{i}"


@pytest.fixture
def world(settings, db, embedder):
    with db.transaction() as conn:
        principals.ensure_group(conn, "board")
        principals.ensure_user(conn, "mallory")
        principals.ensure_user(conn, "root", role="admin")
        principals.add_member(conn, "root", "board")
        mallory = principals.get_principal(conn, "mallory")
        board = f"g:{principals.get_principal(conn, 'root').group_ids[0]}"
    public = [TextItem(uri=f"pub://{i}", title=f"public {i}", text=_filler(i)) for i in range(20)]
    hidden = [TextItem(uri=f"board://{i}", title=f"board {i}", acl=(board,),
                       text=_filler(100 + i) + (f" {GUESS} said so" if i < HIDDEN_WITH_GUESS else ""))
              for i in range(9)]
    own = (f"u:{mallory.id}",)
    controls = [TextItem(uri="upload://mallory/a.txt", title="a", acl=own, text=f"{U} {V} {GUESS} " + _filler(50)),
                TextItem(uri="upload://mallory/b.txt", title="b", acl=own, text=f"{U} " + _filler(51))]
    index_texts(db, embedder, settings, public + hidden + controls, collection="c")
    with db.connection() as conn:
        total = int(conn.execute("SELECT count(*) AS n FROM chunks").fetchone()["n"])
        hidden_ids = [int(r["id"]) for r in conn.execute(
            "SELECT id FROM documents WHERE source_uri LIKE 'board://%'").fetchall()]
        a_chunk = int(conn.execute("SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
                                   " WHERE d.source_uri = 'upload://mallory/a.txt'").fetchone()["id"])
    engine = Tether(settings)
    yield engine, mallory, total, hidden_ids, a_chunk
    engine.close()


def _score_of(passages: list[Passage], chunk_id: int) -> float:
    return next((p.score for p in passages if p.chunk_id == chunk_id), 0.0)


def _raw_attack(engine: Tether, who, a_chunk: int) -> tuple[int | None, int | None]:
    """What the attacker solved from raw BM25 scores (the pre-fix ``/v1/search`` payload)."""
    with engine.db.connection() as conn:
        s = [_score_of(retrieve(conn, engine.embedder, q, acl_tokens=who.acl_tokens, settings=engine.settings.retrieve,
                                k=10, mode="bm25").passages, a_chunk) for q in (U, V, GUESS)]
    return solve(*s)


def _exposed(engine: Tether, who) -> dict[str, list[tuple]]:
    out = {}
    for mode in ("bm25", "hybrid"):
        for q in (U, V, GUESS):
            res = engine.search(who, q, k=10, mode=mode)  # type: ignore[arg-type]
            assert res.timings_ms == {}  # timings depend on every posting list
            out[f"{mode}:{q}"] = [(p.chunk_id, p.score, tuple(sorted(p.scores.items()))) for p in res.passages]
    return out


def test_solved_counts_carry_no_information_about_hidden_chunks(world):
    engine, mallory, total, hidden_ids, a_chunk = world
    # the attack is real on raw scores: it recovers the total and the hidden count exactly
    assert _raw_attack(engine, mallory, a_chunk) == (total, 1 + HIDDEN_WITH_GUESS)
    exposed = _exposed(engine, mallory)
    solved = solve(*(_score_of_exposed(exposed, f"bm25:{q}", a_chunk) for q in (U, V, GUESS)))

    with engine.db.transaction() as conn:
        for doc_id in hidden_ids:
            documents.delete_document(conn, doc_id)
    assert _raw_attack(engine, mallory, a_chunk) == (total - len(hidden_ids), 1)  # raw scores did leak
    assert _exposed(engine, mallory) == exposed  # every score, rank and hit the member receives
    assert solve(*(_score_of_exposed(exposed, f"bm25:{q}", a_chunk) for q in (U, V, GUESS))) == solved


def _score_of_exposed(exposed: dict[str, list[tuple]], key: str, chunk_id: int) -> float:
    return next((score for cid, score, _ in exposed[key] if cid == chunk_id), 0.0)


def test_member_trace_hits_are_rank_normalised_raw_ones_admin_only(world):
    engine, mallory, _total, _hidden, _a = world
    res = engine.ask(mallory, f"what did {GUESS} say about {U}?")
    assert res.trace_id
    spans = _spans(engine.traces.get(mallory, res.trace_id)["root"])
    retrieve_span = next(s for s in spans if s["name"] == "retrieve")
    hits = retrieve_span["attrs"]["hits"]
    assert hits and "admin.hits" not in retrieve_span["attrs"]
    assert [h["score"] for h in hits] == [round(1 / (i + 1), 4) for i in range(len(hits))]
    assert all(h["bm25"] in {round(1 / r, 4) for r in range(1, len(hits) + 1)} for h in hits if "bm25" in h)
    admin = engine.principal("root")
    admin_span = next(s for s in _spans(engine.traces.get(admin, res.trace_id)["root"]) if s["name"] == "retrieve")
    raw = admin_span["attrs"]["admin.hits"]
    assert [h["chunk_id"] for h in raw] == [h["chunk_id"] for h in hits]
    assert any(h.get("bm25", 0) > 1.0 for h in raw)  # raw BM25 scores: not ranks


def _spans(node: dict) -> list[dict]:
    return [node] + [s for c in node.get("children", []) for s in _spans(c)]


def test_rank_normalisation_is_a_function_of_position_only():
    assert rank_normalised([3.0, 9.5, 3.0, 0.1]) == [0.5, 1.0, 0.5, 0.25]
    ps = [Passage(chunk_id=i, document_id=i, ordinal=0, text="", char_start=0, char_end=0, score=s,
                  scores={"bm25": b, "dense": d}) for i, (s, b, d) in enumerate([(9.0, 12.0, 0.3), (4.0, 20.0, 0.7)])]
    shown = expose(ps, admin=False)
    assert [(p.score, p.scores["bm25"], p.scores["dense"]) for p in shown] == [(1.0, 0.5, 0.3), (0.5, 1.0, 0.7)]
    assert ps[0].score == 9.0 and expose(ps, admin=True)[0].scores["bm25"] == 12.0  # input untouched
