"""The child process behind the local generator: one xllamacpp (llama.cpp) server.

Why a separate process: llama.cpp is native code, and a crash there (a bad tensor, an abort,
running out of memory) would take the whole Tether process down with it. In a child, the crash
is an exit code the parent turns into a ``ProviderError`` and a restart.

This file runs as a script (``python llama_server.py``), never imported by Tether, so it starts
without loading the ``tether`` package. Protocol, on its standard streams:

- stdin, first line: JSON ``{"model_path", "n_ctx", "threads", "api_key"}``;
- stdout, one line: JSON ``{"address": "http://127.0.0.1:PORT"}`` once the model is loaded,
  or ``{"error": "..."}`` when it could not be loaded;
- then the server runs until stdin closes: the parent closing it, or the parent dying, ends it,
  so no server outlives its Tether.

The listener binds 127.0.0.1 on a port the kernel picks, and every request must carry the API key
(llama.cpp answers 401 otherwise); only ``/health`` is open.
"""

from __future__ import annotations

import json
import sys

#: llama.cpp log levels: 0 output, 1 error, 2 warning, 3 info (its default), 4 debug.
LOG_ERRORS_ONLY = 1


def _reply(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def main() -> int:
    cfg = json.loads(sys.stdin.readline() or "{}")
    try:
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = cfg["model_path"]
        params.n_ctx = int(cfg.get("n_ctx", 4096))
        params.n_parallel = 1
        params.cpuparams.n_threads = int(cfg.get("threads", 1))
        params.cpuparams_batch.n_threads = int(cfg.get("threads", 1))
        params.n_threads_http = 2
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the kernel picks a free port; the server reports it
        params.api_keys = [cfg["api_key"]]
        params.verbosity = LOG_ERRORS_ONLY
        params.warmup = False
        server = xlc.Server(params)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises a typed error
        _reply({"error": f"{type(exc).__name__}: {exc}"})
        return 2
    _reply({"address": server.listening_address})
    for _ in sys.stdin:  # block until the parent closes the pipe (or dies)
        pass
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
