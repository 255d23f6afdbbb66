"""The reporter port: how a run's results reach whoever asked for them.

The run engine drives every run, whatever started it, and hands what happens to the run's
reporter: the Slack thread (``bot``), the terminal (the CLI), later the alerts channel. A reporter
never decides anything about the run: it shows it. What it has reported is kept in the run's row
(``ReportCursor``), so a run taken over by another process half-reported goes on where it stopped.
A run whose reporter is gone (a CLI run finished by a bot) gets the ``LogOnlyReporter``: its
results are in the Invoice Sync Log, where everyone can read them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sync_core.results import OrderResult, SyncStatus
from sync_core.store.tables import SyncRun

log = logging.getLogger(__name__)


@dataclass
class LiveRun:
    """A run as the process that owns it sees it now: what a reporter reads."""

    run: SyncRun  # as it was read when the run was taken, then as it finished
    counts: Counter[SyncStatus] = field(default_factory=Counter)  # results so far, this process's and before
    cancel_requested_by: str | None = None
    resumed: bool = False  # taken over from a process that died, or left by one

    @property
    def run_id(self) -> int:
        assert self.run.id is not None
        return self.run.id

    @property
    def total(self) -> int:
        return self.run.total

    @property
    def done(self) -> int:
        return sum(self.counts.values())


class ReportCursor:
    """How far the report got, in the reporter's own unit; each step is stored with the run (and
    renews its lease) before the next one is made. ``advance`` answers False once the run is not
    this process's any more: the reporter stops there, posting nothing more."""

    def __init__(self, position: int, store: Callable[[int], Awaitable[bool]]) -> None:
        self.position = position
        self._store = store

    async def advance(self) -> bool:
        if not await self._store(self.position + 1):
            return False
        self.position += 1
        return True


class Reporter(Protocol):
    async def start(self, live: LiveRun) -> None:
        """The run is taken (new or resumed): show that it started. Must not raise."""

    def result(self, live: LiveRun, result: OrderResult) -> None:
        """One more number's result (``live.counts`` already counts it)."""

    async def syncing_stopped(self, live: LiveRun) -> None:
        """Every number has its result (or the run is not this process's any more)."""

    async def report(self, live: LiveRun, results: Sequence[OrderResult], cursor: ReportCursor) -> bool:
        """Show the results, from ``cursor`` on; True once all is shown, False when the cursor says
        the run went to another process. An exception the reporter's ``may_work_later`` accepts is
        tried again later (the results wait in the database)."""

    def may_work_later(self, exc: BaseException) -> bool:
        """Whether reporting may work if tried again later (the surface is down, rate-limiting)."""

    async def give_up(self, live: LiveRun, exc: BaseException) -> None:
        """The surface refused for good: say so where it can; the results stay in the log."""

    async def close(self) -> None:
        """The process lets go of the run (done, stopping, or taken over)."""


class QuietReporter:
    """A reporter that shows nothing: each surface overrides what it shows."""

    async def start(self, live: LiveRun) -> None:
        pass

    def result(self, live: LiveRun, result: OrderResult) -> None:
        pass

    async def syncing_stopped(self, live: LiveRun) -> None:
        pass

    async def report(self, live: LiveRun, results: Sequence[OrderResult], cursor: ReportCursor) -> bool:
        return True

    def may_work_later(self, exc: BaseException) -> bool:
        return False

    async def give_up(self, live: LiveRun, exc: BaseException) -> None:
        pass

    async def close(self) -> None:
        pass


class LogOnlyReporter(QuietReporter):
    """For a run whose surface is not in this process: a CLI run left by a killed ``salla-sync``
    and finished by a bot, say. Its results are in the Invoice Sync Log."""

    async def start(self, live: LiveRun) -> None:
        log.info("run %s (%s, %s) is finished here; its results go to the Invoice Sync Log only",
                 live.run_id, live.run.source, live.run.requested_by)

    async def report(self, live: LiveRun, results: Sequence[OrderResult], cursor: ReportCursor) -> bool:
        log.info("run %s finished: %s", live.run_id,
                 ", ".join(f"{n} {s.value}" for s, n in sorted(live.counts.items(), key=lambda kv: kv[0].value)))
        return True
