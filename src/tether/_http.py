"""One JSON POST to a model-side HTTP service, with its errors translated once, at the boundary.

Used by the OpenAI-compatible embedder and the HTTP reranker: a timeout becomes
:class:`ProviderTimeout`, any other transport failure, non-200 status or non-JSON body becomes
:class:`ProviderError` naming the service (never the key).
"""

from __future__ import annotations

import httpx

from tether.errors import ProviderError, ProviderTimeout


def post_json(client: httpx.Client, url: str, body: dict, headers: dict[str, str], what: str) -> object:
    try:
        resp = client.post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(f"{what} at {url} timed out") from exc
    except httpx.HTTPError as exc:
        raise ProviderError(f"{what} at {url} failed: {type(exc).__name__}") from exc
    if resp.status_code != 200:
        raise ProviderError(f"{what} at {url} answered HTTP {resp.status_code}", status=resp.status_code)
    try:
        return resp.json()
    except ValueError as exc:
        raise ProviderError(f"{what} at {url} returned a body that is not JSON") from exc
