"""Entry point for multi-process serving: ``uvicorn --factory tether.api.server:app_from_env``.

Each worker process builds its own settings from the environment (``TETHER_*``) and its own
engine, so replicas share nothing but PostgreSQL.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from tether.settings import load_settings


def app_from_env() -> FastAPI:
    from tether.api.app import create_app

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return create_app(load_settings(), secrets=os.environ)
