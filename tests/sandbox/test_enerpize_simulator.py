"""Quick checks of the Enerpize simulator, over real HTTP with httpx: auth, taxes, uniqueness and
filters, validation, the total formula, refund receipts, lost answers and injected failures."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from simulator_helpers import _invoice_body, enerpize_client

from sandbox import EnerpizeSimulator


def test_enerpize_auth_and_taxes(enerpize):
    r = httpx.get(enerpize.api_url + "/taxes", headers={"apikey": "wrong"})
    assert r.status_code == 401
    assert r.json() == {"result": "failed", "code": 401, "message": "Invalid API key"}
    with enerpize_client(enerpize) as c:
        body = c.get("/taxes.json").json()
    assert body["data"][0] == {"Tax": {"id": "1", "name": "VAT 15%", "value": "15"}}
    assert body["pagination"]["total_results"] == 2


def test_enerpize_uniqueness_and_exact_filters(enerpize):
    with enerpize_client(enerpize) as c:
        created = c.post("/clients", json={"Client": {"business_name": "محمد العتيبي",
                                                      "client_number": "salla-1"}})
        assert created.status_code == 202 and created.json()["result"] == "successful"
        again = c.post("/clients", json={"Client": {"business_name": "x", "client_number": "salla-1"}})
        assert again.status_code == 400
        assert again.json()["validation_errors"] == {"client_number": "already exists"}

        product = {"Product": {"name": "SSD", "product_code": "sam-ssd"}}
        assert c.post("/products", json=product).status_code == 202
        dup = c.post("/products.json", json=product)
        assert dup.status_code == 400 and "product_code" in dup.json()["validation_errors"]

        c.post("/clients", json={"Client": {"business_name": "y", "client_number": "salla-11"}})
        rows = c.get("/clients", params={"filter[client_number]": "salla-1"}).json()["data"]
    assert [r["Client"]["client_number"] for r in rows] == ["salla-1"]


def test_enerpize_loose_filters_match_substrings():
    with EnerpizeSimulator(loose_filters=True) as sim, enerpize_client(sim) as c:
        client_id = sim.add_client(business_name="x")["id"]
        for po in ("SALLA-5", "SALLA-55"):
            assert c.post("/invoices", json=_invoice_body(client_id, po)).status_code == 202
        rows = c.get("/invoices", params={"filter[po_number]": "SALLA-5"}).json()["data"]
    assert sorted(r["Invoice"]["po_number"] for r in rows) == ["SALLA-5", "SALLA-55"]


def test_enerpize_validation_errors(enerpize):
    client_id = enerpize.add_client(business_name="x")["id"]
    bad = _invoice_body("999", "SALLA-1", shipping_tax_id="7")
    bad["InvoiceItem"][0].update(product_id="5", quantity=0, tax1="9")
    with enerpize_client(enerpize) as c:
        r = c.post("/invoices", json=bad)
        assert r.status_code == 400 and r.json()["message"] == "Bad Request"
        errors = r.json()["validation_errors"]
        assert {"client_id", "shipping_tax_id", "InvoiceItem.0.product_id", "InvoiceItem.0.quantity",
                "InvoiceItem.0.tax1"} <= set(errors)
        empty = c.post("/refund_receipts", json={"RefundReceipt": {"client_id": client_id,
                                                                   "date": "2026-11-20"},
                                                 "InvoiceItem": []})
        assert empty.json()["validation_errors"] == {"InvoiceItem": "required"}
    assert enerpize.documents == {"invoices": [], "refund_receipts": []}


def test_enerpize_total_formula(enerpize):
    client_id = enerpize.add_client(business_name="x")["id"]
    body = {
        "Invoice": {"client_id": client_id, "date": "2026-11-20", "po_number": "SALLA-9",
                    "shipping_amount": "20", "shipping_tax_id": "1", "discount_amount": "5"},
        "InvoiceItem": [
            # 4.10 x 3 = 12.30 -> tax 1.845 -> 1.85 (half up)
            {"item": "a", "unit_price": 4.1, "quantity": 3, "tax1": 1},
            # 10 % of 200 off -> 180.00, tax 27.00
            {"item": "b", "unit_price": "100", "quantity": 2, "tax1": "1",
             "discount": 10, "discount_type": 1},
            # 9.99 off -> 90.01, no tax
            {"item": "c", "unit_price": "100", "quantity": 1, "discount": "9.99", "discount_type": 2},
        ],
    }
    with enerpize_client(enerpize) as c:
        new_id = c.post("/invoices", json=body).json()["id"]
        doc = c.get(f"/invoices/{new_id}.json").json()["data"]
    # 12.30 + 1.85 + 180.00 + 27.00 + 90.01 + 20 + 3.00 - 5 = 329.16
    assert doc["Invoice"]["summary_total"] == "329.16"
    assert doc["Invoice"]["no"] == "000001" and doc["Invoice"]["po_number"] == "SALLA-9"
    assert len(doc["InvoiceItem"]) == 3
    assert enerpize.documents_with_po("SALLA-9")[0].total == Decimal("329.16")


def test_enerpize_refund_receipt_numbering(enerpize):
    client_id = enerpize.add_client(business_name="x")["id"]
    with enerpize_client(enerpize) as c:
        invoice_id = c.post("/invoices", json=_invoice_body(client_id, "SALLA-1")).json()["id"]
        body = _invoice_body(client_id, "SALLA-2", subscription_id=invoice_id)
        body["RefundReceipt"] = body.pop("Invoice")
        refund_id = c.post("/refund_receipts", json=body).json()["id"]
        doc = c.get(f"/refund_receipts/{refund_id}").json()["data"]["RefundReceipt"]
        assert c.get(f"/invoices/{refund_id}").status_code == 404
    assert doc["no"] == "R-000001" and doc["summary_total"] == "287.50"


@pytest.mark.parametrize("mode", ["drop", "hang"])
def test_enerpize_lost_answer_still_stores_the_document(mode):
    with EnerpizeSimulator(hang_seconds=0.3) as sim:
        client_id = sim.add_client(business_name="x")["id"]
        sim.lose_next_create("invoices", mode=mode)
        with enerpize_client(sim, timeout=0.1) as c:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadTimeout)):
                c.post("/invoices", json=_invoice_body(client_id, "SALLA-77"))
            rows = c.get("/invoices", params={"filter[po_number]": "SALLA-77"}).json()["data"]
        assert [r["Invoice"]["po_number"] for r in rows] == ["SALLA-77"]
        assert len(sim.documents_with_po("SALLA-77")) == 1


def test_enerpize_fail_next_and_call_count(enerpize):
    enerpize.fail_next(429, method="POST", retry_after=3)
    client_id = enerpize.add_client(business_name="x")["id"]
    with enerpize_client(enerpize) as c:
        throttled = c.post("/invoices", json=_invoice_body(client_id, "SALLA-3"))
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
        assert throttled.json()["result"] == "failed"
        assert c.post("/invoices", json=_invoice_body(client_id, "SALLA-3")).status_code == 202
    assert enerpize.call_count(method="POST", path_contains="/invoices") == 2
    assert len(enerpize.documents["invoices"]) == 1
