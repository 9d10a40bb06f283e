"""Documents, ingest jobs and collections over HTTP.

Reads go through the engine with the caller's principal, so an unreadable document is a 404
exactly like an absent one. Administrators manage every document (principal ``None``);
owners manage their own. Writes become ingest jobs: the pipeline stays the only writer.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from tether.api.auth import current_principal, get_engine
from tether.api.uploads import clean_filename, save_upload
from tether.engine import Tether, supported_extensions
from tether.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tether.ingest.pipeline import IngestRequest
from tether.store import doc_sources, principals
from tether.types import Acl, Principal

router = APIRouter(prefix="/v1", tags=["documents"])
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def _label(kind: str, value: str) -> str:
    if not _LABEL.match(value):
        raise InvalidInput(f"invalid {kind} {value!r}: lower-case letters, digits, '.', '-', '_' (max 63)")
    return value


def split_acl(values: list[str]) -> list[str]:
    """ACL entries from repeated form fields and/or comma-separated lists."""
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _check_acl(engine: Tether, specs: list[str], owner: str | None) -> None:
    """Fail now (422) rather than in the worker when an ACL names unknown users or groups."""
    acl = Acl.parse(specs, owner=owner)
    with engine.db.connection() as conn:
        principals.acl_tokens(conn, acl)


def readable(engine: Tether, principal: Principal, doc_id: int) -> dict:
    """The document if the caller may read it (admins: any), else NotFound."""
    return engine.get_document(None if principal.is_admin else principal, doc_id)


def managed(engine: Tether, principal: Principal, doc_id: int) -> dict:
    doc = readable(engine, principal, doc_id)
    if not principal.is_admin and doc.get("owner_id") != principal.id:
        raise PermissionDenied("only the document's owner or an administrator may change it")
    return doc


def _enqueue(request: Request, req: IngestRequest, kind: str, **extra: object) -> JSONResponse:
    batch = get_engine(request).enqueue_requests([req])
    request.app.state.metrics.ingest_jobs.labels(kind).inc()
    return JSONResponse({"batch_id": batch.batch_id, "status_url": f"/v1/jobs/{batch.batch_id}", **extra},
                        status_code=202)


@router.post("/documents", status_code=202, summary="Upload a file; it is ingested by a background job")
def upload(
    request: Request,
    file: UploadFile = File(...),
    collection: str = Form("default"),
    acl: list[str] = Form(default_factory=list, description="'public', 'group:NAME', 'user:NAME' (repeat or comma-separate)"),
    classification: str = Form("internal"),
    title: str | None = Form(None),
    principal: Principal = Depends(current_principal),
):
    engine = get_engine(request)
    filename = clean_filename(file.filename, supported_extensions())
    specs = split_acl(acl)
    _check_acl(engine, specs, principal.name)
    saved = save_upload(engine.settings.data_dir, file.file, filename, engine.settings.ingest.max_file_bytes)
    req = IngestRequest(
        path=str(saved.path.resolve()), collection=_label("collection", collection), acl=specs,
        owner=principal.name, classification=_label("classification", classification),
        title=(title or None), source_uri=f"upload://{principal.name}/{filename}",
    )
    return _enqueue(request, req, "upload", filename=filename, sha256=saved.sha256, size=saved.size)


@router.get("/documents", summary="Documents the caller may read (admins: all=true for every document)")
def list_documents(request: Request, collection: str | None = None,
                   every: bool = Query(False, alias="all", description="admins: every document"),
                   principal: Principal = Depends(current_principal)):
    engine = get_engine(request)
    if every and not principal.is_admin:
        raise PermissionDenied("all=true is for administrators")
    rows = engine.list_documents(None if every else principal, collection)
    out = []
    with engine.db.connection() as conn:
        for r in rows:
            item = {k: v for k, v in r.items() if k != "acl"}
            if principal.is_admin:
                item["acl"] = principals.describe_acl(conn, r["acl"])
            out.append(item)
    return JSONResponse(jsonable_encoder({"documents": out}))


def _document_view(doc: dict, principal: Principal, with_body: bool) -> dict:
    keep = ("id", "title", "collection", "source_uri", "format", "version", "classification",
            "size_bytes", "created_at", "updated_at", "metadata")
    out = {k: doc.get(k) for k in keep}
    out["chunks"] = [{k: c[k] for k in ("id", "ordinal", "char_start", "char_end", "section_path", "page")}
                     for c in doc["chunks"]]
    out["can_manage"] = principal.is_admin or doc.get("owner_id") == principal.id
    if out["can_manage"]:
        out["acl"] = doc["acl_readable"]
    if with_body:
        out["body"] = doc["body"]
    return out


@router.get("/documents/{doc_id}", summary="One readable document (404 whether absent or forbidden)")
def get_document(doc_id: int, request: Request, body: bool = True,
                 principal: Principal = Depends(current_principal)):
    doc = readable(get_engine(request), principal, doc_id)
    return JSONResponse(jsonable_encoder(_document_view(doc, principal, body)))


@router.get("/documents/{doc_id}/download", summary="The extracted text, or the original upload")
def download(doc_id: int, request: Request, original: bool = False,
             principal: Principal = Depends(current_principal)):
    engine = get_engine(request)
    doc = readable(engine, principal, doc_id)
    name = Path(doc["source_uri"].split("://", 1)[-1]).name or f"document-{doc_id}"
    if original:
        with engine.db.connection() as conn:
            src = doc_sources.last_ingest_request(conn, doc_id)
        path = Path(src["path"]) if src else None
        if path is None or not path.is_file():
            raise NotFound(f"the original file of document {doc_id} is not available; download the text instead")
        return FileResponse(path, filename=path.name)
    return PlainTextResponse(doc["body"], headers={
        "Content-Disposition": f'attachment; filename="{Path(name).stem}.txt"'})


@router.delete("/documents/{doc_id}", summary="Delete a document and everything derived from it")
def delete_document(doc_id: int, request: Request, principal: Principal = Depends(current_principal)):
    engine = get_engine(request)
    managed(engine, principal, doc_id)
    engine.delete_document(doc_id)
    engine.record_audit(principal, "document.delete", {"document_id": doc_id})
    return {"deleted": doc_id}


class ReindexRequest(BaseModel):
    acl: list[str] | None = Field(default=None, description="new ACL; same entries as upload")
    classification: str | None = None
    title: str | None = None


@router.post("/documents/{doc_id}/reindex", status_code=202,
             summary="Re-ingest from the recorded source; with acl/classification/title: a metadata update")
def reindex(doc_id: int, request: Request, body: ReindexRequest | None = None,
            principal: Principal = Depends(current_principal)):
    engine = get_engine(request)
    doc = managed(engine, principal, doc_id)
    with engine.db.connection() as conn:
        src = doc_sources.last_ingest_request(conn, doc_id)
    if src is None or not Path(src["path"]).is_file():
        raise Conflict(f"document {doc_id} has no recorded source file on this server; ingest it again")
    req = IngestRequest(**src)
    req.source_uri = doc["source_uri"]
    req.collection = doc["collection"]
    body = body or ReindexRequest()
    if body.acl is not None:
        req.acl = split_acl(body.acl)
        _check_acl(engine, req.acl, req.owner)
    if body.acl is not None or body.classification is not None:
        engine.record_audit(principal, "acl.change", {"document_id": doc_id, "acl": req.acl,
                                                "classification": body.classification})
    if body.classification is not None:
        req.classification = _label("classification", body.classification)
    if body.title is not None:
        req.title = body.title or None
    return _enqueue(request, req, "reindex")


@router.get("/jobs/{batch_id}", summary="Progress and results of an ingest batch")
def job_status(batch_id: str, request: Request, principal: Principal = Depends(current_principal)):
    engine = get_engine(request)
    report = engine.batch_report(batch_id)
    if not report or not (principal.is_admin or all(r["payload"].get("owner") == principal.name for r in report)):
        raise NotFound(f"batch {batch_id} not found")
    counts = engine.batch_status(batch_id)
    jobs = []
    for r in report:
        res = r.get("result") or {}
        jobs.append({"id": r["id"], "file": Path(r["payload"]["path"]).name, "collection": r["payload"].get("collection"),
                     "status": r["status"], "attempts": r["attempts"], "result_status": res.get("status"),
                     "document_id": res.get("document_id"), "version": res.get("version"),
                     "chunks": res.get("chunks"), "error": r.get("error")})
    finished = counts["queued"] == 0 and counts["running"] == 0
    return {"batch_id": batch_id, "counts": counts, "finished": finished, "jobs": jobs}


@router.get("/collections", summary="Collections with the number of documents the caller may read")
def collections(request: Request, principal: Principal = Depends(current_principal)):
    engine = get_engine(request)
    counts: dict[str, int] = {}
    if principal.is_admin:
        with engine.db.connection() as conn:
            counts = {n: 0 for n in doc_sources.collection_names(conn)}
    for d in engine.list_documents(None if principal.is_admin else principal):
        counts[d["collection"]] = counts.get(d["collection"], 0) + 1
    return {"collections": [{"name": n, "documents": c} for n, c in sorted(counts.items())]}

