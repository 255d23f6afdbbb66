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


def invoice(items, *, total, type="Tax Invoice", shipping="0.00", taxable=True, cod="0.00", discount="0.00", id=560001,
            sub_total="0"):
    """``discount`` is the invoice's ``discount`` as Salla sends it: the whole discount, lines included."""
    return SallaInvoice.model_validate({
        "id": id, "invoice_number": f"INV-{id}", "order_id": 418149270, "type": type, "date": "2026-11-20",
        "payment_method": "mada", "sub_total": money(sub_total), "shipping_cost": {"amount": shipping, "taxable": taxable},
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


def test_invoice_discount_only_is_spread_before_tax():
    # 200 of goods, 20 off before tax, 20 shipping: VAT 15% of 180 + of 20 = 30; total 230.
    inv = invoice([item(1, "A", "a", 1, "100.00", tax="13.50"), item(2, "B", "b", 2, "50.00", tax="13.50")],
                  total="230.00", shipping="20.00", discount="20.00", sub_total="200.00")
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
    # JSON types as Daftra's api2 document gives them: integer ids, numbers for money and quantities.
    assert body["Invoice"]["client_id"] == 9 and body["Invoice"]["po_number"] == "SALLA-560001"
    assert body["Invoice"]["discount_amount"] == 0 and body["Invoice"]["shipping_amount"] == 0
    assert body["InvoiceItem"] == [{"item": "A", "description": "a", "unit_price": 100, "quantity": 1,
                                    "discount": 10, "discount_type": 2, "product_id": 41, "tax1": 1}]
    assert body["Payment"] == [{"payment_method": "mada", "amount": 103.5, "date": "2026-11-20", "status": 1}]
    assert "InvoicePayment" not in body


def test_a_returns_payment_goes_under_invoice_payment_and_ids_stay_exact():
    import dataclasses

    from sync_core.enerpize.models import PaymentDraft

    raw = item(1, "A", "a", 1, "33.33")
    raw["quantity"] = -1
    draft = map_invoice(invoice([raw], total="-38.33", type="Credit Note", shipping="13.04"), ORDER)
    draft = dataclasses.replace(draft, payment=PaymentDraft(method="mada", amount=D("53.33"), date=draft.date))
    body = document_body(draft, "RefundReceipt", client_id="1001", product_ids={"a": "2001"},
                         tax_ids={D("15.00"): "1"}, original_invoice_id="3001")
    assert body["RefundReceipt"]["subscription_id"] == 3001 and body["RefundReceipt"]["shipping_tax_id"] == 1
    assert body["RefundReceipt"]["shipping_amount"] == 13.04
    assert body["InvoiceItem"][0]["unit_price"] == 33.33 and body["InvoiceItem"][0]["quantity"] == 1
    assert body["InvoicePayment"] == [{"payment_method": "mada", "amount": 53.33, "date": "2026-11-20", "status": 1}]
    assert "Payment" not in body


# -- the invoice's discount is its whole discount, lines included (interfaces.md section 3) ---------

# Salla's documented invoice.created example, as docs.salla.dev shows it (the "Invoice Created
# Webhook Event Model" page, mirrored in MAshrafAi/salla-docs): one line of 4 x 208.69 with a
# 41.74 line discount; the invoice's discount is that same 41.74, and
# total 911.97 = sub_total 834.76 - discount 41.74 + shipping 0 + tax 118.95 (15 % of 793.02).
SALLA_DOCUMENTED_INVOICE = {
    "id": 500681815, "invoice_number": "633544", "uuid": "39273ccf-ee77-4ca1-8df9-c93526ee17eb",
    "order_id": 1783506836, "invoice_reference_id": None, "type": "Tax Invoice", "date": "2025-05-19 12:05:05",
    "qr_code": None, "payment_method": "credit_card",
    "sub_total": {"amount": 834.76, "currency": "SAR"},
    "shipping_cost": {"amount": 0, "taxable": True, "currency": "SAR"},
    "cod_cost": {"amount": 0, "taxable": True, "currency": "SAR"},
    "discount": {"amount": 41.74, "currency": "SAR"},
    "tax": {"percent": 15, "amount": {"amount": 118.95, "currency": "SAR"}},
    "total": {"amount": 911.97, "currency": "SAR"},
    "shipping_cost_discount": {"amount": 0, "currency": "SAR"},
    "items": [{
        "id": 87236180, "item_id": 1114617540, "product_id": 515303061, "name": "زيت زيتون بكر قطفة أولى 4لتر",
        "sku": "PRO-001", "quantity": 4, "type": "product",
        "price": {"amount": 208.69, "currency": "SAR"},
        "discount": {"amount": 41.74, "currency": "SAR"},
        "tax": {"percent": 15, "amount": {"amount": 118.95, "currency": "SAR"}},
        "total": {"amount": 911.97, "currency": "SAR"},
    }],
    "company": {"name": "my company", "tax_number": "311111231231233", "commercial_number": "1233212235"},
    "customer": {"id": 396470115, "first_name": "بدر", "last_name": "المطيري", "mobile": 555317835,
                 "mobile_code": "+966", "email": "Abubadr512@gmail.com", "country_code": "SA", "currency": "SAR"},
}


def _amounts_as_strings(value):
    """The same document with every money ``amount`` written as Salla's strings ("834.76")."""
    if isinstance(value, dict):
        return {k: (f"{D(str(v)):.2f}" if k == "amount" and isinstance(v, (int, float)) else _amounts_as_strings(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_amounts_as_strings(v) for v in value]
    return value


@pytest.mark.parametrize("style", ["numbers", "strings"])
def test_salla_documented_invoice_created_example_syncs(style):
    raw = SALLA_DOCUMENTED_INVOICE if style == "numbers" else _amounts_as_strings(SALLA_DOCUMENTED_INVOICE)
    inv = SallaInvoice.model_validate(raw)
    order = SallaOrder.model_validate({"id": 1783506836, "reference_id": 1, "status": {"slug": "completed"},
                                       "payment_method": "credit_card", "customer": raw["customer"]})
    draft = map_invoice(inv, order)
    [line] = draft.lines
    assert line.discount == D("41.74") and line.net == D("793.02") and line.tax == D("118.95")
    assert draft.discount_amount == 0
    assert draft.total == D("911.97")
    assert totals_mismatch(inv, draft) is None


def test_line_discounts_only_with_no_invoice_discount_stated():
    # Lines discounted, the invoice's discount 0: each line keeps its own discount, nothing more.
    inv = invoice([item(1, "A", "a", 3, "33.33", discount="9.99"), item(2, "B", "b", 2, "50.00", discount="10.00")],
                  total="207.00", sub_total="199.99")
    draft = map_invoice(inv, ORDER)
    assert [line.discount for line in draft.lines] == [D("9.99"), D("10.00")]
    assert draft.discount_amount == 0 and draft.total == D("207.00")


def test_invoice_discount_equal_to_the_lines_is_not_taken_twice():
    # Salla's documented shape on two lines: discount 19.99 = 9.99 + 10.00;
    # total = 199.99 - 19.99 + 27.00 (15 % of 90.00 + 15 % of 90.00) = 207.00.
    inv = invoice([item(1, "A", "a", 3, "33.33", discount="9.99"), item(2, "B", "b", 2, "50.00", discount="10.00")],
                  total="207.00", sub_total="199.99", discount="19.99")
    draft = map_invoice(inv, ORDER)
    assert [line.discount for line in draft.lines] == [D("9.99"), D("10.00")]
    assert draft.discount_amount == 0 and draft.total == D("207.00")
    assert totals_mismatch(inv, draft) is None


def test_invoice_discount_larger_than_the_lines_spreads_only_the_excess():
    # Lines 100.00 (10.00 off) and 50.00; the invoice's discount 24.00 = 10.00 + a 14.00 coupon.
    # The 14.00 is shared 90 : 50 -> 9.00 and 5.00; VAT 15 % of 81.00 and of 45.00.
    # Salla: 150.00 - 24.00 + 18.90 = 144.90.
    inv = invoice([item(1, "A", "a", 1, "100.00", discount="10.00"), item(2, "B", "b", 1, "50.00")],
                  total="144.90", sub_total="150.00", discount="24.00")
    draft = map_invoice(inv, ORDER)
    assert [line.discount for line in draft.lines] == [D("19.00"), D("5.00")]
    assert [line.tax for line in draft.lines] == [D("12.15"), D("6.75")]
    assert draft.discount_amount == 0 and draft.total == D("144.90")
    assert totals_mismatch(inv, draft) is None


def test_several_lines_with_unequal_discounts_and_a_coupon():
    # Line discounts 13.50, 9.00, 0 (22.50); the invoice's discount 30.00 -> a 7.50 coupon shared
    # over the nets 76.50 : 80.00 : 12.30 -> 3.40, 3.55, 0.55.
    # Salla: sub_total 191.30 - 30.00 + VAT 24.20 (10.97 + 11.47 + 1.76) = 185.50.
    inv = invoice([item(1, "A", "a", 2, "45.00", discount="13.50"), item(2, "B", "b", 1, "89.00", discount="9.00"),
                   item(3, "C", "c", 3, "4.10")], total="185.50", sub_total="191.30", discount="30.00")
    draft = map_invoice(inv, ORDER)
    assert [line.discount for line in draft.lines] == [D("16.90"), D("12.55"), D("0.55")]
    assert [line.tax for line in draft.lines] == [D("10.97"), D("11.47"), D("1.76")]
    assert draft.discount_amount == 0 and draft.total == D("185.50")
    assert totals_mismatch(inv, draft) is None


def test_half_halala_vat_on_a_line_discount_rounds_half_up():
    # 122.00 - 0.50 (the line's and the invoice's discount) = 121.50; VAT 18.225 -> 18.23.
    inv = invoice([item(1, "A", "a", 1, "122.00", discount="0.50")], total="139.73", sub_total="122.00",
                  discount="0.50")
    draft = map_invoice(inv, ORDER)
    assert draft.lines[0].net == D("121.50") and draft.lines[0].tax == D("18.23")
    assert draft.total == D("139.73") and totals_mismatch(inv, draft) is None


def test_half_halala_coupon_shares_round_half_up_remainder_on_the_largest():
    # A 0.05 coupon (0.15 - the line's 0.10) over two nets of 10.00: 0.025 each -> 0.03 half up,
    # one halala too many, taken back from the largest line (the first on a tie): 0.02 and 0.03.
    inv = invoice([item(1, "A", "a", 1, "10.00"), item(2, "B", "b", 1, "10.10", discount="0.10")],
                  total="22.95", sub_total="20.10", discount="0.15")
    draft = map_invoice(inv, ORDER)
    assert [line.discount for line in draft.lines] == [D("0.02"), D("0.13")]
    assert draft.discount_amount == 0 and totals_mismatch(inv, draft) is None


def test_lines_carrying_more_than_the_invoice_discount_take_nothing_extra_and_the_totals_check_decides():
    # Lines 10.00 + 10.00 off, the invoice says 15.00 in all: no such Salla invoice adds up.
    # Nothing extra is spread and nothing is added back; Salla's total (200 - 15 + 27.00) differs.
    inv = invoice([item(1, "A", "a", 1, "100.00", discount="10.00"), item(2, "B", "b", 1, "100.00", discount="10.00")],
                  total="212.00", sub_total="200.00", discount="15.00")
    draft = map_invoice(inv, ORDER)
    assert [line.discount for line in draft.lines] == [D("10.00"), D("10.00")]
    assert draft.discount_amount == 0 and draft.total == D("207.00")
    assert totals_mismatch(inv, draft) == ("totals differ: Salla 212.00 SAR, Enerpize would be 207.00 SAR; "
                                           "nothing was created")
