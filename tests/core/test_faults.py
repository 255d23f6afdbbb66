"""The sync under the faults real APIs have: expired tokens, rate limits, 5xx, lost answers, races."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from sandbox import INVOICES, REFUND_RECEIPTS, EnerpizeSimulator, SallaSimulator, sample_store
from sandbox.sample_store import COFFEE, DATES
from sync_core.results import SyncStatus
from sync_core.store import Store
from sync_core.wiring import open_service
from sandbox.settings import simulator_settings

SYNCABLE = [str(n) for n in range(1001, 1016) if n != 1011]  # 14 orders, 20 documents

# A fault of Salla alone (an outage, its rate plan) reaches Enerpize the same way whatever filters
# the tenant honours, and the dialects are tested where they matter (Enerpize's faults, the lost
# answers, the look-ups): these tests take one tenant, the documented one, instead of all four.
DOCUMENTED_TENANT = pytest.mark.parametrize("enerpize", ["both"], indirect=True)


def all_docs(enerpize):
    return enerpize.documents[INVOICES] + enerpize.documents[REFUND_RECEIPTS]


def assert_one_document_per_invoice(enerpize):
    po_numbers = [d.po_number for d in all_docs(enerpize)]
    assert len(po_numbers) == len(set(po_numbers)), "an invoice was created twice"


async def test_fifty_concurrent_401s_cause_one_refresh(salla, service, store):
    salla.refresh_latency = 0.2
    salla.expire_access_token()
    orders = await asyncio.gather(*(service.salla.find_order("1001") for _ in range(50)))
    assert all(o is not None and o.reference_id == 1001 for o in orders)
    assert salla.refresh_count == 1 and not salla.revoked
    # Both new tokens are stored: a new process starts with them, not the dead env ones.
    tokens = store.load_tokens(None, None)
    assert (tokens.access_token, tokens.refresh_token) == (salla.access_token, salla.refresh_token)


async def test_refreshed_tokens_survive_a_restart(salla, enerpize, settings, store):
    old_refresh = settings.salla_refresh_token.get_secret_value()
    async with open_service(settings, store=store) as service:
        salla.expire_access_token()
        assert (await service.sync(["1001"], requested_by="U1", source="cli"))[1][0].status is SyncStatus.SUCCESS
    salla.expire_access_token()
    async with open_service(settings, store=store) as service:  # same env tokens, now dead
        _, [result] = await service.sync(["1002"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.SUCCESS
    assert salla.refresh_count == 2 and not salla.revoked  # the old refresh token was never reused
    assert salla.refresh_token != old_refresh


async def test_revoked_tokens_fail_with_a_reason_not_a_crash(salla, service):
    salla.expire_access_token()
    salla.revoked = True
    _, [result] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.FAILED
    assert "reconnect the Salla app" in result.reason


async def test_429_storm_every_order_still_synced(salla, enerpize, service):
    salla.fail_next(status=429, count=12, retry_after=1)
    enerpize.fail_next(status=429, count=6, retry_after=1)
    _, results = await service.sync(SYNCABLE, requested_by="U1", source="cli")
    assert [r.status for r in results] == [SyncStatus.SUCCESS] * len(SYNCABLE), [r for r in results if r.status is not SyncStatus.SUCCESS]
    assert len(all_docs(enerpize)) == 20
    assert_one_document_per_invoice(enerpize)


@DOCUMENTED_TENANT
async def test_pacing_keeps_under_the_rate_limit(enerpize, database_url):
    # A scaled-down plan: 12 requests in the bucket, 24 a second back (the 120/min plan, 12x faster).
    with SallaSimulator(store=sample_store(), bucket=(12, 24.0)) as salla:
        async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
            service.salla.pacer.window = 12 / 24.0
            _, results = await service.sync(SYNCABLE, requested_by="U1", source="cli")
        assert all(r.status is SyncStatus.SUCCESS for r in results)
        assert salla.throttled_count <= 2  # only the first burst may overrun, before the headers are seen


async def test_server_errors_then_success(salla, enerpize, service):
    salla.fail_next(status=500, count=2, path_contains="/orders/invoices")
    salla.fail_next(status=503, count=1, path_contains="/orders")
    enerpize.fail_next(status=502, count=2, path_contains="/taxes")
    salla.drop_next(count=1, path_contains="/orders/invoices/")
    _, [result] = await service.sync(["1002"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.SUCCESS
    assert len(all_docs(enerpize)) == 2


@DOCUMENTED_TENANT
async def test_salla_down_fails_the_order_with_a_reason(salla, service, enerpize):
    salla.fail_next(status=503, count=100)
    _, [result] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.FAILED and "Salla is not answering" in result.reason
    assert all_docs(enerpize) == []


@pytest.mark.parametrize("mode", ["drop", "hang"])
async def test_create_stored_but_answer_lost_gives_exactly_one_document(mode, salla, database_url):
    with EnerpizeSimulator(hang_seconds=3) as enerpize:
        settings = simulator_settings(salla, enerpize, database_url, salla_sync_http_timeout=1.0)
        async with open_service(settings) as service:
            service.lost_answer_pause = 0.05
            enerpize.lose_next_create(kind=INVOICES, mode=mode)
            _, [result] = await service.sync(["1001"], requested_by="U1", source="cli")
            assert result.status is SyncStatus.SUCCESS
            assert "linked" not in (result.documents[0].reason or "")
            [doc] = enerpize.documents[INVOICES]
            assert result.documents[0].enerpize_number == doc.no


async def test_crash_after_enerpize_stored_the_invoice_is_linked_on_the_next_run(salla, enerpize, settings, store):
    """The process dies while waiting for Enerpize's answer: the claim stays; the next run finds the
    document by its po_number once the claim's lease is over, and links it."""
    store.claim_lease = timedelta(seconds=0.5)
    enerpize.hang_seconds = 30
    enerpize.lose_next_create(kind=INVOICES, mode="hang")
    async with open_service(settings, store=store) as service:
        crashed = asyncio.create_task(service.sync(["1001"], requested_by="U1", source="cli"))
        while not enerpize.documents[INVOICES]:
            await asyncio.sleep(0.02)
        crashed.cancel()  # the process dies here: no result, the claim is left behind
        with pytest.raises(asyncio.CancelledError):
            await crashed
    async with open_service(settings, store=store) as service:
        _, [second] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert second.status is SyncStatus.SUCCESS
    assert "linked, not created again" in second.documents[0].reason
    assert len(enerpize.documents[INVOICES]) == 1


