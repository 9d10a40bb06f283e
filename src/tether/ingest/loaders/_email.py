"""E-mail: .eml (stdlib ``email``) and Outlook .msg (``extract-msg``): headers, body, attachments.

Decisions often live in mail threads and their attachments, so a message is one document: the
subject as a level-1 heading, a header paragraph (``From:``, ``To:``, ``Cc:``, ``Date:`` lines),
the body (plain text preferred; an HTML-only body goes through the HTML loader), then each
attachment whose format Tether reads, loaded by the same loaders (the ``attach`` callable passed
in by :mod:`tether.ingest.loaders`), under a level-1 heading of its file name, its own headings
one level deeper. Attachments that cannot be read (unknown format, corrupt, empty, beyond
``LoadOptions.max_attachments`` or ``max_depth``) are listed in ``metadata["attachments"]`` with
the reason, never silently dropped; a broken attachment does not fail its message.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

from tether.errors import CorruptDocument, IngestError
from tether.ingest.loaders import _html, _txt
from tether.ingest.loaders._common import TextBuilder, collapse_spaces, require_text
from tether.ingest.loaders._options import LoadOptions
from tether.types import LoadedDocument

#: Loads an attachment's bytes by its file name (the loaders' registry, with the size checks).
Attach = Callable[[bytes, str, LoadOptions], LoadedDocument]
_HEADERS = ("From", "To", "Cc", "Date")


@dataclass
class _Mail:
    subject: str
    headers: dict[str, str]
    body: str
    html: bool  # the body is HTML (no plain-text part)
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


def _build(mail: _Mail, filename: str, fmt: str, options: LoadOptions, attach: Attach) -> LoadedDocument:
    out = TextBuilder()
    out.add("heading", collapse_spaces(mail.subject), level=1)
    lines = [f"{name}: {collapse_spaces(value)}" for name, value in mail.headers.items() if value.strip()]
    out.add("paragraph", "\n".join(lines))
    if mail.body.strip():
        raw = mail.body.encode("utf-8")
        try:
            body = _html.load(raw, filename, options) if mail.html else _txt.load(raw, filename)
            out.extend(body.text, body.blocks)
        except IngestError:  # an HTML body with no visible text
            pass
    report: list[dict[str, object]] = []
    nested = replace(options, max_depth=options.max_depth - 1)
    for i, (name, data) in enumerate(mail.attachments):
        entry: dict[str, object] = {"filename": name, "bytes": len(data)}
        if i >= options.max_attachments:
            entry.update(status="skipped", reason=f"over the limit of {options.max_attachments} attachments")
        elif options.max_depth <= 0:
            entry.update(status="skipped", reason="attachments nested too deep")
        else:
            try:
                doc = attach(data, name, nested)
            except IngestError as exc:
                entry.update(status="skipped", reason=exc.code, message=exc.message)
            else:
                out.add("heading", collapse_spaces(name), level=1)
                start = out.extend(doc.text, doc.blocks, level_shift=1)
                entry.update(status="indexed", format=doc.format, start=start, end=start + len(doc.text))
        report.append(entry)
    require_text(out.text, filename, "e-mail has no subject, headers or text")
    metadata: dict[str, object] = {k.lower(): v for k, v in mail.headers.items() if v.strip()}
    metadata["attachments"] = report
    return LoadedDocument(text=out.text, blocks=out.blocks, format=fmt, title=collapse_spaces(mail.subject),
                          metadata=metadata)


def _part_text(part: EmailMessage, filename: str) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError) as exc:  # unknown charset, bad encoding
        raise CorruptDocument(
            f"{filename}: cannot decode the e-mail body ({type(exc).__name__}: {exc})", filename=filename
        ) from exc
    return content if isinstance(content, str) else ""


def _attachments(message: EmailMessage) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for n, part in enumerate(message.iter_attachments(), start=1):
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload(0) if part.is_multipart() else None
            data = inner.as_bytes() if isinstance(inner, email.message.Message) else b""
            name = part.get_filename() or f"attachment-{n}.eml"
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            name = part.get_filename() or f"attachment-{n}"
        found.append((name, data))
    return found


def load_eml(data: bytes, filename: str, options: LoadOptions, attach: Attach) -> LoadedDocument:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # the default policy builds EmailMessage
    if not any(message.get(h) for h in ("From", "To", "Subject", "Date", "Message-ID")):
        raise CorruptDocument(f"{filename}: not an e-mail (no From, To, Subject or Date header)",
                              filename=filename)
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = _part_text(body_part, filename) if isinstance(body_part, EmailMessage) else ""
    html = isinstance(body_part, EmailMessage) and body_part.get_content_subtype() == "html"
    headers = {h: str(message.get(h) or "") for h in _HEADERS}
    mail = _Mail(str(message.get("Subject") or ""), headers, body, html, _attachments(message))
    return _build(mail, filename, "eml", options, attach)


def _msg_attachment(att: Any, n: int) -> tuple[str, bytes]:
    name = getattr(att, "longFilename", None) or getattr(att, "shortFilename", None) or f"attachment-{n}"
    data = getattr(att, "data", None)
    if data is not None and not isinstance(data, bytes):  # an embedded message
        export = getattr(data, "exportBytes", None)
        return (f"{name}.msg" if not str(name).lower().endswith(".msg") else name,
                export() if callable(export) else b"")
    return str(name), data or b""


def load_msg(data: bytes, filename: str, options: LoadOptions, attach: Attach) -> LoadedDocument:
    import extract_msg  # imported here: a heavy import that only .msg files need

    try:
        message: Any = extract_msg.openMsg(data, delayAttachments=False)  # a Message for a mail item
        try:
            headers = {"From": message.sender or "", "To": message.to or "", "Cc": message.cc or "",
                       "Date": str(message.date or "")}
            body, html = message.body or "", False
            if not body.strip() and message.htmlBody:
                body, html = message.htmlBody.decode("utf-8", errors="replace"), True
            atts = [_msg_attachment(a, n) for n, a in enumerate(message.attachments, start=1)]
            mail = _Mail(message.subject or "", headers, body, html, atts)
        finally:
            message.close()
    except Exception as exc:  # olefile / extract-msg raise many types on a damaged file
        raise CorruptDocument(
            f"{filename}: cannot read Outlook message ({type(exc).__name__}: {exc})", filename=filename
        ) from exc
    return _build(mail, filename, "msg", options, attach)
