"""The documents service's permission decisions, with real PostgreSQL: read by ACL for everyone
(administrators included), browse and manage everything for administrators, manage own for
owners; NotFound (never existence) for unreadable documents; the operator (``Principal.system()``)
is an administrator by role only; deletions are audited with the right actor."""

from __future__ import annotations

import pytest

from tether.errors import NotFound, PermissionDenied
from tether.services.audit import OPERATOR, AuditService
from tether.services.documents import DocumentService
from tether.services.ingest import IngestService
from tether.settings import Settings
from tether.store import principals
from tether.types import Principal


def _doc(conn, uri: str, body: str, acl: list[str], owner_id: int | None = None, collection: str = "c") -> int:
    cid = conn.execute("INSERT INTO collections (name) VALUES (%s) ON CONFLICT (name)"
                       " DO UPDATE SET name = EXCLUDED.name RETURNING id", (collection,)).fetchone()["id"]
    return int(conn.execute(
        "INSERT INTO documents (collection_id, source_uri, title, format, content_hash, acl, body, owner_id)"
        " VALUES (%s, %s, %s, 'md', %s, %s, %s, %s) RETURNING id",
        (cid, uri, uri, uri, acl, body, owner_id)).fetchone()["id"])


@pytest.fixture
def world(db, tmp_path):
    """ana (hr, owns the hr doc), eve (member, no group), root (admin, no group); documents:
    public, hr (owned by ana), legal (nobody here reads it); an empty collection ``spare``."""
    with db.transaction() as conn:
        for g in ("hr", "legal"):
            principals.ensure_group(conn, g)
        for name, role in (("ana", "member"), ("eve", "member"), ("root", "admin")):
            principals.add_user(conn, name, role=role)
        principals.add_member(conn, "ana", "hr")
        p = {n: principals.get_principal(conn, n) for n in ("ana", "eve", "root")}
        hr = f"g:{p['ana'].group_ids[0]}"
        legal = f"g:{conn.execute('SELECT id FROM groups WHERE name = %s', ('legal',)).fetchone()['id']}"
        d = {"public": _doc(conn, "demo://public.md", "open", ["public"]),
             "hr": _doc(conn, "demo://hr.md", "hr only", [hr, f"u:{p['ana'].id}"], owner_id=p["ana"].id,
                        collection="hr"),
             "legal": _doc(conn, "demo://legal.md", "legal only", [legal], collection="legal")}
        conn.execute("INSERT INTO collections (name) VALUES ('spare')")
    ingest = IngestService(db, Settings(data_dir=tmp_path / "data", database_url=db.url), lambda: None)
    return DocumentService(db, ingest), p, d


def test_read_is_by_acl_for_everyone_administrators_included(world):
    svc, p, d = world
    assert {r["id"] for r in svc.list(p["ana"])} == {d["public"], d["hr"]}
    assert {r["id"] for r in svc.list(p["eve"])} == {d["public"]}
    assert {r["id"] for r in svc.list(p["root"])} == {d["public"]}  # admin role: no extra read rights
    assert all("acl" not in r for r in svc.list(p["ana"]))
    assert svc.get(p["ana"], d["hr"])["body"] == "hr only"
    absent = max(d.values()) + 100
    for who, doc_id in (("eve", d["hr"]), ("root", d["legal"]), ("ana", absent)):
        with pytest.raises(NotFound) as exc:
            svc.get(p[who], doc_id)
        assert str(doc_id) in exc.value.message and "hr only" not in exc.value.message


def test_browsing_every_document_is_for_administrators(world):
    svc, p, d = world
    with pytest.raises(PermissionDenied):
        svc.list(p["ana"], every=True)
    every = svc.list(p["root"], every=True)
    assert {r["id"] for r in every} == set(d.values()) and all(r["acl"] for r in every)
    assert svc.view(p["root"], d["legal"])["body"] == "legal only"
    with pytest.raises(NotFound):
        svc.view(p["eve"], d["legal"])
    # the API listing: administrators see readers spelled out, nobody else an ACL
    listed = {r["id"]: r for r in svc.listing(p["root"], every=True)}
    assert listed[d["legal"]]["acl"] == ["group:legal"]
    assert all("acl" not in r for r in svc.listing(p["ana"]))
    assert {r["id"] for r in svc.catalogue(p["eve"])} == {d["public"]}
    assert all(r["acl_readable"] is None for r in svc.catalogue(p["ana"]))
    assert {c["name"]: c["documents"] for c in svc.collections(p["root"])} == {"c": 1, "hr": 1, "legal": 1, "spare": 0}
    assert {c["name"]: c["documents"] for c in svc.collections(p["eve"])} == {"c": 1}


def test_the_operator_is_an_administrator_by_role_only(world):
    svc, p, d = world
    op = Principal.system()
    assert op.is_admin and op.is_system and not p["root"].is_system
    assert {r["id"] for r in svc.list(op, every=True)} == set(d.values())
    assert {r["id"] for r in svc.list(op)} == {d["public"]}  # its ACL tokens match nobody's documents
    assert svc.view(op, d["legal"])["id"] == d["legal"]


def test_manage_is_for_the_owner_or_an_administrator(world, db):
    svc, p, d = world
    with pytest.raises(PermissionDenied):
        svc.delete(p["eve"], d["public"])  # readable, not hers
    with pytest.raises(NotFound):
        svc.delete(p["eve"], d["hr"])  # unreadable: not found, not forbidden
    assert svc.managed(p["ana"], d["hr"])["id"] == d["hr"]
    assert svc.delete(p["ana"], d["hr"]) is True
    assert svc.delete(p["root"], d["legal"]) is True
    assert svc.delete(Principal.system(), d["public"]) is True
    assert svc.list(p["root"], every=True) == []
    log = AuditService(db).recent(p["root"], action="document.delete")
    assert [(r["actor"], r["details"]["document_id"]) for r in log] == [
        (OPERATOR, d["public"]), ("root", d["legal"]), ("ana", d["hr"])]
    with pytest.raises(PermissionDenied):
        AuditService(db).recent(p["ana"])


def test_reindex_needs_manage_rights_and_a_source(world):
    from tether.errors import Conflict

    svc, p, d = world
    with pytest.raises(PermissionDenied):
        svc.reindex(p["eve"], d["public"], acl=["public"])
    with pytest.raises(Conflict):  # no recorded source file for a document written by hand
        svc.reindex(p["ana"], d["hr"], acl=["public"])
