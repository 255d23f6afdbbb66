"""The run engine: one lease per run over its sync and its report, resume of every source, cancel in
one place. Two engines on one database stand for two processes (real HTTP to the simulators)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest

from sandbox import INVOICES, REFUND_RECEIPTS, EnerpizeSimulator
from sync_core.engine import RunBusy, Work
from sync_core.reporting import LiveRun, QuietReporter, ReportCursor
from sync_core.results import OrderResult, SyncStatus
from sync_core.store import Store
from sync_core.store.tables import RunSource, RunState
from sync_core.wiring import open_service

NUMBERS = [str(n) for n in range(1001, 1018)]
LEASE = timedelta(seconds=1)


class Recorder(QuietReporter):
    """A reporter that writes down what it is shown: one "line" per result, each counted in the run
    (the report cursor) before the next. ``hang_after``: stop dead after that many lines (the
    process is killed there)."""

    def __init__(self, hang_after: int | None = None) -> None:
        self.started = 0
        self.results: list[str] = []
        self.lines: list[str] = []
        self.reported = False
        self.hang_after = hang_after

    async def start(self, live: LiveRun) -> None:
        self.started += 1

    def result(self, live: LiveRun, result: OrderResult) -> None:
        self.results.append(result.number)

    async def report(self, live: LiveRun, results: Sequence[OrderResult], cursor: ReportCursor) -> bool:
        while cursor.position < len(results):
            if self.hang_after is not None and len(self.lines) >= self.hang_after:
                await asyncio.Event().wait()
            self.lines.append(results[cursor.position].number)
            if not await cursor.advance():
                return False
        self.reported = True
        return True


@pytest.fixture
def enerpize():
    """One dialect is enough here: the engine does not look anything up (tests/core/test_sync.py runs in each)."""
    with EnerpizeSimulator(dialect="plain") as sim:
        yield sim


@pytest.fixture
async def two(settings, database_url):
    """Two processes' services on one database, short leases."""
    async with AsyncExitStack() as stack:
        services = []
        for _ in range(2):
            store = Store(database_url)
            store.claim_lease = timedelta(seconds=2)
            stack.callback(store.close)
            service = await stack.enter_async_context(open_service(settings, store=store))
            service.engine.lease = LEASE
            service.lost_answer_pause = 0.05
            services.append(service)
        yield services


def numbers_stored(service, run_id: int) -> int:
    return len({r.number for r in service.store.run_records(run_id)})


def po_numbers(enerpize) -> list[str]:
    return [d.po_number for d in enerpize.documents[INVOICES] + enerpize.documents[REFUND_RECEIPTS]]


