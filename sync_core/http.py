"""What both API clients share: rate pacing from the server's headers (``sync_core.pacing``), and
bounded retries.

Reads (GET) retry on anything transient. Writes (POST) retry only where the server certainly
did nothing (could not connect, 429); any other failure of a write is ``OutcomeUnknown`` and the
sync service settles it by looking the idempotency key up before trying again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from sync_core.pacing import RateLimitPacer
from sync_core.rate_headers import retry_after_seconds

__all__ = ["ATTEMPTS", "RATE_LIMITED_ATTEMPTS", "ApiError", "OutcomeUnknown", "RateLimitPacer", "Unreachable",
           "retry_after_seconds", "with_retries", "write_transient"]

log = logging.getLogger(__name__)


class ApiError(Exception):
    """The API answered with an error. ``message`` is readable by a finance clerk."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status == 429 or self.status >= 500


class OutcomeUnknown(Exception):
    """A write was sent but its answer was lost: it may or may not have taken effect."""


class Unreachable(Exception):
    """The API could not be reached after the retries."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.transient
    return isinstance(exc, (httpx.TimeoutException, httpx.TransportError))


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, ApiError) and exc.retry_after is not None:
        return exc.retry_after + random.uniform(0, 0.25)
    # Full jitter over an exponential ceiling: 0.2, 0.4, 0.8 … s, at most 5 s.
    return random.uniform(0, min(5.0, 0.2 * 2 ** (state.attempt_number - 1))) + 0.05


RATE_LIMITED_ATTEMPTS = 12  # a 429 says "later", not "broken": it gets more patience than a 5xx
# Tries of a call that fails transiently (5xx, timeout, dropped connection): with the backoff above,
# about 6 s of waiting on average and 12 s at most, so a short outage of Salla or Enerpize (a
# deploy, a blip) delays the orders in flight instead of failing them all (up to
# SALLA_SYNC_CONCURRENCY of them at once).
ATTEMPTS = 7


def _stop(attempts: int) -> Callable[[RetryCallState], bool]:
    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = RATE_LIMITED_ATTEMPTS if isinstance(exc, ApiError) and exc.status == 429 else attempts
        return state.attempt_number >= limit

    return stop


async def with_retries(call: Callable[[], Awaitable[httpx.Response]], *, attempts: int,
                       transient: Callable[[BaseException], bool] = _is_transient) -> httpx.Response:
    """Run ``call`` until it succeeds, retrying transient failures with jittered backoff."""
    retrying = AsyncRetrying(stop=_stop(attempts), wait=_wait, retry=retry_if_exception(transient), reraise=True)
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover


def write_transient(exc: BaseException) -> bool:
    """A write may be retried only when the server certainly did not act on it."""
    if isinstance(exc, ApiError):
        return exc.status == 429
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
