"""The sync service end to end: real clients, real HTTP to the simulators, a real database."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sandbox import INVOICES, REFUND_RECEIPTS
from sync_core.reporting import LogOnlyReporter
from sync_core.results import SyncStatus


def docs(enerpize, kind=INVOICES):
    return enerpize.documents[kind]


async def test_found_by_reference_number_creates_the_invoice(service, enerpize):
    run_id, [result] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.SUCCESS
    [doc] = result.documents
    [created] = docs(enerpize)
    assert doc.enerpize_id == created.id and doc.enerpize_number == created.no
    assert created.po_number == "SALLA-560001"
    assert created.total == Decimal("310.50") == doc.total
    assert created.paid == Decimal("310.50")  # mada: paid in Salla, so paid in Enerpize


async def test_found_by_internal_id(service, enerpize):
    _, [result] = await service.sync(["418149281"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.SUCCESS
    assert result.salla_reference == 1012
    assert docs(enerpize)[0].total == Decimal("65.90")


async def test_unknown_numbers_are_record_not_found(service, enerpize):
    _, results = await service.sync(["1017", "999999999"], requested_by="U1", source="cli")
    assert [r.status for r in results] == [SyncStatus.NOT_FOUND, SyncStatus.NOT_FOUND]
    assert enerpize.call_count() == 0


async def test_invoice_and_return_become_two_documents_linked(service, enerpize):
    _, [result] = await service.sync(["1002"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.SUCCESS
    assert [d.kind.value for d in result.documents] == ["invoice", "return"]
    [invoice] = docs(enerpize)
    [refund] = docs(enerpize, REFUND_RECEIPTS)
    assert refund.po_number == "SALLA-560003"
    # An integer id, as Daftra's api2 document types it (Enerpize answers ids as strings).
    assert str(refund.body["RefundReceipt"]["subscription_id"]) == invoice.id
    assert "Payment" not in refund.body and "InvoicePayment" not in refund.body


async def test_two_invoices_on_one_order(service, enerpize):
    _, [result] = await service.sync(["1003"], requested_by="U1", source="cli")
    assert [d.status for d in result.documents] == [SyncStatus.SUCCESS] * 2
    assert sorted(d.total for d in docs(enerpize)) == [Decimal("138.00"), Decimal("448.50")]


async def test_every_sample_invoice_total_matches_salla(service, enerpize):
    numbers = [str(n) for n in range(1001, 1016) if n != 1011]
    _, results = await service.sync(numbers, requested_by="U1", source="cli")
    assert all(r.status is SyncStatus.SUCCESS for r in results), [(r.number, r.documents) for r in results]
    created = docs(enerpize) + docs(enerpize, REFUND_RECEIPTS)
    assert len(created) == 20
    # Guests share one client; customers with two orders are created once.
    numbers_of_clients = [c["client_number"] for c in enerpize.clients]
    assert len(numbers_of_clients) == len(set(numbers_of_clients))
    assert "salla-guest" in numbers_of_clients


async def test_order_without_invoice_fails_naming_its_status(service, enerpize):
    _, [result] = await service.sync(["1011"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.FAILED
    assert result.reason == "no invoice in Salla yet (order status: under_review)"


async def test_totals_mismatch_fails_and_creates_nothing(service, enerpize):
    _, [result] = await service.sync(["1016"], requested_by="U1", source="cli")
    assert result.status is SyncStatus.FAILED
    assert result.documents[0].reason.startswith("totals differ: Salla 144.75 SAR, Enerpize would be 143.75 SAR")
    assert docs(enerpize) == [] and enerpize.call_count(method="POST") == 0


async def test_resync_creates_nothing_new(service, enerpize):
    await service.sync(["1001", "1002"], requested_by="U1", source="cli")
    before = enerpize.call_count(method="POST")
    _, results = await service.sync(["1001", "1002"], requested_by="U2", source="cli")
    assert all(r.status is SyncStatus.SUCCESS for r in results)
    assert all(d.already_synced and d.reason.startswith("already synced as") for r in results for d in r.documents)
    assert enerpize.call_count(method="POST") == before
    assert len(docs(enerpize)) == 2 and len(docs(enerpize, REFUND_RECEIPTS)) == 1


async def test_missing_sku_taken_from_the_order_item(service, enerpize):
    await service.sync(["1010"], requested_by="U1", source="cli")
    [doc] = docs(enerpize)
    with_product = [i for i in doc.body["InvoiceItem"] if "product_id" in i]
    without = [i for i in doc.body["InvoiceItem"] if "product_id" not in i]
    assert len(with_product) == 1 and len(without) == 1
    assert [p["product_code"] for p in enerpize.products] == ["kb-ar-01"]


async def test_invoice_pages_are_all_read(salla, enerpize, service):
    salla.invoices_per_page = 1
    _, [result] = await service.sync(["1013"], requested_by="U1", source="cli")
    assert len(result.documents) == 4 and result.status is SyncStatus.SUCCESS


async def test_loose_filters_are_never_trusted(salla, enerpize, service):
    salla.loose_reference_filter = "ignore"  # Salla returns every order, whatever the filter
    salla.orders_per_page = 50
    enerpize.loose_filters = True
    _, results = await service.sync(["1001", "1017"], requested_by="U1", source="cli")
    assert [r.status for r in results] == [SyncStatus.SUCCESS, SyncStatus.NOT_FOUND]
    assert results[0].salla_reference == 1001


async def test_the_log_records_every_number_and_document(service, store):
    run_id, _ = await service.sync(["1002", "1017", "1011"], requested_by="U9", source="cli")
    rows = store.run_records(run_id)
    assert [(r.number, r.kind, r.status) for r in rows if r.number == "1002"] == [
        ("1002", "invoice", "Success"), ("1002", "return", "Success")]
    assert {r.number: r.status for r in rows if r.number != "1002"} == {"1017": "Record not found", "1011": "Failed"}
    run = store.get_run(run_id)
    assert (run.requested_by, run.state, run.succeeded, run.failed, run.not_found) == ("U9", "finished", 1, 1, 1)
    invoice_row = next(r for r in rows if r.kind == "return")
    assert invoice_row.salla_invoice_id == 560003 and invoice_row.amount == "402.50" and invoice_row.currency == "SAR"


async def test_retry_reruns_only_the_failed_numbers_as_a_linked_run(service, enerpize, store):
    enerpize.fail_next(status=400, count=1, path_contains="/invoices", method="POST")
    run_id, results = await service.sync(["1001", "1005", "1017"], requested_by="U1", source="cli")
    assert sorted(r.status.value for r in results) == ["Failed", "Record not found", "Success"]
    retry_id, retried = await service.retry(run_id, requested_by="U2", source="cli")
    assert len(retried) == 1 and retried[0].status is SyncStatus.SUCCESS
    assert store.get_run(retry_id).retry_of == run_id
    assert len(docs(enerpize)) == 2


async def test_cancel_stops_orders_not_yet_started(salla, service, enerpize):
    salla.latency = 0.05
    service.engine.concurrency = 1
    seen = []
    cancelling = []

    class CancelAfterTwo(LogOnlyReporter):
        def result(self, live, result):
            seen.append(result)
            if len(seen) == 2:
                cancelling.append(asyncio.create_task(service.engine.cancel(live.run_id, by="U2")))

    run_id, results = await service.sync([str(n) for n in range(1001, 1011)], requested_by="U1", source="cli",
                                         reporter=CancelAfterTwo())
    assert cancelling and await cancelling[0]
    statuses = [r.status for r in results]
    assert statuses.count(SyncStatus.CANCELLED) >= 6
    assert len(seen) == len(results) == 10
    run = service.store.get_run(run_id)
    assert run.state == "cancelled" and run.cancel_requested_by == "U2"
    # Nothing cancelled reached Enerpize.
    created = {d.po_number for d in docs(enerpize) + docs(enerpize, REFUND_RECEIPTS)}
    cancelled_orders = [r.number for r in results if r.status is SyncStatus.CANCELLED]
    assert all(not r.documents for r in results if r.status is SyncStatus.CANCELLED)
    assert len(created) <= 10 - len(cancelled_orders) + 2


async def test_a_reference_search_matching_loosely_picks_the_exact_order(salla, service):
    salla.loose_reference_filter = "substring"
    salla.store.add_order(10012, customer=None, lines=[])  # "1001" is inside "10012"
    _, [result] = await service.sync(["1001"], requested_by="U1", source="cli")
    assert result.salla_reference == 1001 and result.status is SyncStatus.SUCCESS
