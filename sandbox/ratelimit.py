"""A leaky bucket, the way Salla describes its per-store rate limit.

The bucket holds ``capacity`` request slots and refills ``refill_per_second`` slots a second.
A request takes one slot; with none left it is refused and told how long to wait.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Admission:
    """The bucket's answer to one request, with the values of the rate-limit headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds: when a slot frees (bucket empty) or the bucket is full again
    retry_after: int  # whole seconds to wait before retrying, at least 1; 0 when allowed

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class LeakyBucket:
    def __init__(self, capacity: int, refill_per_second: float) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("a bucket needs capacity >= 1 and a positive refill rate")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._level = float(capacity)  # slots available now (slot counting, not money)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def per_minute(cls, requests_per_minute: int) -> LeakyBucket:
        """Salla's plans: 120, 360 or 720 requests a minute, refilled evenly."""
        return cls(requests_per_minute, requests_per_minute / 60.0)

    def take(self) -> Admission:
        with self._lock:
            now = time.monotonic()
            self._level = min(self.capacity, self._level + (now - self._updated) * self.refill_per_second)
            self._updated = now
            allowed = self._level >= 1.0
            if allowed:
                self._level -= 1.0
            remaining = int(self._level)
            if remaining >= 1:
                wait = (self.capacity - self._level) / self.refill_per_second
            else:
                wait = (1.0 - self._level) / self.refill_per_second
            return Admission(
                allowed=allowed,
                limit=self.capacity,
                remaining=remaining,
                reset=math.ceil(time.time() + wait),
                retry_after=0 if allowed else max(1, math.ceil(wait)),
            )

    def refill(self) -> None:
        """Fill the bucket up (tests: start a phase with a full bucket)."""
        with self._lock:
            self._level = float(self.capacity)
            self._updated = time.monotonic()
