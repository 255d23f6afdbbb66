"""Persisted Enerpize ids (issue 9): every client and product found or created is remembered per
tenant in the database, so a warm tenant needs no client or product look-up, even after a restart,
and a mapping Enerpize no longer honours is dropped and found again."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sandbox import EnerpizeSimulator
from sandbox.sample_store import COFFEE, SSD
from sandbox.settings import simulator_settings
from sync_core.results import SyncStatus
from sync_core.store.id_map import EnerpizeIdMap
from sync_core.wiring import open_service


def client_and_product_calls(enerpize: EnerpizeSimulator) -> list[str]:
    return [f"{c.method} {c.path}" for c in enerpize.calls if "/clients" in c.path or "/products" in c.path]


async def sync_one(settings, number: str):
    """One sync in a service of its own, as a new process would (its caches start empty)."""
    async with open_service(settings) as service:
        _, [result] = await service.sync([number], requested_by="U1", source="cli")
    return result


@pytest.mark.parametrize("dialect", ["both", "none"])
async def test_a_warm_tenant_needs_no_client_or_product_look_up_after_a_restart(dialect, salla, database_url):
    """1001 is synced by one process; a second process on the same database syncs 1017, the same
    customer buying the same product: it asks Enerpize nothing about clients or products."""
    mohammed = salla.store.customers[0]
    order = salla.store.add_order(1017, customer=mohammed, lines=[SSD], date="2026-11-21 09:00:00")
    salla.store.add_invoice(order)
    with EnerpizeSimulator(dialect=dialect) as enerpize:
        for n in range(60):  # other clients, so a tenant without filters costs a real scan
            enerpize.add_client(client_number=f"other-{n}", business_name=f"Other {n}")
        settings = simulator_settings(salla, enerpize, database_url)
        first = await sync_one(settings, "1001")
        assert first.status is SyncStatus.SUCCESS, first
        assert client_and_product_calls(enerpize), "a cold tenant looks clients and products up"

        enerpize.reset_counters()
        second = await sync_one(settings, "1017")
        assert second.status is SyncStatus.SUCCESS, second
        assert client_and_product_calls(enerpize) == []
        assert len(enerpize.clients) == 61 and len(enerpize.products) == 1


async def test_records_found_in_enerpize_are_remembered_with_their_ids(salla, enerpize, database_url):
    """A client and a product that were in Enerpize before the first sync are found, not created,
    and their ids are what the database remembers for this tenant."""
    mohammed = salla.store.customers[0]
    client = enerpize.add_client(client_number=f"salla-{mohammed.id}", business_name="محمد العتيبي")
    product = enerpize.add_product(product_code="sam-ssd-256g", name="SSD 256GB")
    settings = simulator_settings(salla, enerpize, database_url)
    result = await sync_one(settings, "1001")
    assert result.status is SyncStatus.SUCCESS, result
    assert len(enerpize.clients) == 1 and len(enerpize.products) == 1

    async with open_service(settings) as service:
        id_map = EnerpizeIdMap(service.store.engine, settings.enerpize_api_url)
        assert id_map.load("client") == {f"salla-{mohammed.id}": str(client["id"])}
        assert id_map.load("product") == {"sam-ssd-256g": str(product["id"])}
        other_tenant = EnerpizeIdMap(service.store.engine, "https://other.enerpize.com/api2")
        assert other_tenant.load("client") == {}


async def test_a_mapping_to_a_record_deleted_in_enerpize_is_dropped_and_the_re_run_succeeds(
        salla, database_url):
    """Someone deleted the client in Enerpize after it was mapped: the document is refused
    (Failed, with Enerpize's reason), the stale mapping is dropped, and the re-run creates the
    client again and the invoice once."""
    mohammed = salla.store.customers[0]
    order = salla.store.add_order(1017, customer=mohammed, lines=[replace(COFFEE, quantity=2)],
                                  date="2026-11-21 09:00:00")
    salla.store.add_invoice(order)
    with EnerpizeSimulator(dialect="both") as enerpize:
        settings = simulator_settings(salla, enerpize, database_url)
        assert (await sync_one(settings, "1001")).status is SyncStatus.SUCCESS
        with enerpize.books.lock:
            enerpize.books.clients.clear()  # deleted in Enerpize, still in our mapping

        refused = await sync_one(settings, "1017")
        assert refused.status is SyncStatus.FAILED
        assert "client_id" in (refused.documents[0].reason or ""), refused

        again = await sync_one(settings, "1017")
        assert again.status is SyncStatus.SUCCESS, again
        [client] = enerpize.clients
        assert client["client_number"] == f"salla-{mohammed.id}"
        assert len(enerpize.documents_with_po(f"SALLA-{again.documents[0].salla_invoice_id}")) == 1
