"""Helpers for tests that run `tether` as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

TETHER = str(Path(sys.executable).with_name("tether"))


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 120) -> None:
    """Until GET /readyz answers 200; fail early if the process exits."""
    deadline = time.time() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"tether serve exited with {proc.returncode} before it was ready:\n{out}")
        assert time.time() < deadline, "tether serve did not become ready"
        time.sleep(0.3)


def stop(proc: subprocess.Popen, sig: int, timeout: float = 60) -> str:
    """Send ``sig`` if still running; the output (kill after ``timeout``)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""
