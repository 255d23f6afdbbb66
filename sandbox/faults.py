"""Faults a test arms before a call: answer with an error, drop the connection, lose an answer.

A fault matches a call by method and by a substring of its path; it fires ``count`` times,
then disarms. Faults armed first fire first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

FAIL = "fail"  # answer with an error status
DROP = "drop"  # close the connection before any answer
LOSE = "lose"  # do the work, then never deliver the answer (drop or hang)


@dataclass
class Fault:
    action: str
    remaining: int
    status: int = 500
    path_contains: str | None = None
    method: str | None = None
    retry_after: int = 1  # sent as Retry-After when status is 429 (or 503)
    mode: str = "drop"  # for LOSE: "drop" or "hang"

    def matches(self, action: str, method: str, path: str) -> bool:
        return (
            self.action == action
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path_contains is None or self.path_contains in path)
        )


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def take(self, action: str, method: str, path: str) -> Fault | None:
        """The first armed fault matching this call, used up by one; None when none matches."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(action, method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)
