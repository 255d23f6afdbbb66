"""The audit against the Salla and Enerpize simulators: which invoices of a range never reached
Enerpize, found from the date-range invoice list, the ledger and the documents' keys."""

from __future__ import annotations

from datetime import date

import pytest

from sandbox import INVOICES, EnerpizeSimulator
from sandbox.salla_store import line
from sandbox.settings import simulator_settings
from sync_core.audit import AuditRange, AuditRangeError
from sync_core.mapping import idempotency_key
from sync_core.results import SyncStatus
from sync_core.salla.models import DocumentKind
from sync_core.wiring import open_service

NOVEMBER = AuditRange(date(2026, 11, 1), date(2026, 11, 30))
TODAY = date(2026, 12, 5)


def invoices_in(salla, days: AuditRange):
    return [i for i in salla.store.all_invoices() if days.first.isoformat() <= i.date[:10] <= days.last.isoformat()]


def order_of(salla, invoice):
    return salla.store.order_by_id(invoice.order_id)


async def test_the_audit_finds_what_enerpize_lacks_and_only_that(salla, enerpize, service):
    """1001 and 1002 (its credit note too) synced by us; 1003's first invoice in Enerpize by its key
    only (an earlier deployment); an invoice dated after the range; everything else missing."""
    for number in ("1001", "1002"):
        _, [result] = await service.sync([number], requested_by="U1", source="cli")
        assert result.status is SyncStatus.SUCCESS
    first_of_1003 = min((i for i in salla.store.all_invoices() if order_of(salla, i).reference_id == 1003),
                        key=lambda i: i.id)
    client = enerpize.add_client(client_number="earlier", business_name="Earlier")
    enerpize.books.add_document(INVOICES, {"Invoice": {"client_id": client["id"], "date": "2026-11-03",
                                                       "po_number": idempotency_key(first_of_1003.id)},
                                           "InvoiceItem": [{"item": "x", "unit_price": 1, "quantity": 1}]})
    later = salla.store.add_order(1050, customer=None, lines=[line("x", "10")], date="2026-12-01 10:00:00")
    salla.store.add_invoice(later)
    salla.invoices_per_page = 7  # several pages
    enerpize.reset_counters()

    report = await service.audit.run(NOVEMBER)

    in_range = invoices_in(salla, NOVEMBER)
    in_enerpize = {i.id for i in in_range if order_of(salla, i).reference_id in (1001, 1002)} | {first_of_1003.id}
    assert report.salla_invoices == len(in_range)
    assert report.in_enerpize == len(in_enerpize)
    assert {m.salla_invoice_id for m in report.missing} == {i.id for i in in_range} - in_enerpize
    assert later.id not in {m.salla_order_id for m in report.missing}
    second_of_1003 = next(m for m in report.missing if m.reference_id == 1003)
    assert second_of_1003.kind is DocumentKind.INVOICE and second_of_1003.salla_order_id == first_of_1003.order_id
    assert any(m.kind is DocumentKind.RETURN for m in report.missing)  # credit notes are audited too
    body = report.to_json()
    assert body["from"] == "2026-11-01" and body["to"] == "2026-11-30"
    missing_1003 = next(m for m in body["missing"] if m["reference_id"] == 1003)
    assert isinstance(missing_1003["salla_invoice_id"], int) and missing_1003["currency"] == "SAR"
    salla_side = next(i for i in in_range if i.id == missing_1003["salla_invoice_id"])
    assert missing_1003["total"] == "138.00" and missing_1003["date"] == salla_side.date[:10]
    # The ledger answered for what it knew: no Enerpize look-up of 1001's or 1002's keys.
    asked = {c.query.get("po_number") or c.query.get("filter[po_number]") for c in enerpize.calls}
    assert not asked & {idempotency_key(i.id) for i in in_range if order_of(salla, i).reference_id in (1001, 1002)}


async def test_syncing_what_the_audit_found_leaves_nothing_missing(salla, enerpize, service):
    report = await service.audit.run(NOVEMBER)
    numbers = report.numbers_to_sync()
    assert len(numbers) == len(set(numbers)) and "1003" in numbers
    await service.sync(numbers, requested_by="U1", source="audit")
    again = await service.audit.run(NOVEMBER)
    failed = {r.number for r in await service.run_results(service.store.recent_runs(1)[0].id)
              if r.status is not SyncStatus.SUCCESS}
    assert {m.number for m in again.missing} == failed  # only what cannot sync (bad data) is left
    po_numbers = [d.po_number for docs in enerpize.documents.values() for d in docs]
    assert len(po_numbers) == len(set(po_numbers))  # nothing twice


