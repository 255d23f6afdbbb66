"""Per-store rate limits, in the two shapes a client must survive.

* ``FixedWindow``: what Salla documents. ``limit`` requests per fixed window (60 s), then a "leak
  limit" of 1 request a second until the window resets. A window starts at the first request after
  the previous one ended (so a run starts on a fresh window and its bound can be computed).
* ``LeakyBucket``: ``capacity`` slots refilled ``refill_per_second`` a second, of any size and drain
  rate (``per_minute`` gives the plan's capacity refilled evenly over a minute).

Each ``take()`` answers one request with an ``Admission``: allowed or not, and the values of the
``X-RateLimit-*`` headers. ``X-RateLimit-Reset`` is when the budget is whole again (the window's end;
the bucket full), as an epoch (Salla's documented reading) or, with ``reset_as="delay"``, as seconds
from now (the reading of one public client).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

RESET_STYLES = ("epoch", "delay")


@dataclass(frozen=True)
class Admission:
    """A rate limit's answer to one request, with the values of the rate-limit headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_in: float  # seconds until the budget is whole again
    retry_after: int  # whole seconds to wait before retrying, at least 1; 0 when allowed
    reset_as: str = "epoch"

    @property
    def reset(self) -> int:
        """``X-RateLimit-Reset`` as an epoch, rounded up: waiting until then is always enough."""
        return math.ceil(time.time() + self.reset_in)

    def headers(self) -> dict[str, str]:
        reset = self.reset if self.reset_as == "epoch" else math.ceil(self.reset_in)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateModel(Protocol):
    def take(self) -> Admission: ...

    def refill(self) -> None: ...


def _retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


def _check_reset_style(reset_as: str) -> str:
    if reset_as not in RESET_STYLES:
        raise ValueError(f"reset_as must be one of {RESET_STYLES}")
    return reset_as


class LeakyBucket:
    def __init__(self, capacity: int, refill_per_second: float, *, reset_as: str = "epoch",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("a bucket needs capacity >= 1 and a positive refill rate")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self.reset_as = _check_reset_style(reset_as)
        self._clock = clock  # seconds; the tests step a clock of their own
        self._level = float(capacity)  # slots available now (slot counting, not money)
        self._updated = clock()
        self._lock = threading.Lock()

    @classmethod
    def per_minute(cls, requests_per_minute: int, *, reset_as: str = "epoch") -> LeakyBucket:
        """Salla's plans (120, 360 or 720 requests a minute) as a bucket refilled evenly."""
        return cls(requests_per_minute, requests_per_minute / 60.0, reset_as=reset_as)

    def take(self) -> Admission:
        with self._lock:
            now = self._clock()
            self._level = min(self.capacity, self._level + (now - self._updated) * self.refill_per_second)
            self._updated = now
            allowed = self._level >= 1.0
            if allowed:
                self._level -= 1.0
            return Admission(
                allowed=allowed,
                limit=self.capacity,
                remaining=int(self._level),
                reset_in=(self.capacity - self._level) / self.refill_per_second,
                retry_after=0 if allowed else _retry_after((1.0 - self._level) / self.refill_per_second),
                reset_as=self.reset_as,
            )

    def refill(self) -> None:
        """Fill the bucket up (tests: start a phase with a full bucket)."""
        with self._lock:
            self._level = float(self.capacity)
            self._updated = self._clock()


class FixedWindow:
    """``limit`` requests per ``window_seconds``, then ``leak_per_second`` until the window ends.

    The leak has no burst: once the budget is spent, a request is allowed when a whole slot has
    leaked in since the budget ran out or since the last leaked request (0 turns the leak off).
    """

    def __init__(self, limit: int, *, window_seconds: float = 60.0, leak_per_second: float = 1.0,
                 reset_as: str = "epoch", clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_seconds <= 0 or leak_per_second < 0:
            raise ValueError("a window needs limit >= 1, a positive length and a leak >= 0")
        self.limit = limit
        self.window_seconds = window_seconds
        self.leak_per_second = leak_per_second
        self.reset_as = _check_reset_style(reset_as)
        self._clock = clock  # seconds; the tests step a clock of their own
        self._lock = threading.Lock()
        self._start: float | None = None  # the current window's start; None before the first request
        self._used = 0
        self._leaked = 0.0  # leak credit, at most one slot
        self._leak_at = 0.0

    def _roll(self, now: float) -> None:
        if self._start is None or now >= self._start + self.window_seconds:
            self._start, self._used, self._leaked, self._leak_at = now, 0, 0.0, now

    def take(self) -> Admission:
        with self._lock:
            now = self._clock()
            self._roll(now)
            assert self._start is not None
            ends_in = self._start + self.window_seconds - now
            if self._used < self.limit:
                self._used += 1
                if self._used == self.limit:  # the leak starts from empty when the budget runs out
                    self._leaked, self._leak_at = 0.0, now
                return self._admission(True, self.limit - self._used, ends_in, 0)
            self._leaked = min(1.0, self._leaked + (now - self._leak_at) * self.leak_per_second)
            self._leak_at = now
            if self._leaked >= 1.0:
                self._leaked -= 1.0
                return self._admission(True, 0, ends_in, 0)
            if self.leak_per_second > 0:
                next_slot = (1.0 - self._leaked) / self.leak_per_second
                wait = min(next_slot, ends_in)
            else:
                wait = ends_in
            return self._admission(False, 0, ends_in, _retry_after(wait))

    def _admission(self, allowed: bool, remaining: int, reset_in: float, retry_after: int) -> Admission:
        return Admission(allowed=allowed, limit=self.limit, remaining=remaining, reset_in=max(0.0, reset_in),
                         retry_after=retry_after, reset_as=self.reset_as)

    def refill(self) -> None:
        """Start a fresh window at the next request (tests: start a phase with a whole budget)."""
        with self._lock:
            self._start = None


def rate_model(kind: str, requests_per_minute: int, *, reset_as: str = "epoch") -> RateModel:
    """A store's plan as ``"window"`` (Salla's documented window and leak) or ``"bucket"``."""
    if kind == "window":
        return FixedWindow(requests_per_minute, reset_as=reset_as)
    if kind == "bucket":
        return LeakyBucket.per_minute(requests_per_minute, reset_as=reset_as)
    raise ValueError(f'rate_model must be "window", "bucket" or a model object, not {kind!r}')
