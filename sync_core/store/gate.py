"""One transaction at a time on a SQLite file in this process, with new runs first.

SQLite has one writer at a time. Two connections of one process competing for it do not queue:
the one that finds the database locked sleeps in SQLite's busy handler (1, 2, 5 … up to 100 ms
between tries) and can lose to the other again and again. The store's two engines (the runs' work,
and storing new runs before Slack is answered) each hold one connection, and pass this gate from
checkout to checkin, so a waiting transaction is woken the moment the previous one ends, and a new
run waiting goes before the runs' work. (Other processes on the same file still meet SQLite's lock.)
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine


class TransactionGate:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0

    def enter(self, *, urgent: bool) -> None:
        with self._changed:
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._busy or (not urgent and self._urgent_waiting):
                    self._changed.wait()
            finally:
                if urgent:
                    self._urgent_waiting -= 1
            self._busy = True

    def leave(self) -> None:
        with self._changed:
            self._busy = False
            self._changed.notify_all()

    def guard(self, engine: Engine, *, urgent: bool = False) -> None:
        """Every connection of ``engine`` passes the gate while it is checked out of the pool."""
        event.listen(engine, "checkout", lambda *_: self.enter(urgent=urgent))
        event.listen(engine, "checkin", lambda *_: self.leave())
