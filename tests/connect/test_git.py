"""The git connector on a real repository made by the test (incremental by commit)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from contract import ConnectorContract
from helpers import SYSTEM, docs, sync

from tether.connect.base import ConnectorContext
from tether.connect.git import GitConfig, GitConnector


def _run(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo, check=True,
                   capture_output=True)


class GitSource:
    def __init__(self, root: Path) -> None:
        self.repo, self.work = root / "repo", root / "work"
        self.repo.mkdir(parents=True)
        _run(self.repo, "init", "-q", "-b", "main")
        (self.repo / "a.txt").write_text("alpha: the office opens at nine.\n")
        (self.repo / "b.md").write_text("# Beta\n\nbeta: the canteen closes at two.\n")
        (self.repo / "tool.py").write_text("def hello():\n    return 'the build uses make'\n")
        self.commit("first")

    def commit(self, message: str) -> None:
        _run(self.repo, "add", "-A")
        _run(self.repo, "commit", "-q", "-m", message)

    def connector(self) -> GitConnector:
        return GitConnector.create(GitConfig(repository=str(self.repo), acl=["public"]),
                                   ConnectorContext({}, str(self.work), 1_000_000))

    def change(self, name: str, text: str) -> None:
        (self.repo / name).write_text(text)
        self.commit(f"change {name}")

    def delete(self, name: str) -> None:
        (self.repo / name).unlink()
        self.commit(f"delete {name}")

    def item_id(self, name: str) -> str:
        return name


class TestGitContract(ConnectorContract):
    @pytest.fixture
    def source(self, tmp_path: Path) -> GitSource:
        return GitSource(tmp_path)

    @pytest.fixture
    def unreachable(self, tmp_path: Path) -> GitConnector:
        return GitConnector.create(GitConfig(repository=str(tmp_path / "no-repo")),
                                   ConnectorContext({}, str(tmp_path / "w"), 1_000_000))


def test_incremental_by_commit_through_the_engine(engine, tmp_path: Path) -> None:
    src = GitSource(tmp_path)
    engine.connectors.add(SYSTEM, "handbook", "git", collection="code",
                          config={"repository": str(src.repo), "acl": ["public"]})
    run = sync(engine, "handbook")
    assert (run["added"], run["failed"]) == (3, 0)  # a.txt, b.md and tool.py (code, read as text)
    assert sync(engine, "handbook")["listed"] == 0  # same commit: nothing listed at all

    src.change("a.txt", "alpha: the office now opens at eight.\n")
    src.delete("tool.py")
    run = sync(engine, "handbook")
    assert (run["listed"], run["updated"], run["deleted"]) == (2, 1, 1)  # only the commit's changes
    held = docs(engine, "code")
    assert sorted(held) == ["connector://handbook/a.txt", "connector://handbook/b.md"]
    assert held["connector://handbook/a.txt"]["version"] == 2