async def wait_for(predicate, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_run_left_by_a_dead_process_is_finished_by_another(salla, enerpize, two):
    a, b = two
    salla.latency = 0.03
    a.engine.concurrency = 2
    run = await a.engine.submit(Work(RunSource.CLI, "U1", NUMBERS))
    dying = asyncio.create_task(a.engine.drive(run.id, Recorder()))
    await wait_for(lambda: numbers_stored(a, run.id) >= 4)
    dying.cancel()  # the process dies here, mid-run
    await asyncio.gather(dying, return_exceptions=True)
    stored = {r.number for r in a.store.run_records(run.id)}
    assert 4 <= len(stored) < len(NUMBERS)

    assert await b.engine.resume() == []  # its lease is still running: maybe its owner is alive
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    assert await b.engine.resume() == [run.id]
    assert await b.engine.resume() == []  # taken: resumed once
    await b.engine.tasks.wait_idle()

    results = await b.run_results(run.id)
    assert [r.number for r in results] == NUMBERS  # every number has exactly one final status
    assert [r.number for r in results if r.status is not SyncStatus.SUCCESS] == ["1011", "1016", "1017"]
    assert len(b.store.run_records(run.id)) == len({(r.number, r.salla_invoice_id) for r in b.store.run_records(run.id)})
    row = b.store.get_run(run.id)
    assert row.state == RunState.FINISHED.value and row.reported_at is not None and row.owner is None
    assert len(po_numbers(enerpize)) == len(set(po_numbers(enerpize))) == 21 - 1  # each invoice once, the bad one never


async def test_a_live_run_is_not_driven_twice(salla, two):
    a, b = two
    salla.latency = 0.05
    run = await a.engine.submit(Work(RunSource.CLI, "U1", NUMBERS[:4]))
    assert await b.engine.resume() == []  # stored here a moment ago: leased to this process already
    first = asyncio.create_task(a.engine.drive(run.id, Recorder()))
    await wait_for(lambda: numbers_stored(a, run.id) >= 1)
    assert await b.engine.resume() == []
    with pytest.raises(RunBusy):
        await b.engine.drive(run.id, Recorder())
    assert await first


async def test_a_process_that_lost_its_lease_writes_and_reports_nothing_more(salla, enerpize, two):
    """A freezes (a long GC pause, SIGSTOP) past its lease and B takes the run over: once A thaws,
    none of its results is written and its reporter shows nothing; B finishes and reports the run."""
    a, b = two
    salla.latency = 0.05
    a.engine.concurrency = b.engine.concurrency = 1
    run = await a.engine.submit(Work(RunSource.CLI, "U1", NUMBERS))
    mine, theirs = Recorder(), Recorder()
    b.engine.register(RunSource.CLI, lambda _run: theirs)
    frozen, thawed = threading.Event(), threading.Event()
    renew, sync_number = a.store.renew_run, a.orders.sync_number

    def renew_when_thawed(*args, **kwargs):
        if frozen.is_set():
            thawed.wait()
        return renew(*args, **kwargs)

    async def sync_when_thawed(*args, **kwargs):
        if frozen.is_set():
            await asyncio.to_thread(thawed.wait)
        return await sync_number(*args, **kwargs)

    a.store.renew_run, a.orders.sync_number = renew_when_thawed, sync_when_thawed
    driving = asyncio.create_task(a.engine.drive(run.id, mine))
    try:
        await wait_for(lambda: numbers_stored(a, run.id) >= 2)
        frozen.set()
        # A's lease runs out a lease after its last write (a number in flight may still write one).
        await asyncio.sleep(LEASE.total_seconds())
        taken: list[int] = []
        for _ in range(100):
            taken = await b.engine.resume()
            if taken:
                break
            await asyncio.sleep(0.1)
        assert taken == [run.id]
        await b.engine.tasks.wait_idle()
        written = len(b.store.run_records(run.id))
    finally:
        thawed.set()  # never leave A's threads waiting, whatever failed above
    assert await driving is False  # A learns it lost the run at its next write or renewal, and stops

    assert not mine.reported and mine.lines == []
    assert theirs.reported and theirs.lines == NUMBERS
    records = b.store.run_records(run.id)
    assert len(records) == written  # nothing from A after the take-over
    assert sorted({r.number for r in records}) == sorted(NUMBERS)
    assert len(records) == len({(r.number, r.salla_invoice_id) for r in records})  # no number twice
    assert len(po_numbers(enerpize)) == len(set(po_numbers(enerpize)))


async def test_a_run_resumed_half_reported_reports_only_the_rest(salla, two):
    a, b = two
    run = await a.engine.submit(Work(RunSource.CLI, "U1", NUMBERS[:6]))
    first = Recorder(hang_after=2)
    dying = asyncio.create_task(a.engine.drive(run.id, first))
    await wait_for(lambda: len(first.lines) == 2 and a.store.get_run(run.id).report_cursor == 2)
    dying.cancel()  # killed while posting the third line
    await asyncio.gather(dying, return_exceptions=True)
    calls = len(salla.calls)

    second = Recorder()
    b.engine.register(RunSource.CLI, lambda _run: second)
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    assert await b.engine.resume() == [run.id]
    await b.engine.tasks.wait_idle()
    assert len(salla.calls) == calls  # synced already: not again
    assert first.lines + second.lines == NUMBERS[:6]  # no line twice, none missing
    assert b.store.get_run(run.id).reported_at is not None


async def test_cancel_from_another_process_reaches_the_owner(salla, two):
    a, b = two
    salla.latency = 0.05
    a.engine.concurrency = 1
    run = await a.engine.submit(Work(RunSource.CLI, "U1", NUMBERS))
    recorder = Recorder()
    driving = asyncio.create_task(a.engine.drive(run.id, recorder))
    await wait_for(lambda: len(recorder.results) >= 1)
    assert await b.engine.cancel(run.id, by="U2")
    assert await driving
    results = await a.run_results(run.id)
    assert len(results) == len(NUMBERS)
    assert sum(r.status is SyncStatus.CANCELLED for r in results) >= len(NUMBERS) - 5
    row = b.store.get_run(run.id)
    assert row.state == RunState.CANCELLED.value and row.cancel_requested_by == "U2"
    assert not await b.engine.cancel(run.id, by="U3")  # over: nothing left to cancel


async def test_a_source_this_process_does_not_resume_is_left_alone(two):
    a, b = two
    run = await a.engine.submit(Work(RunSource.SLACK, "U1", ["1001"]))
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    b.engine.resumes = frozenset({RunSource.CLI})  # a CLI must not finish a Slack run without its thread
    assert await b.engine.resume() == []
    b.engine.resumes = None
    assert await b.engine.resume() == [run.id]
    await b.engine.tasks.wait_idle()
    assert b.store.get_run(run.id).reported_at is not None  # no Slack here: its results are in the log
