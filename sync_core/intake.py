"""Storing new runs fast, for front ends that must answer quickly (Slack waits 3 seconds).

A run is stored before the request that asked for it is acknowledged, so no order is lost if the
process dies right after. When many people submit at once, each insert would wait its turn behind
the others and behind the database work of the runs already going: here the runs that arrive
while one transaction is being written are stored together in the next one (a group commit), by
a thread of its own. A batch that fails is tried again one run at a time, so one bad run fails
alone.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from datetime import timedelta

from sync_core.store import Store
from sync_core.store.runs import NewRun
from sync_core.store.tables import SyncRun


class RunIntake:
    def __init__(self, store: Store, *, owner: str | None = None, lease: timedelta | None = None) -> None:
        self._store = store
        self.owner, self.lease = owner, lease  # each run is leased to this process from the start
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="salla-sync-intake")
        self._waiting: list[tuple[NewRun, asyncio.Future[SyncRun]]] = []
        self._writer: asyncio.Task | None = None

    async def add(self, new: NewRun) -> SyncRun:
        """Store the run (with its ``along`` rows); returns it with its id once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SyncRun] = loop.create_future()
        self._waiting.append((new, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write(), name="salla-sync-intake")
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                runs = await self._insert([new for new, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                for new, future in batch:
                    try:
                        _settle(future, (await self._insert([new]))[0])
                    except Exception as alone:
                        _settle(future, alone)
                continue
            for (_, future), run in zip(batch, runs, strict=True):
                _settle(future, run)

    async def _insert(self, batch: list[NewRun]) -> list[SyncRun]:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: self._store.create_runs(batch, owner=self.owner, lease=self.lease))


def _settle(future: asyncio.Future[SyncRun], outcome: SyncRun | BaseException) -> None:
    if future.done():  # the caller gave up waiting (its request was cancelled)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
