"""What both API clients share: rate pacing from the server's headers, and bounded retries.

Reads (GET) retry on anything transient. Writes (POST) retry only where the server certainly
did nothing (could not connect, 429); any other failure of a write is ``OutcomeUnknown`` and the
sync service settles it by looking the idempotency key up before trying again.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

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


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class RateLimitPacer:
    """Keeps a client under a request-per-minute budget it learns from ``X-RateLimit-*`` headers.

    Model: a bucket of ``limit`` requests that refills at ``limit``/``window`` a second (Salla's
    leaky bucket, window 60 s). The estimate is the last ``Remaining`` seen, less the requests still
    in flight (the server may not have counted them yet), less what was sent since, plus what
    leaked back in since. The first request goes alone, to learn the budget before a burst. A 429
    stops everyone until its ``Retry-After`` has passed.
    """

    def __init__(self, *, window: float = 60.0, reserve: int = 1, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.reserve = reserve
        self._clock = clock
        self._limit: int | None = None
        self._remaining: float = 0.0
        self._observed_at = 0.0
        self._blocked_until = 0.0
        self._in_flight = 0
        self._first_answer = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def _leak(self) -> float:
        return (self._limit or 60) / self.window

    def _estimate(self, now: float) -> float:
        if self._limit is None:
            return float("inf")
        return min(float(self._limit), self._remaining + (now - self._observed_at) * self._leak)

    async def acquire(self) -> None:
        """Wait until a request may go out, then count it as sent."""
        async with self._lock:  # one waiter at a time keeps requests in FIFO order
            if self._in_flight and not self._first_answer.is_set():
                await self._first_answer.wait()
            while True:
                now = self._clock()
                if now < self._blocked_until:
                    await asyncio.sleep(self._blocked_until - now)
                    continue
                available = self._estimate(now)
                if available >= 1 + self.reserve:
                    if self._limit is not None:
                        self._remaining = available - 1
                        self._observed_at = now
                    self._in_flight += 1
                    return
                await asyncio.sleep((1 + self.reserve - available) / self._leak)

    def release(self) -> None:
        """The request failed without an answer (it may or may not have been counted)."""
        self._in_flight = max(0, self._in_flight - 1)
        self._first_answer.set()

    def observe(self, response: httpx.Response) -> None:
        """Learn from an answer to a request that ``acquire`` let out."""
        self._in_flight = max(0, self._in_flight - 1)
        self._first_answer.set()
        headers = response.headers
        now = self._clock()
        if response.status_code == 429:
            wait = retry_after_seconds(response)
            self._blocked_until = max(self._blocked_until, now + (wait if wait is not None else 1.0))
            if self._limit is not None:
                self._remaining, self._observed_at = 0.0, now
        try:
            limit = int(headers["X-RateLimit-Limit"])
            remaining = int(headers["X-RateLimit-Remaining"])
        except (KeyError, ValueError):
            return
        self._limit = limit
        # Only ever lower the estimate from a header: answers to requests sent earlier arrive late.
        self._remaining = min(self._estimate(now), float(remaining - self._in_flight))
        self._observed_at = now

    async def send(self, request: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """Pace one request: wait for a slot, send it, learn from the answer."""
        await self.acquire()
        try:
            response = await request()
        except BaseException:
            self.release()
            raise
        self.observe(response)
        return response


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
