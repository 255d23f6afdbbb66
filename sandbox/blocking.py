"""Salla's abuse block: a store whose app keeps erring is refused with 403 for a while.

Salla documents 403 ``forbidden`` as also meaning "blocked due to many errors in particular time",
without saying how many or for how long; here ``errors`` error answers within ``window_seconds``
block the store for ``block_seconds``. ``block_for`` starts a block by hand (a fault for tests).
"""

from __future__ import annotations

import threading
import time
from collections import deque

BLOCKED_MESSAGE = "You are blocked due to many errors in particular time"


class ErrorBlock:
    def __init__(self, errors: int | None = None, block_seconds: float = 60.0, *,
                 window_seconds: float = 60.0) -> None:
        if errors is not None and errors < 1:
            raise ValueError("errors must be at least 1")
        self.errors = errors  # None: only ``block_for`` blocks
        self.block_seconds = block_seconds
        self.window_seconds = window_seconds
        self.blocked_count = 0  # requests answered 403 because of a block
        self._recent: deque[float] = deque()
        self._until = 0.0
        self._lock = threading.Lock()

    def block_for(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def blocked(self) -> bool:
        """Whether this request is refused; counts it when it is."""
        with self._lock:
            if time.monotonic() < self._until:
                self.blocked_count += 1
                return True
            return False

    def record(self, status: int) -> None:
        """Count an error answer (blocked answers are not counted: the block does not feed itself)."""
        if self.errors is None or status < 400:
            return
        with self._lock:
            now = time.monotonic()
            self._recent.append(now)
            while self._recent and self._recent[0] <= now - self.window_seconds:
                self._recent.popleft()
            if len(self._recent) >= self.errors:
                self._until = now + self.block_seconds
                self._recent.clear()