@pytest.mark.parametrize("count, pages", [(60, 1), (61, 2)])
async def test_page_boundaries(count, pages, salla, database_url):
    """Salla gives 60 invoices a page: 60 in the range is one page, 61 two; none lost at the edge."""
    salla.invoices_per_page = 60
    for n in range(count):
        order = salla.store.add_order(20_000 + n, customer=None, lines=[line("x", "10")], date="2026-10-05 12:00:00")
        salla.store.add_invoice(order)
    seen = []
    with EnerpizeSimulator(dialect="none") as enerpize:
        async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
            report = await service.audit.run(AuditRange(date(2026, 10, 5), date(2026, 10, 5)),
                                             progress=lambda p: seen.append((p.pages_read, p.pages)))
    assert report.salla_invoices == count and len(report.missing) == count
    assert seen[-1] == (pages, pages)
    page_calls = [c for c in salla.calls if c.path.endswith("/orders/invoices")]
    assert len(page_calls) == pages and all(c.query["per_page"] == "60" for c in page_calls)


async def test_native_invoices_count_as_in_enerpize_with_the_guard(salla, enerpize, settings, database_url):
    enerpize.add_native_invoice(1001)
    guarded = settings.model_copy(update={"enerpize_native_salla": True})
    async with open_service(guarded) as service:
        report = await service.audit.run(AuditRange(date(2026, 11, 20), date(2026, 11, 20)))
    assert report.salla_invoices == 1 and report.missing == []
    async with open_service(settings) as service:
        report = await service.audit.run(AuditRange(date(2026, 11, 20), date(2026, 11, 20)))
    assert [m.reference_id for m in report.missing] == [1001]


@pytest.mark.parametrize("first, last, said", [
    ("2026-11-10", "2026-11-01", "the range ends (2026-11-01) before it starts (2026-11-10)"),
    ("2026-01-01", "2026-12-01", "that is 335 days; an audit covers at most 92"),
    ("yesterday", None, 'FROM "yesterday" is not a date: write it as YYYY-MM-DD, e.g. 2026-11-20'),
    ("2026-02-30", None, 'FROM "2026-02-30" is not a day of the calendar'),
    ("2026-12-06", None, "2026-12-06 has not come yet (today is 2026-12-05 in Riyadh)"),
    (None, "2026-11-01", "give the first day too: FROM [TO], as YYYY-MM-DD"),
])
def test_bad_ranges_are_refused_in_words(first, last, said):
    with pytest.raises(AuditRangeError) as refused:
        AuditRange.parse(first, last, today=TODAY)
    assert str(refused.value) == said


def test_ranges_people_type():
    assert AuditRange.parse("2026-11-20", today=TODAY) == AuditRange(date(2026, 11, 20), date(2026, 11, 20))
    assert AuditRange.parse(None, today=TODAY) == AuditRange(date(2026, 11, 29), TODAY)  # the last 7 days
    assert AuditRange.parse("2026-09-05", "2026-12-05", today=TODAY).days == 92


async def test_many_invoices_unknown_to_the_ledger_cost_one_read_of_the_dated_list(salla, enerpize, service):
    """An earlier deployment made 40 of the day's 45 invoices (this database knows none of them):
    one read of Enerpize's invoices of that day, not 45 look-ups; the 5 others are missing."""
    client = enerpize.add_client(client_number="earlier", business_name="Earlier")
    orders = []
    for n in range(45):
        order = salla.store.add_order(40_000 + n, customer=None, lines=[line("x", "10")], date="2026-10-06 12:00:00")
        orders.append(salla.store.add_invoice(order))
    for invoice in orders[:40]:
        enerpize.books.add_document(INVOICES, {"Invoice": {"client_id": client["id"], "date": "2026-10-06",
                                                           "po_number": idempotency_key(invoice.id)},
                                               "InvoiceItem": [{"item": "x", "unit_price": 1, "quantity": 1}]})
    enerpize.reset_counters()
    report = await service.audit.run(AuditRange(date(2026, 10, 6), date(2026, 10, 6)))
    assert (report.salla_invoices, report.in_enerpize) == (45, 40)
    assert {m.salla_invoice_id for m in report.missing} == {i.id for i in orders[40:]}
    keyed = [c for c in enerpize.calls if "po_number=SALLA" in str(c.query) or "SALLA-" in str(c.query)]
    assert keyed == []  # no look-up a key
    listed = [c for c in enerpize.calls if c.path.endswith("/invoices") and "page" in c.query
              and "po_number" not in str(c.query)]
    assert 1 <= len(listed) <= 5  # the probe (at most 3) and one page of the dated list, or the whole list
