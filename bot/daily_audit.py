"""The daily audit: yesterday's, posted in ``SALLA_SYNC_AUDIT_CHANNEL`` once a day from
``SALLA_SYNC_AUDIT_AT`` (Asia/Riyadh) on, by whichever replica gets there first (the day is a
unique key in the database). Known gap: a process that dies between taking the day and posting
leaves that day unposted; a person's ``/salla-sync audit`` covers it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from bot.audits import post_daily_audit
from bot.runs import RunWorker
from sync_core.audit import RIYADH

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0


class DailyAudit:
    def __init__(self, worker: RunWorker, channel_id: str, at: str, *,
                 now: Callable[[], datetime] = lambda: datetime.now(RIYADH), poll: float = POLL_SECONDS) -> None:
        hours, minutes = (int(part) for part in at.split(":"))
        self.worker = worker
        self.channel_id = channel_id
        self.at = time(hours, minutes)
        self.now = now
        self.poll = poll
        self._done: date | None = None  # the last day this process saw posted (by it or another)
        self._task: asyncio.Task | None = None

    def due(self) -> date | None:
        """The day whose audit is due now: yesterday, once today's time has come."""
        now = self.now().astimezone(RIYADH)
        if now.time() < self.at:
            return None
        day = now.date() - timedelta(days=1)
        return None if day == self._done else day

    async def tick(self) -> int | None:
        """Post the due audit if no process has; the audit's id when this one posted it."""
        day = self.due()
        if day is None:
            return None
        posted = await post_daily_audit(self.worker, day, self.channel_id)
        self._done = day
        return posted

    def start(self) -> asyncio.Task:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._keep_ticking(), name="salla-sync-daily-audit")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _keep_ticking(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:  # Slack or the database away: the next tick tries again
                log.warning("the daily audit could not be posted yet (%s)", type(exc).__name__)
            await asyncio.sleep(self.poll)
