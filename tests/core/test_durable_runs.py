"""Runs survive the process that executes them: stored first, leased, taken over when it dies."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from sandbox import INVOICES, REFUND_RECEIPTS
from sync_core.results import SyncStatus
from sync_core.service import RunBusy
from sync_core.store import Store
from sync_core.wiring import open_service

NUMBERS = [str(n) for n in range(1001, 1018)]


async def test_a_run_left_by_a_dead_process_is_finished_by_another(salla, enerpize, settings, database_url):
    salla.latency = 0.03
    store_a, store_b = Store(database_url), Store(database_url)
    for store in (store_a, store_b):
        store.claim_lease = timedelta(seconds=1)
    try:
        async with open_service(settings, store=store_a) as a:
            a.run_lease = timedelta(seconds=1)
            a.concurrency = 2
            run = await a.start_run(NUMBERS, requested_by="U1", source="test")
            seen = 0
            dying = a.execute(run.id)
            async for _ in dying:
                seen += 1
                if seen == 4:
                    break  # the process dies here, mid-run
            await dying.aclose()
        assert 4 <= len({r.number for r in store_a.run_records(run.id)}) < len(NUMBERS)
        await asyncio.sleep(1.1)  # its lease runs out
        async with open_service(settings, store=store_b) as b:
            assert await b.resume_orphaned() == [run.id]
            async for _ in b.execute(run.id):
                pass
            results = await b.run_results(run.id)
    finally:
        store_a.close()
        store_b.close()
    assert [r.number for r in results] == NUMBERS  # every number has exactly one final status
    assert {r.status for r in results} <= {SyncStatus.SUCCESS, SyncStatus.FAILED, SyncStatus.NOT_FOUND}
    assert [r.number for r in results if r.status is not SyncStatus.SUCCESS] == ["1011", "1016", "1017"]
    po_numbers = [d.po_number for d in enerpize.documents[INVOICES] + enerpize.documents[REFUND_RECEIPTS]]
    assert len(po_numbers) == len(set(po_numbers)) == 21 - 1  # every invoice but the bad one, once


async def test_a_live_run_is_not_executed_twice(salla, settings, database_url):
    salla.latency = 0.05
    store_a, store_b = Store(database_url), Store(database_url)
    try:
        async with open_service(settings, store=store_a) as a, open_service(settings, store=store_b) as b:
            run = await a.start_run(NUMBERS[:4], requested_by="U1", source="test")
            first = a.execute(run.id)
            await first.__anext__()
            assert await b.resume_orphaned() == []
            with pytest.raises(RunBusy):
                async for _ in b.execute(run.id):
                    pass
            async for _ in first:
                pass
    finally:
        store_a.close()
        store_b.close()


async def test_cancel_from_another_process_reaches_the_owner(salla, settings, database_url):
    salla.latency = 0.05
    store_a, store_b = Store(database_url), Store(database_url)
    try:
        async with open_service(settings, store=store_a) as a, open_service(settings, store=store_b) as b:
            a.run_lease = timedelta(seconds=0.3)  # the heartbeat looks every 0.1 s
            a.concurrency = 1
            run = await a.start_run(NUMBERS, requested_by="U1", source="test")
            results = []
            async for result in a.execute(run.id):
                results.append(result)
                if len(results) == 1:
                    assert await b.cancel_anywhere(run.id)
    finally:
        store_a.close()
        store_b.close()
    assert len(results) == len(NUMBERS)
    assert sum(r.status is SyncStatus.CANCELLED for r in results) >= len(NUMBERS) - 5
    assert store_b.get_run(run.id).state == "cancelled"
