"""The sample Salla store and its builders: consistent amounts, Salla's documented discounts,
and the sample store's totals against the Enerpize simulator's formula."""

from __future__ import annotations

from decimal import Decimal

from simulator_helpers import enerpize_client

from sandbox import SallaStore, line, sample_store
from sandbox.salla_store import Invoice, spread


def _enerpize_body(invoice: Invoice, client_id: str) -> dict:
    """The straightforward mapping interfaces.md describes (a test-only stand-in for the sync)."""
    nets = [item.net for item in invoice.items]
    shares = spread(invoice.extra_discount, nets)  # the lines' own discounts are taken once, below
    lines = [{"item": item.name, "unit_price": str(item.price), "quantity": item.quantity,
              "discount": str(item.discount + share), "discount_type": 2,
              "tax1": "1" if item.tax_percent else None}
             for item, share in zip(invoice.items, shares, strict=True)]
    if invoice.cod:
        lines.append({"item": "COD", "unit_price": str(invoice.cod), "quantity": 1, "tax1": "1"})
    return {
        "Invoice": {"client_id": client_id, "date": invoice.date, "po_number": f"SALLA-{invoice.id}",
                    "shipping_amount": str(invoice.shipping),
                    "shipping_tax_id": "1" if invoice.shipping_taxable else None},
        "InvoiceItem": lines,
    }


def test_sample_store_totals_match_the_enerpize_formula(enerpize):
    client_id = enerpize.add_client(business_name="x")["id"]
    store = sample_store()
    invoices = store.all_invoices()
    assert len(store.orders) == 16 and len(invoices) == 21
    with enerpize_client(enerpize) as c:
        for invoice in invoices:
            new_id = c.post("/invoices", json=_enerpize_body(invoice, client_id)).json()["id"]
            got = Decimal(c.get(f"/invoices/{new_id}").json()["data"]["Invoice"]["summary_total"])
            if invoice.stated_total is None:
                assert got == invoice.total, invoice.id
            else:  # the deliberately bad invoice of order 1016
                assert invoice.total - got == Decimal("1.00")


def test_store_builders_compute_consistent_amounts():
    store = SallaStore()
    order = store.add_order(customer=store.add_customer("علي"), lines=[
        line("a", "33.33", quantity=3, sku="a"), line("b", "10.00", sku="b", tax_percent="0")])
    invoice = store.add_invoice(order, shipping="13.04", cod="5", discount="7.50")
    # nets 99.99 and 10.00; discount shares 6.82 / 0.68; tax 13.98 + 0 + 1.96 + 0.75
    assert invoice.sub_total == Decimal("109.99")
    assert invoice.tax_amount == Decimal("16.69")
    assert invoice.total == Decimal("109.99") - Decimal("7.50") + Decimal("13.04") + 5 + Decimal("16.69")
    bad = store.add_bad_invoice(order, off_by="0.05")
    assert bad.total - bad.computed_total == Decimal("0.05")


def test_invoice_discount_is_the_whole_discount_as_salla_documents_it():
    # Salla's documented invoice.created example: 4 x 208.69 with 41.74 off the line, no coupon.
    store = SallaStore()
    order = store.add_order(customer=store.add_customer("بدر"), lines=[
        line("زيت زيتون", "208.69", quantity=4, sku="PRO-001", discount="41.74")])
    data = store.add_invoice(order).to_json()
    assert (data["sub_total"]["amount"], data["discount"]["amount"], data["tax"]["amount"]["amount"],
            data["total"]["amount"]) == ("834.76", "41.74", "118.95", 911.97)
    assert data["items"][0]["discount"]["amount"] == "41.74"
    # A coupon on top of a line discount: the invoice's discount is both.
    order = store.add_order(customer=store.add_customer("ريم"), lines=[
        line("a", "100.00", sku="a", discount="10.00"), line("b", "50.00", sku="b")], discount="14.00")
    invoice = store.add_invoice(order)
    assert (invoice.sub_total, invoice.extra_discount, invoice.discount) == (150, 14, 24)
    assert invoice.tax_amount == Decimal("18.90") and invoice.total == Decimal("144.90")
    amounts = order.to_json()["amounts"]
    assert amounts["sub_total"]["amount"] == 150 and amounts["discounts"][0]["discount"] == "14.00"
