"""Shared helpers for benchmarks: a private embedded PostgreSQL, tables, the final JSON line."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@contextmanager
def bench_database(keep: bool = False):
    """(Settings, url) on a fresh database: TETHER_DATABASE_URL's server, or a temporary embedded one."""
    from tether.settings import Settings
    from tether.store import embedded
    from tether.store.db import scratch_database

    tmp = Path(tempfile.mkdtemp(prefix="tether-bench-"))
    external = os.environ.get("TETHER_DATABASE_URL", "")
    settings = Settings(data_dir=tmp / "data", database_url=external)
    try:
        with scratch_database(settings, keep=keep, prefix="tether_bench") as url:
            yield Settings(data_dir=tmp / "data", database_url=url), url
    finally:
        if not external:
            embedded.stop(tmp / "data")
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(title)
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    print()


def final_json(figures: dict) -> None:
    """Every benchmark ends with one JSON object on its last line."""
    print(json.dumps(figures, sort_keys=True))
