"""Whole syncs against a rate-limited or blocked Salla simulator, over real HTTP: on both of its rate
models every order syncs in seconds with a handful of 429s at most, and a store Salla has blocked
fails its orders at once with a reason that says so."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from sandbox import INVOICES, EnerpizeSimulator, SallaSimulator, sample_store
from sandbox.ratelimit import FixedWindow
from sandbox.sample_store import COFFEE
from sandbox.settings import simulator_settings
from sync_core.results import SyncStatus
from sync_core.wiring import open_service

SYNCABLE = [str(n) for n in range(1001, 1016) if n != 1011]  # 14 orders, 20 documents
BLOCKED = "Salla has blocked this store's API access for a while (HTTP 403: "
# Generous: the user-visible bug is minutes against seconds, not a few seconds either way.
RUN_TIMEOUT = 90


def forty_orders():
    store = sample_store()
    for i in range(40 - len(SYNCABLE)):
        order = store.add_order(3000 + i, customer=None, lines=[replace(COFFEE, quantity=1 + i % 3)])
        store.add_invoice(order)
    return store, SYNCABLE + [str(3000 + i) for i in range(40 - len(SYNCABLE))]


async def sync_all(salla: SallaSimulator, enerpize: EnerpizeSimulator, database_url: str, numbers: list[str]):
    async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
        _, results = await asyncio.wait_for(service.sync(numbers, requested_by="U1", source="cli"), RUN_TIMEOUT)
    return results


async def test_forty_orders_on_a_small_bucket_with_its_own_drain_take_seconds(database_url):
    # 20 slots draining 15 a second (about 180 Salla calls): the old pacer read a drain of 20/60
    # a second into it and took many minutes.
    store, numbers = forty_orders()
    with SallaSimulator(store=store, bucket=(20, 15.0)) as salla, EnerpizeSimulator() as enerpize:
        results = await sync_all(salla, enerpize, database_url, numbers)
        assert salla.throttled_count <= 3
    assert [r.status for r in results] == [SyncStatus.SUCCESS] * 40


async def test_forty_orders_on_salla_documented_window_never_overrun_its_leak(database_url):
    # 150 requests a window, then 1 a second until it ends (a 12 s window keeps the test short): the
    # old pacer refilled 150/60 a second, past the leak, and waited out no window.
    store, numbers = forty_orders()
    model = FixedWindow(150, window_seconds=12, leak_per_second=1.0)
    with SallaSimulator(store=store, rate_model=model) as salla, EnerpizeSimulator() as enerpize:
        results = await sync_all(salla, enerpize, database_url, numbers)
        assert salla.throttled_count <= 3
    assert [r.status for r in results] == [SyncStatus.SUCCESS] * 40


async def test_a_blocked_store_fails_every_order_at_once_with_the_reason(database_url):
    with SallaSimulator(store=sample_store(), rate_limit_per_minute=120) as salla, \
            EnerpizeSimulator() as enerpize:
        salla.block_for(60)
        results = await sync_all(salla, enerpize, database_url, SYNCABLE)
        assert salla.call_count() == 1  # the first request goes alone; its 403 stops all the others
    assert all(r.status is SyncStatus.FAILED for r in results)
    assert all(r.reason.startswith(BLOCKED) and r.reason.endswith("re-run in a few minutes") for r in results), \
        results[0].reason
    assert enerpize.documents[INVOICES] == []


async def test_a_block_after_too_many_errors_stops_the_run_without_hammering(database_url):
    # Three 5xx in a row get the store blocked; the orders in flight then fail with the reason,
    # and none of them asks Salla again while it is blocked.
    with SallaSimulator(store=sample_store(), block_after_errors=(3, 60)) as salla, \
            EnerpizeSimulator() as enerpize:
        salla.fail_next(status=500, count=3, path_contains="/orders/invoices")
        results = await sync_all(salla, enerpize, database_url, SYNCABLE)
        blocked_answers = salla.block.blocked_count
    failed = [r for r in results if r.status is not SyncStatus.SUCCESS]
    assert failed, "the block went unnoticed"
    assert all(r.status is SyncStatus.FAILED and BLOCKED in (r.reason or "") for r in failed), failed
    assert blocked_answers <= len(SYNCABLE)  # only requests already on their way met the 403


async def test_a_403_for_a_missing_scope_is_a_refusal_not_a_block(salla, enerpize, service):
    salla.fail_next(status=403, count=1, path_contains="/orders")  # "Forbidden", no word of a block
    _, [refused] = await service.sync(["1001"], requested_by="U1", source="cli")
    _, [synced] = await service.sync(["1005"], requested_by="U1", source="cli")
    assert refused.status is SyncStatus.FAILED and "HTTP 403" in refused.reason and BLOCKED not in refused.reason
    assert synced.status is SyncStatus.SUCCESS  # no pause: the next order is read at once
