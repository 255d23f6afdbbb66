"""Discounts end to end: Salla's invoice ``discount`` is the whole discount, the lines' own included
(interfaces.md section 3, "Invoice-level discount"), over the simulators and a real database."""

from __future__ import annotations

from decimal import Decimal

from sandbox import INVOICES, line
from sync_core.results import SyncStatus


async def _sync_one(service, number: str):
    _, [result] = await service.sync([number], requested_by="U1", source="cli")
    return result


async def test_salla_documented_invoice_syncs_to_its_total(salla, enerpize, service):
    # The shape of Salla's documented invoice.created example: 4 x 208.69, 41.74 off the line; the
    # invoice says sub_total 834.76, discount 41.74, tax 118.95, total 911.97.
    store = salla.store
    customer = store.add_customer("بدر", "المطيري", mobile="555317835")
    order = store.add_order(2001, customer=customer, payment_method="credit_card", lines=[
        line("زيت زيتون بكر قطفة أولى 4لتر", "208.69", quantity=4, sku="PRO-001", discount="41.74")])
    invoice = store.add_invoice(order)
    assert invoice.discount == Decimal("41.74") and invoice.total == Decimal("911.97")

    result = await _sync_one(service, "2001")
    assert result.status is SyncStatus.SUCCESS, result.documents[0].reason
    [created] = enerpize.documents[INVOICES]
    assert created.total == Decimal("911.97") == result.documents[0].total


async def test_coupon_on_top_of_line_discounts_syncs_with_salla_total(salla, enerpize, service):
    # Line discounts 20.00 and 12.50, a 25.00 coupon on the cart (Salla's invoice discount 57.50),
    # taxed shipping: Enerpize's total must be Salla's to the halala.
    store = salla.store
    customer = store.add_customer("ريم", "الحربي", mobile="555000199")
    order = store.add_order(2002, customer=customer, lines=[
        line("ثوب أبيض", "180.00", quantity=2, sku="thobe-x", discount="20.00"),
        line("شماغ", "120.00", sku="shemagh-x", discount="12.50"),
        line("مسواك أراك", "4.10", quantity=3, sku="miswak-x"),
    ], shipping="20", discount="25", coupon_code="EID25")
    invoice = store.add_invoice(order)
    assert invoice.discount == Decimal("57.50")

    result = await _sync_one(service, "2002")
    assert result.status is SyncStatus.SUCCESS, result.documents[0].reason
    [created] = enerpize.documents[INVOICES]
    assert created.total == invoice.total == result.documents[0].total
    # Each line carries its own discount plus its share of the coupon, once.
    discounts = [Decimal(str(item["discount"])) for item in created.body["InvoiceItem"]]
    assert sum(discounts) == Decimal("57.50")
