"""Resilient model calls: retries, a fallback chain, circuit breakers, context-overflow shrinking
and stream timeouts, behind the plain :class:`~tether.generate.base.Generator` protocol.

    breakers = Breakers.from_settings(settings.generate.resilience)          # one per process
    gen = build_chain("llm", settings, get_generator, trace, breakers, count_tokens)
    gen.generate(req) / gen.stream(req)       # -> Generation / deltas, or ProviderUnavailable

For each model of the chain (the chosen one, then ``generate.fallbacks`` in order):

- **Retries** on retryable errors only (:func:`retryable`: timeouts, HTTP 429/500/502/503/504,
  transport errors without a status), up to ``max_attempts`` per model, sleeping exponential
  backoff with full jitter, or the provider's ``Retry-After`` (capped at ``retry_after_cap_s``).
  Client errors (400/401/403/404/422) are not retried: the next model is tried at once.
- **Circuit breaker** per provider (its ``endpoint``, else the model's name), shared across
  requests (:class:`~tether.route.breaker.Breakers`): an open breaker skips the model.
- **Context overflow** (:class:`~tether.errors.ContextOverflow`): the request's passages are
  halved, dropping the LAST ones (the packer orders them best-first and ``[n]`` indexes the list,
  so numbering stays valid), and the same model is asked again; shrinking does not use attempts.
  Each model starts again from the full list (windows differ).
- **Deadline**: the whole request (attempts, sleeps, fallbacks; a stream up to its last delta)
  has ``deadline_s``. No attempt starts and no sleep runs past it. A blocking ``generate`` call is
  not interrupted: each call is bounded by its model's own ``timeout_s``.
- **Streams**: the first delta must come within ``first_token_timeout_s`` and the whole stream
  within the deadline (the iterator is advanced in a helper thread, in lockstep with the caller,
  so waits can time out). A stream that fails BEFORE its first delta is retried / falls back
  like ``generate``. One that fails AFTER deltas were yielded raises ``ProviderError`` (a
  ``ProviderTimeout`` for a timeout): the caller already showed those tokens, so the grounding /
  streaming layer (:mod:`tether.ground.stream`) decides what to do, not this one.
- When every model failed: :class:`~tether.errors.ProviderUnavailable` (HTTP 503) whose
  ``details["tried"]`` lists each model, its attempts and the last reason (no keys, no prompt).

Every decision is a trace event: ``model.retry``, ``model.shrink``, ``model.fallback``,
``breaker.open``, ``breaker.close``, ``model.stream_broken``, ``model.unavailable``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tether.errors import ConfigError, ContextOverflow, ProviderError, ProviderTimeout, ProviderUnavailable, TetherError
from tether.generate.base import GenerationRequest, Generator, GeneratorBase
from tether.observe.trace import Trace, null_trace
from tether.route.breaker import Breakers
from tether.route.pump import Pump, WaitTimeout
from tether.settings import ResilienceSettings
from tether.types import Generation

log = logging.getLogger(__name__)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")


def model_name(gen: Any) -> str:
    """The registry name of a chain member (``Metered.model_name``), else its ``name``."""
    return str(getattr(gen, "model_name", None) or gen.name)


def provider_key(gen: Generator) -> str:
    """What a breaker is keyed on: the provider's ``endpoint`` (base URL), else the model's name."""
    return gen.endpoint.rstrip("/") or model_name(gen)


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, ContextOverflow) or not isinstance(exc, ProviderError):
        return False
    if isinstance(exc, ProviderTimeout):
        return True
    status = exc.details.get("status")
    return status is None or status in RETRYABLE_STATUS


def reason_of(exc: BaseException) -> str:
    """A short, content-free reason code for traces and ProviderUnavailable."""
    if isinstance(exc, ContextOverflow):
        return "context_overflow"
    if isinstance(exc, ProviderTimeout):
        return str(exc.details.get("reason") or "timeout")
    if isinstance(exc, ProviderError):
        status = exc.details.get("status")
        return f"http_{status}" if status is not None else str(exc.details.get("reason") or "transport")
    return f"error:{type(exc).__name__}"


def retry_after_s(exc: BaseException, now: Callable[[], float] = time.time) -> float | None:
    """The provider's ``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = exc.details.get("retry_after") if isinstance(exc, TetherError) else None
    if value is None or value == "":
        return None
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pass
    try:
        return max(0.0, parsedate_to_datetime(str(value)).timestamp() - now())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def backoff_s(failed_attempts: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Full jitter: U(0, min(max_s, base_s * 2**(failed_attempts - 1)))."""
    return rng.uniform(0.0, min(max_s, base_s * 2 ** max(0, failed_attempts - 1)))


@dataclass
class ResilienceStats:
    """What one Resilient did over its requests (the bench and the engine read it)."""

    retries: int = 0
    fallbacks: int = 0
    shrinks: int = 0
    breaker_skips: int = 0
    #: Registry name of the model that produced the last successful answer.
    model: str = ""


class _Failed(Exception):
    def __init__(self, reason: str, attempts: int, cause: BaseException | None) -> None:
        super().__init__(reason)
        self.reason, self.attempts, self.cause = reason, attempts, cause


class Resilient(GeneratorBase):
    """A Generator over an ordered chain of generators (primary first)."""

    def __init__(self, chain: Sequence[Generator], settings: ResilienceSettings | None = None, *,
                 breakers: Breakers | None = None, trace: Trace | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        if not chain:
            raise ConfigError("a resilient generator needs at least one model")
        self.chain = list(chain)
        self.settings = settings or ResilienceSettings()
        self.breakers = breakers or Breakers.from_settings(self.settings)
        self.trace = trace or null_trace()
        self.sleep, self.clock, self.rng = sleep, clock, rng or random.Random()
        primary = self.chain[0]
        self.name = primary.name
        self.model_name = model_name(primary)
        self.capabilities = replace(primary.capabilities,
                                    json_schema=any(g.capabilities.json_schema for g in self.chain))
        self.stats = ResilienceStats()

    # -- the protocol ---------------------------------------------------------------------------

    def generate(self, req: GenerationRequest) -> Generation:
        deadline = self.clock() + self.settings.deadline_s
        gen, _, result = self._run(req, deadline, lambda g, r: g.generate(r))
        return result

    def stream(self, req: GenerationRequest) -> Iterator[str]:
        deadline = self.clock() + self.settings.deadline_s
        gen, key, (pump, first) = self._run(req, deadline, lambda g, r: self._open(g, r, deadline))
        name, sent = model_name(gen), 0
        try:
            if first is None:
                return
            yield first
            sent = 1
            while True:
                try:
                    item = pump.next(self._left(deadline))
                except StopIteration:
                    return
                except WaitTimeout:
                    raise self._broken(name, key, sent, ProviderTimeout(
                        "the model's stream exceeded the request deadline", model=name, reason="deadline")) from None
                except ProviderError as exc:
                    raise self._broken(name, key, sent, exc)  # noqa: B904 - re-raises exc itself, its cause kept
                except Exception as exc:  # noqa: BLE001 - translated below
                    raise self._broken(name, key, sent, exc) from exc
                if item:
                    sent += 1
                    yield item
        finally:
            pump.close()

    # -- internals ------------------------------------------------------------------------------

    def _left(self, deadline: float) -> float:
        return max(0.0, deadline - self.clock())

    def _event(self, name: str, **attrs: Any) -> None:
        self.trace.event(name, **attrs)

    def _open(self, gen: Generator, req: GenerationRequest, deadline: float) -> tuple[Pump, str | None]:
        """Start a stream and wait for its first non-empty delta (None: it ended empty)."""
        pump = Pump(iter(gen.stream(req)))
        ftt = self.settings.first_token_timeout_s
        limit_at = min(deadline, self.clock() + ftt) if ftt > 0 else deadline
        try:
            while True:
                try:
                    item = pump.next(max(0.0, limit_at - self.clock()))
                except StopIteration:
                    return pump, None
                except WaitTimeout:
                    why = "deadline" if limit_at >= deadline else "first_token_timeout"
                    raise ProviderTimeout("no first token from the model in time", model=model_name(gen),
                                          reason=why) from None
                if item:
                    return pump, item
        except BaseException:
            pump.close()
            raise

    def _broken(self, name: str, key: str, sent: int, exc: BaseException) -> ProviderError:
        """A stream that failed after ``sent`` deltas: record it, return the error to raise."""
        if (not isinstance(exc, ProviderError) or retryable(exc)) and self.breakers.failure(key):
            self._event("breaker.open", model=name, reason=reason_of(exc), cooldown_s=self.breakers.cooldown_s)
        self._event("model.stream_broken", model=name, reason=reason_of(exc), deltas=sent)
        if isinstance(exc, ProviderError):
            return exc
        err = ProviderError("the model's stream broke after it had started", model=name, reason=reason_of(exc))
        err.__cause__ = exc
        return err

    def _run(self, req: GenerationRequest, deadline: float,
             call: Callable[[Generator, GenerationRequest], T]) -> tuple[Generator, str, T]:
        tried: list[dict[str, object]] = []
        last: BaseException | None = None
        prev: tuple[str, str] | None = None  # (model, reason) of the model that just failed
        for gen in self.chain:
            name = model_name(gen)
            if req.json_schema is not None and not gen.capabilities.json_schema:
                tried.append({"model": name, "attempts": 0, "reason": "no_json_schema"})
                continue
            if self.clock() >= deadline:
                tried.append({"model": name, "attempts": 0, "reason": "deadline"})
                continue
            if prev is not None:
                self.stats.fallbacks += 1
                self._event("model.fallback", **{"from": prev[0], "to": name, "reason": prev[1]})
            try:
                key, result = self._try_model(gen, req, deadline, call)
            except _Failed as f:
                tried.append({"model": name, "attempts": f.attempts, "reason": f.reason})
                last, prev = f.cause or last, (name, f.reason)
                continue
            self.stats.model = name
            return gen, key, result
        summary = "; ".join(f"{t['model']}: {t['reason']}"
                            + (f" after {t['attempts']} attempts" if t["attempts"] else "") for t in tried)
        self._event("model.unavailable", tried=[dict(t) for t in tried])
        err = ProviderUnavailable(f"no model could answer ({summary})", tried=tried)
        raise err from last

    def _try_model(self, gen: Generator, req: GenerationRequest, deadline: float,
                   call: Callable[[Generator, GenerationRequest], T]) -> tuple[str, T]:
        rs, name, key = self.settings, model_name(gen), provider_key(gen)
        attempts, cur = 0, req
        while True:
            if self.clock() >= deadline:
                raise _Failed("deadline", attempts, None)
            if not self.breakers.allow(key):
                self.stats.breaker_skips += 1
                raise _Failed("breaker_open", attempts, None)
            attempts += 1
            try:
                result = call(gen, cur)
            except ContextOverflow as exc:
                self._closed(key, name)  # the provider answered: it is up
                n = len(cur.passages)
                if n <= 1:
                    raise _Failed("context_overflow", attempts, exc) from exc
                attempts -= 1
                self.stats.shrinks += 1
                self._event("model.shrink", **{"model": name, "from": n, "to": n // 2})
                cur = replace(cur, passages=cur.passages[: n // 2])
                continue
            except TetherError as exc:
                if not isinstance(exc, ProviderError):
                    raise  # the caller's mistake (InvalidInput, ConfigError): not the provider's
                reason = reason_of(exc)
                if not retryable(exc):
                    self._closed(key, name)
                    raise _Failed(reason, attempts, exc) from exc
                if self.breakers.failure(key):
                    self._event("breaker.open", model=name, reason=reason, cooldown_s=self.breakers.cooldown_s)
                    raise _Failed(reason, attempts, exc) from exc
                if attempts >= rs.max_attempts:
                    raise _Failed(reason, attempts, exc) from exc
                wait = retry_after_s(exc)
                delay = (min(wait, rs.retry_after_cap_s) if wait is not None
                         else backoff_s(attempts, rs.backoff_base_s, rs.backoff_max_s, self.rng))
                if self.clock() + delay >= deadline:
                    raise _Failed(reason, attempts, exc) from exc
                self.stats.retries += 1
                self._event("model.retry", model=name, attempt=attempts, reason=reason,
                            delay_ms=round(delay * 1000, 1), retry_after=wait is not None)
                if delay > 0:
                    self.sleep(delay)
                continue
            except Exception as exc:  # noqa: BLE001 - a broken generator is a failed model, not a crash
                log.warning("model %s failed: %s", name, type(exc).__name__, exc_info=True)
                if self.breakers.failure(key):
                    self._event("breaker.open", model=name, reason=reason_of(exc), cooldown_s=self.breakers.cooldown_s)
                raise _Failed(reason_of(exc), attempts, exc) from exc
            self._closed(key, name)
            return key, result

    def _closed(self, key: str, name: str) -> None:
        if self.breakers.success(key):
            self._event("breaker.close", model=name)


def build_chain(primary: str, settings: Any, get_generator: Callable[[str], Generator], trace: Trace | None,
                breakers: Breakers, count_tokens: Callable[[str], int] | None = None) -> Resilient:
    """The resilient generator for one request: ``primary`` then ``settings.generate.fallbacks``
    (duplicates dropped), each wrapped in :class:`~tether.generate.metered.Metered` on ``trace``.
    ``get_generator(name)`` returns the (cached) generator of a registry name."""
    from tether.generate.metered import Metered

    gs = settings.generate
    names = list(dict.fromkeys([primary, *gs.fallbacks]))
    unknown = [n for n in names if n not in gs.models]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(map(repr, unknown))} in the fallback chain; "
                          f"configured models: {', '.join(sorted(gs.models))}")
    trace = trace or null_trace()
    chain = [Metered(get_generator(n), n, gs.models[n], trace, count_tokens) for n in names]
    return Resilient(chain, gs.resilience, breakers=breakers, trace=trace)
