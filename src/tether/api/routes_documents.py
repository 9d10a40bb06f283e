"""Documents, ingest jobs and collections over HTTP.

Every rule is ``engine.documents``' and ``engine.ingest``'s, with the caller's principal: an
unreadable document is a 404 exactly like an absent one; administrators browse and manage every
document, owners manage their own. Writes become ingest jobs: the pipeline stays the only writer.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from tether.api.auth import current_principal, get_engine
from tether.api.uploads import clean_filename, save_upload
from tether.errors import NotFound, TetherError
from tether.services.documents import DocumentService, supported_extensions
from tether.services.ingest import Batch
from tether.types import Principal

router = APIRouter(prefix="/v1", tags=["documents"])


def split_acl(values: list[str]) -> list[str]:
    """ACL entries from repeated form fields and/or comma-separated lists."""
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _accepted(request: Request, batch: Batch, kind: str, **extra: object) -> JSONResponse:
    request.app.state.metrics.ingest_jobs.labels(kind).inc()
    return JSONResponse({"batch_id": batch.batch_id, "status_url": f"/v1/jobs/{batch.batch_id}", **extra},
                        status_code=202)


@router.post("/documents", status_code=202, summary="Upload a file; it is ingested by a background job")
def upload(
    request: Request,
    file: UploadFile = File(...),
    collection: str = Form("default"),
    acl: list[str] = Form(default_factory=list,
                          description="'public', 'group:NAME', 'user:NAME' (repeat or comma-separate)"),
    classification: str = Form("internal"),
    title: str | None = Form(None),
    principal: Principal = Depends(current_principal),
):
    engine = get_engine(request)
    filename = clean_filename(file.filename, supported_extensions())
    specs = split_acl(acl)
    engine.ingest.check_upload(principal, collection=collection, acl=specs, classification=classification)
    saved = save_upload(engine.settings.data_dir, file.file, filename, engine.settings.ingest.max_file_bytes)
    try:
        batch = engine.ingest.upload(principal, saved.path, filename, collection=collection, acl=specs,
                                     classification=classification, title=title)
    except TetherError:  # refused now that its size is known (a quota): keep nothing of it
        saved.path.unlink(missing_ok=True)
        raise
    return _accepted(request, batch, "upload", filename=filename, sha256=saved.sha256, size=saved.size)


@router.get("/documents", summary="Documents the caller may read (admins: all=true for every document)")
def list_documents(request: Request, collection: str | None = None,
                   every: bool = Query(False, alias="all", description="admins: every document"),
                   principal: Principal = Depends(current_principal)):
    rows = get_engine(request).documents.listing(principal, collection, every=every)
    return JSONResponse(jsonable_encoder({"documents": rows}))


def _document_view(doc: dict, principal: Principal, with_body: bool) -> dict:
    keep = ("id", "title", "collection", "source_uri", "format", "version", "classification",
            "size_bytes", "created_at", "updated_at", "metadata")
    out = {k: doc.get(k) for k in keep}
    out["chunks"] = [{k: c[k] for k in ("id", "ordinal", "char_start", "char_end", "section_path", "page")}
                     for c in doc["chunks"]]
    out["can_manage"] = DocumentService.can_manage(principal, doc)
    if out["can_manage"]:
        out["acl"] = doc["acl_readable"]
    if with_body:
        out["body"] = doc["body"]
    return out


@router.get("/documents/{doc_id}", summary="One readable document (404 whether absent or forbidden)")
def get_document(doc_id: int, request: Request, body: bool = True,
                 principal: Principal = Depends(current_principal)):
    doc = get_engine(request).documents.view(principal, doc_id)
    return JSONResponse(jsonable_encoder(_document_view(doc, principal, body)))


@router.get("/documents/{doc_id}/download", summary="The extracted text, or the original upload")
def download(doc_id: int, request: Request, original: bool = False,
             principal: Principal = Depends(current_principal)):
    documents = get_engine(request).documents
    if original:
        path = documents.original_file(principal, doc_id)
        if path is None:
            raise NotFound(f"the original file of document {doc_id} is not available; download the text instead")
        return FileResponse(path, filename=path.name)
    doc = documents.view(principal, doc_id)
    name = Path(doc["source_uri"].split("://", 1)[-1]).name or f"document-{doc_id}"
    return PlainTextResponse(doc["body"], headers={
        "Content-Disposition": f'attachment; filename="{Path(name).stem}.txt"'})


@router.delete("/documents/{doc_id}", summary="Delete a document and everything derived from it")
def delete_document(doc_id: int, request: Request, principal: Principal = Depends(current_principal)):
    get_engine(request).documents.delete(principal, doc_id)
    return {"deleted": doc_id}


class ReindexRequest(BaseModel):
    acl: list[str] | None = Field(default=None, description="new ACL; same entries as upload")
    classification: str | None = None
    title: str | None = None


@router.post("/documents/{doc_id}/reindex", status_code=202,
             summary="Re-ingest from the recorded source; with acl/classification/title: a metadata update")
def reindex(doc_id: int, request: Request, body: ReindexRequest | None = None,
            principal: Principal = Depends(current_principal)):
    body = body or ReindexRequest()
    batch = get_engine(request).documents.reindex(
        principal, doc_id, acl=split_acl(body.acl) if body.acl is not None else None,
        classification=body.classification, title=body.title)
    return _accepted(request, batch, "reindex")


@router.get("/jobs/{batch_id}", summary="Progress and results of an ingest batch")
def job_status(batch_id: str, request: Request, principal: Principal = Depends(current_principal)):
    return get_engine(request).ingest.batch(principal, batch_id)


@router.get("/collections", summary="Collections with the number of documents the caller may read")
def collections(request: Request, principal: Principal = Depends(current_principal)):
    return {"collections": get_engine(request).documents.collections(principal)}


class CollectionPolicy(BaseModel):
    authoritative: bool | None = Field(default=None, description="its documents are official sources")
    writers: list[str] | None = Field(default=None, max_length=200,
                                      description="who may add or replace documents: 'group:NAME', 'user:NAME';"
                                                  " [] = every member (administrators only when authoritative)")


@router.put("/collections/{name}", summary="Publishing rights of a collection (administrators)")
def set_collection_policy(name: str, body: CollectionPolicy, request: Request,
                          principal: Principal = Depends(current_principal)):
    return get_engine(request).documents.set_policy(principal, name, authoritative=body.authoritative,
                                                    writers=body.writers)
