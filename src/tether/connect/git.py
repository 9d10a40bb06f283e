"""The git connector: one branch of a repository (a path or any URL git can fetch), by commit.

Tether keeps a bare mirror in the connector's working folder and fetches the branch at each
sync. The cursor is the commit last synced: an unchanged branch costs one fetch; a new commit
lists only the files changed since the cursor (``git diff``), with their blob ids as versions.
Documentation and text files go through their loaders; source code (``code_extensions``) is
read as text. Every file gets the connector's fixed ``acl``. Credentials are git's own (a
credential helper, an SSH key); git never prompts.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import ClassVar

from tether.connect.base import CommonConfig, ConnectorContext, Item, ItemRef, Listing
from tether.errors import CredentialsRejected, SourceUnreachable
from tether.ingest.loaders import SUPPORTED_EXTENSIONS

_CODE = (".py", ".js", ".ts", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".rb", ".sh", ".sql", ".yaml", ".yml",
         ".toml", ".ini", ".cfg", ".rst")
_USERINFO = re.compile(r"//[^/@]+@")


class GitConfig(CommonConfig):
    repository: str
    branch: str = "main"
    acl: list[str] = []
    code_extensions: list[str] = list(_CODE)


class GitConnector:
    kind: ClassVar[str] = "git"
    Config = GitConfig

    def __init__(self, config: GitConfig, workdir: Path) -> None:
        self.config = config
        self.mirror = workdir / "mirror.git"
        self.shown = _USERINFO.sub("//", config.repository)  # never show credentials in a URL

    @classmethod
    def create(cls, config: GitConfig, ctx: ConnectorContext) -> GitConnector:
        return cls(config, Path(ctx.workdir))

    def _git(self, *args: str, cwd: Path | None = None) -> bytes:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true"}
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, timeout=600)
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip().splitlines()
            first = _USERINFO.sub("//", message[-1] if message else f"git {args[0]} failed")
            if any(w in first.lower() for w in ("authentication", "permission denied", "could not read username")):
                raise CredentialsRejected(f"repository {self.shown}: {first}")
            raise SourceUnreachable(f"repository {self.shown}: {first}")
        return proc.stdout

    def _update(self) -> str:
        ref = f"refs/heads/{self.config.branch}"
        if not (self.mirror / "HEAD").exists():
            self.mirror.parent.mkdir(parents=True, exist_ok=True)
            self._git("init", "--bare", "-q", str(self.mirror))
        self._git("fetch", "-q", "--no-tags", self.config.repository, f"+{ref}:{ref}", cwd=self.mirror)
        return self._git("rev-parse", ref, cwd=self.mirror).decode().strip()

    def _wanted(self, path: str) -> bool:
        ext = Path(path).suffix.lower()
        hidden = any(part.startswith(".") for part in Path(path).parts)
        return not hidden and (ext in SUPPORTED_EXTENSIONS or ext in self.config.code_extensions)

    def _tree(self, commit: str) -> dict[str, tuple[str, int]]:
        out = {}
        for entry in self._git("ls-tree", "-r", "-l", "-z", commit, cwd=self.mirror).split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.decode(errors="replace").partition("\t")
            _mode, kind, blob, size = meta.split()
            if kind == "blob" and self._wanted(path):
                out[path] = (blob, int(size) if size.isdigit() else 0)
        return out

    def list(self, cursor: str | None) -> Listing:
        head = self._update()
        if cursor == head:
            return Listing([], complete=False, cursor=head)
        tree = self._tree(head)
        acl = tuple(sorted(self.config.acl))

        def ref(path: str) -> ItemRef:
            blob, size = tree[path]
            return ItemRef(path, blob, acl, size=size, locator=blob)

        known = bool(cursor) and subprocess.run(["git", "cat-file", "-e", f"{cursor}^{{commit}}"], cwd=self.mirror,
                                                capture_output=True).returncode == 0
        if not known:
            return Listing([ref(p) for p in sorted(tree)], complete=True, cursor=head)
        changed, deleted = [], []
        raw = self._git("diff", "--name-status", "-z", "--no-renames", str(cursor), head, cwd=self.mirror)
        fields = raw.decode(errors="replace").split("\0")
        for status, path in zip(fields[0::2], fields[1::2]):
            if status.startswith("D") or path not in tree:
                deleted.append(path)
            else:
                changed.append(ref(path))
        return Listing(changed, complete=False, deleted=deleted, cursor=head)

    def fetch(self, ref: ItemRef) -> Item:
        data = self._git("cat-file", "blob", ref.locator or ref.version, cwd=self.mirror)
        name = Path(ref.external_id).name
        if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
            name += ".txt"  # source code: read as text
        return Item(ref, data, name, title=ref.external_id, metadata={"blob": ref.version})

    def close(self) -> None:
        pass
