"""Salla invoice -> Enerpize document, checked against the totals Salla states."""

from decimal import Decimal

import pytest

from sync_core.enerpize.bodies import document_body
from sync_core.mapping import GUEST_CLIENT_NUMBER, MappingError, map_invoice, totals_mismatch
from sync_core.salla.models import DocumentKind, SallaInvoice, SallaOrder, SallaOrderItem, classify_invoice_type

D = Decimal


def money(x):
    return {"amount": x, "currency": "SAR"}


def item(id, name, sku, qty, price, tax_percent="15.00", tax=None, discount="0.00", item_id=None):
    net = D(str(price)) * qty - D(discount)
    tax = tax if tax is not None else str((net * D(tax_percent) / 100).quantize(D("0.01")))
    return {"id": id, "item_id": item_id, "name": name, "sku": sku, "quantity": qty, "price": money(str(price)),
            "discount": money(discount), "tax": {"percent": tax_percent, "amount": money(tax)},
            "total": money(str(net + D(tax)))}


def invoice(items, *, total, type="Tax Invoice", shipping="0.00", taxable=True, cod="0.00", discount="0.00", id=560001):
    return SallaInvoice.model_validate({
        "id": id, "invoice_number": f"INV-{id}", "order_id": 418149270, "type": type, "date": "2026-11-20",
        "payment_method": "mada", "sub_total": money("0"), "shipping_cost": {"amount": shipping, "taxable": taxable},
        "cod_cost": money(cod), "discount": money(discount), "tax": {"percent": "15.00", "amount": money("0")},
        "total": {"amount": total, "currency": "SAR"}, "items": items,
    })


ORDER = SallaOrder.model_validate({"id": 418149270, "reference_id": 1001, "status": {"slug": "completed"},
                                   "payment_method": "mada", "customer": {"id": 77, "first_name": "أحمد", "last_name": "الغامدي"}})


def test_contract_example_maps_to_the_same_total_with_a_payment():
    inv = invoice([item(1, "SSD 256GB", "sam-ssd-256g", 2, "125.00")], total=310.5, shipping="20.00")
    draft = map_invoice(inv, ORDER)
    assert draft.total == D("310.50")
    assert totals_mismatch(inv, draft) is None
    assert draft.kind is DocumentKind.INVOICE
    assert draft.po_number == "SALLA-560001"
    assert draft.shipping_amount == D("20.00") and draft.shipping_tax_rate == D("15.00")
    assert draft.payment is not None and draft.payment.amount == D("310.50") and draft.payment.method == "mada"
    assert draft.customer.client_number == "salla-77" and draft.customer.name == "أحمد الغامدي"


def test_invoice_discount_is_spread_before_tax():
    # 200 of goods, 20 off before tax, 20 shipping: VAT 15% of 180 + of 20 = 30; total 230.
    inv = invoice([item(1, "A", "a", 1, "100.00", tax="13.50"), item(2, "B", "b", 2, "50.00", tax="13.50")],
                  total="230.00", shipping="20.00", discount="20.00")
    draft = map_invoice(inv, ORDER)
    assert [line.discount for line in draft.lines] == [D("10.00"), D("10.00")]
    assert draft.discount_amount == 0
    assert draft.total == D("230.00")


def test_uneven_discount_shares_add_up_to_the_cent():
    inv = invoice([item(i, f"P{i}", f"p{i}", 1, "10.00") for i in range(1, 4)], total="0", discount="10.00")
    shares = [line.discount for line in map_invoice(inv, ORDER).lines]
    assert sum(shares) == D("10.00")
    assert sorted(shares) == [D("3.33"), D("3.33"), D("3.34")]


def test_untaxed_shipping_carries_no_vat():
    inv = invoice([item(1, "A", "a", 1, "100.00")], total="140.00", shipping="25.00", taxable=False)
    draft = map_invoice(inv, ORDER)
    assert draft.shipping_tax_rate is None
    assert draft.total == D("140.00")


def test_cod_fee_becomes_its_own_taxed_line():
    inv = invoice([item(1, "A", "a", 1, "100.00")], total="126.50", cod="10.00")
    draft = map_invoice(inv, ORDER)
    cod = draft.lines[-1]
    assert cod.name == "Cash on delivery fee" and cod.sku is None and cod.tax_rate == D("15.00")
    assert draft.total == D("126.50")


def test_zero_rated_line_has_no_tax():
    inv = invoice([item(1, "A", "a", 1, "100.00"), item(2, "Book", "bk", 1, "50.00", tax_percent="0.00")],
                  total="165.00")
    draft = map_invoice(inv, ORDER)
    assert draft.lines[1].tax_rate is None
    assert draft.total == D("165.00")


