"""ENERPIZE_NATIVE_SALLA: a tenant that also runs Enerpize's own Salla integration never gets a
second invoice for an order that integration already synced (interfaces.md "native guard")."""

from __future__ import annotations

import pytest

from sandbox import INVOICES, REFUND_RECEIPTS
from sandbox.settings import simulator_settings
from sync_core.results import SyncStatus
from sync_core.wiring import open_service


@pytest.mark.parametrize("guard", [True, False])
async def test_an_order_enerpize_synced_itself(guard, salla, enerpize, database_url):
    native = enerpize.add_native_invoice(1001, total="310.50")  # 1001's invoice total
    enerpize.add_native_invoice(10010)  # another order whose number contains 1001: not a match
    settings = simulator_settings(salla, enerpize, database_url, enerpize_native_salla=guard)
    async with open_service(settings) as service:
        _, [result] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.SUCCESS
    [document] = result.documents
    ours = enerpize.documents_with_po("SALLA-560001")
    if guard:
        assert ours == []
        assert document.enerpize_number == native.no
        assert document.reason == f"already in Enerpize as {native.no}, made by Enerpize's Salla integration"
    else:  # the setting is off: the tenant is taken to have no native integration
        assert len(ours) == 1 and document.enerpize_number == ours[0].no


async def test_the_guard_leaves_other_orders_and_returns_alone(salla, enerpize, database_url):
    enerpize.add_native_invoice(1001)
    settings = simulator_settings(salla, enerpize, database_url, enerpize_native_salla=True)
    async with open_service(settings) as service:
        _, results = await service.sync(["1001", "1002"], requested_by="U1", source="cli")
    assert [r.status for r in results] == [SyncStatus.SUCCESS, SyncStatus.SUCCESS]
    assert len(enerpize.documents_with_po("SALLA-560002", INVOICES)) == 1
    assert len(enerpize.documents_with_po("SALLA-560003", REFUND_RECEIPTS)) == 1
