"""Ingest a described corpus: a JSON manifest of groups, users and per-document metadata.

The demo corpus uses it, and so can an organisation that keeps its ACLs next to its files::

    {"groups": ["hr"], "users": [{"name": "ana", "role": "member", "groups": ["hr"]}],
     "documents": [{"path": "hr/bands.md", "collection": "hr", "classification": "restricted",
                    "acl": ["group:hr"], "owner": "ana", "title": "Salary bands"}],
     "organisation": {"names": ["Acme Ltd", "Acme"], "offices": ["Leeds"],
                      "address_documents": ["company/offices.md"]}}

``organisation`` (optional) names the organisation's own public facts, which the output guard
must not redact as personal data: see :meth:`Manifest.apply_guard`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tether.errors import InvalidInput
from tether.ingest.pipeline import IngestRequest
from tether.store import principals


@dataclass
class Manifest:
    root: Path
    groups: list[str]
    users: list[dict]
    documents: list[dict]
    organisation: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, root: Path | None = None) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"cannot read manifest {path}: {exc}") from exc
        return cls(root or path.parent / "corpus", list(data.get("groups", [])),
                   list(data.get("users", [])), list(data.get("documents", [])), dict(data.get("organisation", {})))

    def public_facts(self) -> list[str]:
        """The organisation's names, offices, and the ``Address:`` lines of its address documents."""
        org = self.organisation
        facts = [*org.get("names", []), *org.get("offices", [])]
        for rel in org.get("address_documents", []):
            try:
                text = (self.root / rel).read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot read the organisation's address document {rel}: {exc}") from exc
            facts += [m.group(1).strip() for m in re.finditer(r"Address:\**\s*(.+)", text)]
        return list(dict.fromkeys(f for f in facts if f.strip()))

    def apply_guard(self, guard) -> None:
        """Add :meth:`public_facts` to ``guard.personal_data.allow`` (a ``GuardSettings``), in place
        so every guard built from those settings sees them (idempotent)."""
        allow = guard.personal_data.allow
        allow.extend(f for f in self.public_facts() if f not in allow)

    def apply_principals(self, conn) -> None:
        for g in self.groups:
            principals.ensure_group(conn, g)
        for u in self.users:
            principals.ensure_user(conn, u["name"], role=u.get("role", "member"))
            for g in u.get("groups", []):
                principals.ensure_group(conn, g)
                principals.add_member(conn, u["name"], g)

    def requests(self, root: Path | None = None) -> list[IngestRequest]:
        base = root or self.root
        return [
            IngestRequest(
                path=str((base / d["path"]).resolve()), collection=d.get("collection", "default"),
                acl=list(d.get("acl", [])), owner=d.get("owner"),
                classification=d.get("classification", "internal"), title=d.get("title"),
                source_uri=f"demo://{d['path']}" if d.get("stable_uri", True) else None,
            )
            for d in self.documents
        ]