async def test_an_attempt_whose_claim_was_taken_over_before_it_sends_sends_nothing(salla, settings, store):
    """The attempt stalls past a quarter of its claim's lease (slow Enerpize look-ups) and another
    process takes the claim over meanwhile: the claim is checked before the create, which is never sent."""
    store.claim_lease = timedelta(seconds=0.4)
    with EnerpizeSimulator(latency=0.25) as slow:
        async with open_service(simulator_settings(salla, slow, settings.database_url), store=store) as service:
            syncing = asyncio.create_task(service.sync(["1001"], requested_by="U1", source="cli"))
            while not await asyncio.to_thread(_claimed, store):
                await asyncio.sleep(0.01)
            await asyncio.to_thread(_take_over, store)  # what another process does once the lease ran out
            _, [result] = await syncing
        assert slow.call_count("POST", "/invoices") == 0
    assert result.status is SyncStatus.FAILED
    assert "another attempt took this invoice over" in result.documents[0].reason


def _claimed(store: Store) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM ledger WHERE state = 'claimed'")).scalar() == 1


def _take_over(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE ledger SET claim_token = 'another-process' WHERE state = 'claimed'"))


async def test_two_concurrent_runs_on_the_same_20_orders(salla, enerpize, settings, database_url):
    for i in range(6):  # top the sample up to 20 syncable orders
        order = salla.store.add_order(1100 + i, customer=None, lines=[replace(COFFEE, quantity=i + 1), DATES])
        salla.store.add_invoice(order)
    numbers = SYNCABLE + [str(1100 + i) for i in range(6)]
    salla.latency = 0.01
    enerpize.latency = 0.01
    store_a, store_b = Store(database_url), Store(database_url)
    try:
        async with open_service(settings, store=store_a) as a, open_service(settings, store=store_b) as b:
            (_, ra), (_, rb) = await asyncio.gather(a.sync(numbers, requested_by="A", source="cli"),
                                                    b.sync(numbers, requested_by="B", source="cli"))
    finally:
        store_a.close()
        store_b.close()
    assert all(r.status is SyncStatus.SUCCESS for r in ra + rb), [(r.number, r.documents) for r in ra + rb if r.status is not SyncStatus.SUCCESS]
    assert len(all_docs(enerpize)) == 26
    assert_one_document_per_invoice(enerpize)


async def test_enerpize_rejection_is_a_readable_reason_and_frees_the_invoice(enerpize, service):
    enerpize.fail_next(status=400, count=1, path_contains="/invoices", method="POST")
    _, [first] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert first.status is SyncStatus.FAILED
    assert first.documents[0].reason.startswith("Enerpize rejected the invoice:")
    _, [second] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert second.status is SyncStatus.SUCCESS and not second.documents[0].already_synced
    assert len(enerpize.documents[INVOICES]) == 1


@DOCUMENTED_TENANT
async def test_hundred_orders_on_the_120_plan_lose_nothing(enerpize, database_url):
    """The 120-a-minute plan, time-compressed 30x (bucket 120, 60 back a second): every order syncs."""
    store = sample_store()
    for i in range(100 - 14):
        order = store.add_order(2000 + i, customer=None, lines=[replace(COFFEE, quantity=1 + i % 3)])
        store.add_invoice(order)
    numbers = SYNCABLE + [str(2000 + i) for i in range(100 - 14)]
    with SallaSimulator(store=store, bucket=(120, 60.0)) as salla:
        async with open_service(simulator_settings(salla, enerpize, database_url, salla_sync_concurrency=16)) as service:
            service.salla.pacer.window = 2.0
            _, results = await service.sync(numbers, requested_by="U1", source="cli")
        assert len(results) == 100 and all(r.status is SyncStatus.SUCCESS for r in results)
        assert salla.throttled_count <= 2
    assert_one_document_per_invoice(enerpize)
