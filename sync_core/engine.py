"""The run engine: every source of work (the Slack modal, the CLI, the audit, Salla's webhooks)
hands its numbers here, and every run goes the same way.

    submit(work)  -> the run is stored, leased to this process from that moment
    drive(run)    -> sync its numbers not yet done, then report them, under that one lease
    resume()      -> take over the runs whose owner is gone, of every source, and drive them

One lease per run covers its sync and the reporting of its results: the process that holds it is
the only one that syncs a number of the run or reports anything about it; it renews the lease
while it works (and notices a cancel asked for elsewhere); another process takes the run over
only once the lease ran out. Results stream once to the run's reporter (``reporting.py``); how far
its report got is kept in the run's row, so a run taken over half-reported goes on from there. A
run whose reporter is not in this process (a CLI run resumed by a bot) is finished all the same:
its results are in the Invoice Sync Log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlmodel import SQLModel

from sync_core import metrics
from sync_core.intake import RunIntake
from sync_core.logs import logging_context
from sync_core.order_sync import OrderSync
from sync_core.reporting import LiveRun, LogOnlyReporter, ReportCursor, Reporter
from sync_core.results import OrderResult, SyncStatus
from sync_core.store import Store
from sync_core.store.records import results_of
from sync_core.store.runs import ACTIVE, NewRun
from sync_core.store.tables import RunSource, RunState, SyncRun
from sync_core.tasks import TaskSet

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 5.0  # how soon a cancel asked for through another process is noticed at most

ReporterFactory = Callable[[SyncRun], Reporter]


class NumberSync(Protocol):
    """Syncs one number of a run; never raises (``OrderSync`` for typed numbers)."""

    async def sync_number(self, number: str, run_id: int | None = None) -> OrderResult: ...


class RunBusy(Exception):
    """Another live process holds this run (or this process drives it already)."""


@dataclass(frozen=True)
class Work:
    """What a source hands the engine: the numbers, who asked, from where; ``along(run_id)`` gives
    the rows the source keeps about the run (its Slack thread), stored in the same transaction."""

    source: RunSource
    requested_by: str
    numbers: Sequence[str]
    retry_of: int | None = None
    along: Callable[[int], Iterable[SQLModel]] | None = None


@dataclass
class _Control:
    live: LiveRun
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)  # the lease went to another process


class RunEngine:
    """One per process. ``register(source, factory)`` says how this process reports a source's runs;
    ``resumes``: the sources whose orphaned runs this process takes over (None: all of them)."""

    def __init__(self, orders: OrderSync, store: Store, *, concurrency: int = 8,
                 lease: timedelta = timedelta(seconds=30), report_retry: tuple[float, float] = (1.0, 30.0)) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.orders = orders
        self.store = store
        self.concurrency = concurrency
        self.lease = lease
        self.report_retry = report_retry  # first wait, longest wait, while the reporter's surface is away
        self.reporters: dict[RunSource, ReporterFactory] = {}
        self.syncers: dict[RunSource, NumberSync] = {}  # a source whose numbers are not typed ones
        self.resumes: frozenset[RunSource] | None = None
        self._intake = RunIntake(store, owner=self.owner, lease=lease)
        self._runs: dict[int, _Control] = {}
        self._driving: Counter[int] = Counter()  # runs launched here (maybe not started yet)
        self.tasks = TaskSet()  # runs, and whatever the surfaces hand over (``spawn``)
        self._resumer: asyncio.Task | None = None
        self._slots: asyncio.Semaphore | None = None
        self._slots_size = 0
        metrics.track_engine(self)

    def register(self, source: RunSource, factory: ReporterFactory) -> None:
        self.reporters[source] = factory

    def sync_source(self, source: RunSource, syncer: NumberSync) -> None:
        """Sync ``source``'s numbers with ``syncer`` instead of as typed numbers (webhook runs)."""
        self.syncers[source] = syncer

    @property
    def running(self) -> list[int]:
        """The runs this process drives now."""
        return sorted(self._runs)

    # --- starting runs ------------------------------------------------------------------------

    async def submit(self, work: Work) -> SyncRun:
        """Store the run (so nothing is lost if the process dies), leased to this process so no
        other one starts it first; fast under a burst of submissions (``sync_core.intake``)."""
        self._intake.lease = self.lease
        return await self._intake.add(NewRun(list(work.numbers), work.requested_by, work.source, work.retry_of,
                                             work.along))

    def launch(self, run_id: int, reporter: Reporter | None = None) -> asyncio.Task:
        """Drive the run as a task of the engine's (``wait_idle`` waits for it)."""
        self._driving[run_id] += 1
        task = self.tasks.spawn(self._drive_quietly(run_id, reporter), name=f"salla-sync-run-{run_id}")
        task.add_done_callback(lambda _: self._undrive(run_id))
        return task

    async def sync(self, numbers: Sequence[str], *, requested_by: str, source: RunSource | str,
                   retry_of: int | None = None, reporter: Reporter | None = None) -> tuple[int, list[OrderResult]]:
        """Submit and drive a run here, to the end; its id and results in input order."""
        run = await self.submit(Work(RunSource(source), requested_by, numbers, retry_of))
        assert run.id is not None
        await self.drive(run.id, reporter)
        return run.id, await asyncio.to_thread(self.store.run_results, run.id)

    async def retry(self, run_id: int, *, requested_by: str, source: RunSource | str,
                    reporter: Reporter | None = None) -> tuple[int, list[OrderResult]] | None:
        """Re-run the numbers of ``run_id`` that failed, as a new run linked to it; None if none failed."""
        numbers = await self.failed_numbers(run_id)
        if not numbers:
            return None
        return await self.sync(numbers, requested_by=requested_by, source=source, retry_of=run_id, reporter=reporter)

    async def failed_numbers(self, run_id: int) -> list[str]:
        results = await asyncio.to_thread(self.store.run_results, run_id)
        return [r.number for r in results if r.status is SyncStatus.FAILED]

    # --- resuming -----------------------------------------------------------------------------

    async def resume(self) -> list[int]:
        """Launch the runs whose owner is gone (a crash, ``kill -9``, a deploy, a replica that died),
        whatever they were doing: syncing, or reporting. Their ids; each is taken by one process."""
        orphans = await asyncio.to_thread(self.store.orphaned_runs, self.resumes)
        launched = []
        for run in orphans:
            if run.id is None or run.id in self._driving:
                continue
            if not await asyncio.to_thread(self.store.acquire_run, run.id, self.owner, self.lease):
                continue  # another process took it first
            log.info("resuming run %s (%s)", run.id, run.source)
            self.launch(run.id)
            launched.append(run.id)
        return launched

    def start_resuming(self) -> asyncio.Task:
        """Resume what is left now, then look again every third of the lease, for the life of the
        process (so a replica takes over the runs of one that died). ``shutdown`` stops it."""
        if self._resumer is None or self._resumer.done():
            self._resumer = asyncio.get_running_loop().create_task(self._keep_resuming(), name="salla-sync-resume")
        return self._resumer

    async def _keep_resuming(self) -> None:
        while True:
            try:
                await self.resume()
            except Exception as exc:  # the database is away for a moment: look again later
                log.warning("could not look for runs to resume (%s)", type(exc).__name__)
            await asyncio.sleep(self.lease.total_seconds() / 3)

    # --- cancel -------------------------------------------------------------------------------

    async def cancel(self, run_id: int, by: str | None = None) -> bool:
        """Stop the run's numbers not yet started (they end ``Cancelled``), wherever it is driven:
        here at once, elsewhere when its owner next renews the lease. False when it is not syncing."""
        asked = await asyncio.to_thread(self.store.request_cancel, run_id, by)
        control = self._runs.get(run_id)
        if control is not None and asked:
            control.live.cancel_requested_by = control.live.cancel_requested_by or by
            control.cancelled.set()
        return asked

    async def shutdown(self, timeout: float = 20.0) -> None:
        """Stop resuming; let runs finish for a while, then stop them: what is left is resumed after
        one lease by another process (or this one, restarted)."""
        if self._resumer is not None:
            self._resumer.cancel()
            await asyncio.gather(self._resumer, return_exceptions=True)
            self._resumer = None
        await self.tasks.shutdown(timeout)

    def _undrive(self, run_id: int) -> None:
        self._driving[run_id] -= 1
        if self._driving[run_id] <= 0:
            del self._driving[run_id]

    # --- one run ------------------------------------------------------------------------------

    async def _drive_quietly(self, run_id: int, reporter: Reporter | None) -> None:
        try:
            await self.drive(run_id, reporter)
        except RunBusy:
            log.warning("run %s is held by another process; leaving it to that one", run_id)

    async def drive(self, run_id: int, reporter: Reporter | None = None) -> bool:
        """Sync the run's numbers that have no result yet, then report the run, holding its lease
        throughout. True once everything is reported; False when the run went to another process
        or this one stopped (what is done is kept: the run is resumed after its lease).
        ``RunBusy`` when a live process holds it."""
        if run_id in self._runs:
            raise RunBusy(run_id)
        if not await asyncio.to_thread(self.store.acquire_run, run_id, self.owner, self.lease):
            raise RunBusy(run_id)
        run = await asyncio.to_thread(self.store.get_run, run_id)
        assert run is not None
        if reporter is None:
            factory = self.reporters.get(RunSource(run.source))
            reporter = factory(run) if factory is not None else LogOnlyReporter()
        results = {r.number: r for r in results_of(run.number_list, await asyncio.to_thread(self.store.run_records,
                                                                                              run_id))}
        live = LiveRun(run, Counter(r.status for r in results.values()), cancel_requested_by=run.cancel_requested_by,
                       resumed=run.state != RunState.PENDING.value or run.report_cursor > 0)
        control = _Control(live)
        if run.cancel_requested:
            control.cancelled.set()
        self._runs[run_id] = control
        heartbeat = asyncio.create_task(self._keep_lease(control))
        try:
            await reporter.start(live)
            if run.state in ACTIVE:
                try:
                    await self._execute(control, reporter, results)
                finally:
                    await reporter.syncing_stopped(live)
                if control.lost.is_set():
                    log.warning("run %s was taken over by another process; it carries on there", run_id)
                    return False
                finished = await asyncio.to_thread(self.store.finish_run, run_id, self.owner, self._ordered(run, results),
                                                   cancelled=control.cancelled.is_set())
                if finished is None:
                    return False
                live.run = finished
            else:
                await reporter.syncing_stopped(live)
            return await self._report(control, reporter, self._ordered(run, results))
        except Exception:
            # The store or a bug. What is done is kept; the lease runs out and the run is resumed
            # (here or by another process), so no number is left without a status.
            log.exception("run %s stopped; it will be resumed", run_id)
            return False
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            try:
                await reporter.close()
            finally:
                self._runs.pop(run_id, None)

    @staticmethod
    def _ordered(run: SyncRun, results: dict[str, OrderResult]) -> list[OrderResult]:
        return [results[n] for n in run.number_list if n in results]

    def _order_slots(self) -> asyncio.Semaphore:
        """One limit on orders in flight for the whole process, however many runs share it."""
        if self._slots is None or self._slots_size != self.concurrency:
            self._slots, self._slots_size = asyncio.Semaphore(self.concurrency), self.concurrency
        return self._slots

    async def _execute(self, control: _Control, reporter: Reporter, results: dict[str, OrderResult]) -> None:
        """Sync the numbers without a result; each result is stored (only while this process holds
        the run, renewing its lease in the same transaction), then handed to the reporter."""
        live = control.live
        run_id = live.run_id
        if not await asyncio.to_thread(self.store.start_run, run_id, self.owner, self.lease):
            control.lost.set()
            return
        pending = [n for n in live.run.number_list if n not in results]
        queue: asyncio.Queue[tuple[str, OrderResult | None]] = asyncio.Queue()
        slots = self._order_slots()
        syncer = self.syncers.get(RunSource(live.run.source), self.orders)

        async def one(number: str) -> None:
            result = None
            try:
                async with slots:
                    if control.lost.is_set():
                        pass  # another process holds the run now; it syncs this number
                    elif control.cancelled.is_set():
                        result = OrderResult(number=number, status=SyncStatus.CANCELLED,
                                             reason="cancelled before it started")
                    else:
                        with logging_context(run_id=run_id, number=number, source=live.run.source):
                            result = await syncer.sync_number(number, run_id)
                    if result is not None and not await asyncio.to_thread(
                            self.store.add_result, run_id, result, owner=self.owner, lease=self.lease):
                        control.lost.set()
                        result = None
            finally:
                queue.put_nowait((number, result))

        tasks = [asyncio.create_task(one(n)) for n in pending]
        try:
            for _ in tasks:
                number, result = await queue.get()
                if result is None:
                    continue
                results[number] = result
                live.counts[result.status] += 1
                metrics.count_result(result, live.run.source)
                reporter.result(live, result)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        failures = [t.exception() for t in tasks if not t.cancelled() and t.exception() is not None]
        if failures:
            raise failures[0]  # the store failed: stop, keep what is done (the run is resumed)

    async def _report(self, control: _Control, reporter: Reporter, results: list[OrderResult]) -> bool:
        """Report the run, from where its report got; while the reporter's surface is away (Slack
        down) try again, backing off, for as long as this process holds the run. A refusal for good
        is the reporter's to tell; the results stay in the log. Then the run is reported."""
        live = control.live
        run_id = live.run_id

        async def store_cursor(position: int) -> bool:
            moved = await asyncio.to_thread(self.store.advance_report, run_id, self.owner, position, self.lease)
            if not moved:
                control.lost.set()
            return moved

        cursor = ReportCursor(live.run.report_cursor, store_cursor)
        first, longest = self.report_retry
        delay = first
        while not control.lost.is_set():
            try:
                if not await reporter.report(live, results, cursor):
                    return False
                break
            except Exception as exc:
                if not reporter.may_work_later(exc):
                    log.error("run %s: could not report its results (%s)", run_id, type(exc).__name__,
                              exc_info=True)
                    await reporter.give_up(live, exc)
                    break
                log.warning("run %s: its reporter's surface is unavailable (%s); the results are kept and "
                            "reported when it is back (next try in %.1f s)", run_id, type(exc).__name__, delay)
            try:
                await asyncio.wait_for(control.lost.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, longest)
        else:
            log.warning("run %s: another process took it over; it reports the results", run_id)
            return False
        return await asyncio.to_thread(self.store.mark_reported, run_id, self.owner)

    async def _keep_lease(self, control: _Control) -> None:
        """Renew the run's lease while this process works on it; notice a cancel asked for elsewhere.

        A renewal that fails (the database is away for a moment) is tried again at the next beat;
        once the lease may have run out without a renewal, the run is given up here: another
        process may have taken it over.
        """
        live = control.live
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        beat = min(self.lease.total_seconds() / 3, CANCEL_POLL_SECONDS)
        while True:
            await asyncio.sleep(beat)
            try:
                run = await asyncio.to_thread(self.store.renew_run, live.run_id, self.owner, self.lease)
            except Exception as exc:
                log.warning("run %s: could not renew its lease (%s)", live.run_id, type(exc).__name__)
                if loop.time() - renewed < self.lease.total_seconds() * 2 / 3:
                    continue
                run = None
            if run is None:
                log.warning("run %s was taken over by another process (or its lease ran out); stopping here",
                            live.run_id)
                control.lost.set()
                return
            renewed = loop.time()
            if run.cancel_requested:
                live.cancel_requested_by = live.cancel_requested_by or run.cancel_requested_by
                control.cancelled.set()