def test_line_discounts_and_numeric_amounts():
    raw = item(1, "A", "a", 3, 33.33, discount="9.99")
    raw["price"] = {"amount": 33.33, "currency": "SAR"}  # a number, not a string
    inv = invoice([raw], total=103.5)  # 99.99 - 9.99 = 90.00 + 13.50
    draft = map_invoice(inv, ORDER)
    assert draft.lines[0].net == D("90.00")
    assert totals_mismatch(inv, draft) is None


def test_stated_total_that_does_not_add_up_is_refused_with_both_totals():
    inv = invoice([item(1, "A", "a", 1, "100.00")], total="120.00")
    reason = totals_mismatch(inv, map_invoice(inv, ORDER))
    assert reason == "totals differ: Salla 120.00 SAR, Enerpize would be 115.00 SAR; nothing was created"


def test_one_halala_of_rounding_is_tolerated():
    inv = invoice([item(1, "A", "a", 1, "100.00")], total="115.01")
    assert totals_mismatch(inv, map_invoice(inv, ORDER)) is None


@pytest.mark.parametrize("raw, kind", [
    ("Tax Invoice", DocumentKind.INVOICE), ("فاتورة ضريبية", DocumentKind.INVOICE), ("tax_invoice", DocumentKind.INVOICE),
    ("Credit Note", DocumentKind.RETURN), ("إشعار دائن", DocumentKind.RETURN), ("credit_note", DocumentKind.RETURN),
    ("Proforma", None), (None, None),
])
def test_invoice_types_in_english_and_arabic(raw, kind):
    assert classify_invoice_type(raw) is kind


def test_credit_note_becomes_a_return_without_payment_and_positive_amounts():
    raw = item(1, "A", "a", 1, "100.00")
    raw["quantity"] = -1
    inv = invoice([raw], total="-115.00", type="إشعار دائن")
    draft = map_invoice(inv, ORDER)
    assert draft.kind is DocumentKind.RETURN and draft.payment is None
    assert draft.total == D("115.00") and totals_mismatch(inv, draft) is None


def test_unknown_type_is_a_mapping_error():
    with pytest.raises(MappingError, match='unknown type "Proforma"'):
        map_invoice(invoice([item(1, "A", "a", 1, "1")], total="1.15", type="Proforma"), ORDER)


def test_missing_sku_comes_from_the_order_item_else_no_product():
    lines = [item(1, "A", None, 1, "10.00", item_id=900), item(2, "B", "", 1, "10.00", item_id=901)]
    inv = invoice(lines, total="23.00")
    draft = map_invoice(inv, ORDER, {900: SallaOrderItem(id=900, name="A", sku="from-order")})
    assert [line.sku for line in draft.lines] == ["from-order", None]


def test_guest_order_goes_to_the_guest_client():
    guest = SallaOrder.model_validate({"id": 1, "reference_id": 2, "customer": [], "payment_method": "mada"})
    draft = map_invoice(invoice([item(1, "A", "a", 1, "10.00")], total="11.50"), guest)
    assert draft.customer.client_number == GUEST_CLIENT_NUMBER


def test_unpaid_orders_get_no_payment():
    cod = SallaOrder.model_validate({"id": 1, "reference_id": 2, "payment_method": "cod",
                                     "status": {"slug": "in_progress"}, "customer": {"id": 5}})
    pending = SallaOrder.model_validate({"id": 1, "reference_id": 2, "payment_method": "credit_card",
                                         "is_pending_payment": True, "customer": {"id": 5}})
    inv = invoice([item(1, "A", "a", 1, "10.00")], total="11.50")
    assert map_invoice(inv, cod).payment is None
    assert map_invoice(inv, pending).payment is None


def test_enerpize_body_uses_ids_and_fixed_discounts():
    inv = invoice([item(1, "A", "a", 1, "100.00", tax="13.50")], total="103.50", discount="10.00")
    draft = map_invoice(inv, ORDER)
    body = document_body(draft, "Invoice", client_id="9", product_ids={"a": "41"}, tax_ids={D("15.00"): "1"},
                         original_invoice_id=None)
    assert body["Invoice"]["client_id"] == "9" and body["Invoice"]["po_number"] == "SALLA-560001"
    assert body["InvoiceItem"] == [{"item": "A", "description": "a", "unit_price": "100.00", "quantity": "1",
                                    "discount": "10.00", "discount_type": 2, "product_id": "41", "tax1": "1"}]
    assert body["Payment"][0]["amount"] == "103.50"
