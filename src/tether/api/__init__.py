"""The HTTP edge: REST API under /v1, an OpenAI-compatible chat endpoint, health and metrics."""

from tether.api.app import create_app

__all__ = ["create_app"]
