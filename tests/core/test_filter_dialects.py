"""Enerpize tenants that honour the plain filter spelling, the bracket one, both, or none
(interfaces.md "Filters are not to be trusted to exist"): never a duplicate, on any of them."""

from __future__ import annotations

import pytest

from sandbox import INVOICES, REFUND_RECEIPTS, EnerpizeSimulator
from sandbox.settings import simulator_settings
from sync_core.enerpize import lookups
from sync_core.results import SyncStatus
from sync_core.wiring import open_service

DIALECTS = ["both", "plain", "bracket", "none"]


def seed_documents(enerpize: EnerpizeSimulator, kind: str, count: int) -> None:
    """Documents made earlier by someone else (no SALLA- key), so lists run to many pages."""
    client = enerpize.add_client(client_number=f"walk-in-{kind}", business_name="Walk-in")
    for n in range(count):
        enerpize.books.add_document(kind, {
            "Invoice" if kind == INVOICES else "RefundReceipt": {
                "client_id": client["id"], "date": "2026-10-01", "po_number": f"PO-{n}"},
            "InvoiceItem": [{"item": "x", "unit_price": 1, "quantity": 1}]})


@pytest.mark.parametrize("dialect, expected", [
    ("both", ["invoices: po_number filter works (plain and bracket)",
              "refund receipts: po_number filter works (plain and bracket)",
              "clients: client_number filter works (plain and bracket)",
              "products: product_code filter works (plain and bracket)"]),
    ("plain", ["invoices: po_number filter works (plain)", "refund receipts: po_number filter works (plain)",
               "clients: client_number filter works (plain)", "products: product_code filter works (plain)"]),
    ("bracket", ["invoices: po_number filter works (bracket)", "refund receipts: po_number filter works (bracket)",
                 "clients: client_number filter works (bracket)", "products: product_code filter works (bracket)"]),
    ("none", ["invoices: no filter, look-ups read the newest pages",
              "refund receipts: no filter, look-ups read the whole list",
              "clients: no filter, ids come from the stored mapping, else one scan of the list",
              "products: no filter, ids come from the stored mapping, else one scan of the list"]),
])
async def test_check_says_which_spelling_filters_each_list(dialect, expected, salla, database_url):
    with EnerpizeSimulator(dialect=dialect) as enerpize:
        for kind in (INVOICES, REFUND_RECEIPTS):
            seed_documents(enerpize, kind, 2)
        enerpize.add_product(product_code="sku-1", name="x")
        async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
            assert await service.enerpize.describe_filters() == expected


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_lost_answer_on_a_long_list_is_found_not_created_again(dialect, salla, database_url):
    """With 450 other invoices (23 pages of 20), the document a lost answer left is found however
    the tenant filters: on a tenant that filters nothing, by reading the newest pages."""
    with EnerpizeSimulator(dialect=dialect) as enerpize:
        seed_documents(enerpize, INVOICES, 450)
        settings = simulator_settings(salla, enerpize, database_url)
        async with open_service(settings) as service:
            service.lost_answer_pause = 0.01
            _, [first] = await service.sync(["1003"], requested_by="U1", source="cli")  # a warm index
            enerpize.lose_next_create(kind=INVOICES, mode="drop")
            _, [result] = await service.sync(["1001"], requested_by="U1", source="cli")
        assert first.status is SyncStatus.SUCCESS
        assert result.status is SyncStatus.SUCCESS, result
        assert len(enerpize.documents_with_po("SALLA-560001")) == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_customers_and_products_are_never_created_twice(dialect, salla, database_url):
    """Orders 1001/1012 share a customer; the client list is long and ignores unknown filters."""
    with EnerpizeSimulator(dialect=dialect) as enerpize:
        for n in range(450):
            enerpize.add_client(client_number=f"other-{n}", business_name=f"Other {n}")
        async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
            for number in ("1001", "1012"):  # one after the other: the second needs a look-up
                _, [result] = await service.sync([number], requested_by="U1", source="cli")
                assert result.status is SyncStatus.SUCCESS, result
        numbers = [c["client_number"] for c in enerpize.clients]
        assert len(numbers) == len(set(numbers))
        codes = [p["product_code"] for p in enerpize.products]
        assert len(codes) == len(set(codes))


async def test_a_list_that_cannot_be_read_whole_fails_the_document_and_creates_nothing(
        salla, database_url, monkeypatch):
    """No filter on refund receipts and more of them than a scan may read: the return cannot be
    confirmed absent, so it is not created; the reason says what to do."""
    monkeypatch.setattr(lookups, "SCAN_LIMIT", 10)
    monkeypatch.setattr(lookups, "MAX_SCAN_PAGES", 2)
    with EnerpizeSimulator(dialect="none") as enerpize:
        seed_documents(enerpize, REFUND_RECEIPTS, 25)
        async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
            _, [result] = await service.sync(["1002"], requested_by="U1", source="cli")
        invoice, refund = result.documents
        assert invoice.status is SyncStatus.SUCCESS
        assert refund.status is SyncStatus.FAILED
        assert refund.reason == ("cannot confirm whether Enerpize already has SALLA-560003; "
                                 "check it there, then re-run")
        assert enerpize.documents_with_po("SALLA-560003") == []
