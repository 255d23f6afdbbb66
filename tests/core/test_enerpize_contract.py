"""The contract check itself (tests/contract/daftra_openapi.py) can fail: it catches what Daftra's
api2 document does not describe, and lets through only the departures it names."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from sandbox import Call, EnerpizeSimulator
from sync_core.enerpize.bodies import document_body
from sync_core.enerpize.models import CustomerRef, DocumentDraft, DocumentLine, PaymentDraft
from sync_core.salla.models import DocumentKind
from tests.contract.daftra_openapi import BODY_DEPARTURES, QUERY_DEPARTURES, check_calls, check_request

VAT = Decimal("15")


def _draft(kind: DocumentKind, *, paid: bool) -> DocumentDraft:
    return DocumentDraft(
        kind=kind, po_number="SALLA-560001", date=date(2026, 11, 20), currency="SAR",
        customer=CustomerRef(client_number="salla-1", name="x"),
        lines=(DocumentLine("SSD 256GB", Decimal("125.00"), Decimal("2"), Decimal("4.50"), VAT, sku="ssd"),
               DocumentLine("Cash on delivery fee", Decimal("10.00"), Decimal("1"), tax_rate=VAT)),
        shipping_amount=Decimal("20.00"), shipping_tax_rate=VAT, notes="Salla order #1001",
        payment=PaymentDraft("mada", Decimal("300.83"), date(2026, 11, 20)) if paid else None,
    )


def _body(kind: DocumentKind, *, paid: bool = True) -> dict:
    key = "Invoice" if kind is DocumentKind.INVOICE else "RefundReceipt"
    return document_body(_draft(kind, paid=paid), key, client_id="1001", product_ids={"ssd": "2001"},
                         tax_ids={VAT: "1"}, original_invoice_id=None if kind is DocumentKind.INVOICE else "3001")


def test_the_bodies_we_build_are_documented():
    assert check_request("POST", "/api2/invoices", {}, _body(DocumentKind.INVOICE)) == []
    assert check_request("POST", "/api2/refund_receipts", {}, _body(DocumentKind.RETURN)) == []


def test_an_undocumented_field_is_caught():
    body = _body(DocumentKind.INVOICE)
    body["Invoice"]["salla_order_id"] = 418149270
    body["InvoiceItem"][0]["sku"] = "ssd"
    assert check_request("POST", "/api2/invoices.json", {}, body) == [
        "POST /api2/invoices.json: body $.Invoice: Unevaluated properties are not allowed "
        "('salla_order_id' was unexpected)",
        "POST /api2/invoices.json: body $.InvoiceItem[0]: Unevaluated properties are not allowed "
        "('sku' was unexpected)",
    ]


def test_payment_on_a_refund_receipt_is_the_wrong_top_level_key():
    body = _body(DocumentKind.RETURN)
    body["Payment"] = body.pop("InvoicePayment")
    assert check_request("POST", "/api2/refund_receipts", {}, body) == [
        "POST /api2/refund_receipts: body $: Unevaluated properties are not allowed ('Payment' was unexpected)"]
    # ... and InvoicePayment on an invoice.
    body = _body(DocumentKind.INVOICE)
    body["InvoicePayment"] = body.pop("Payment")
    assert check_request("POST", "/api2/invoices", {}, body) == [
        "POST /api2/invoices: body $: Unevaluated properties are not allowed ('InvoicePayment' was unexpected)"]


def test_wrong_json_types_are_caught():
    body = _body(DocumentKind.RETURN)
    body["RefundReceipt"]["client_id"] = "1001"  # the string Enerpize answered, sent back as it came
    body["InvoiceItem"][0]["unit_price"] = "125.00"
    assert check_request("POST", "/api2/refund_receipts", {}, body) == [
        "POST /api2/refund_receipts: body $.InvoiceItem[0].unit_price: '125.00' is not of type 'number'",
        "POST /api2/refund_receipts: body $.RefundReceipt.client_id: '1001' is not of type 'integer'",
    ]


def test_an_undocumented_query_parameter_is_caught():
    assert check_request("GET", "/api2/clients.json", {"email": "a@b.sa", "page": "1"}) == [
        "GET /api2/clients.json: query parameter 'email' is not documented for /clients{format}"]
    assert check_request("GET", "/api2/refund_receipts", {"sort": "date"}) == [
        "GET /api2/refund_receipts: query parameter 'sort' is not documented for /refund_receipts{format}"]
    assert check_request("GET", "/api2/invoices", {"page": "two"}) == [
        "GET /api2/invoices: query parameter page='two' is not an integer"]
    # Documented plain filters of the invoice list pass.
    assert check_request("GET", "/api2/invoices", {"po_number": "SALLA-1", "external_source": "salla",
                                                   "keywords": "1001", "limit": "20", "page": "2"}) == []


def test_unknown_paths_and_methods_are_caught():
    assert check_request("GET", "/api2/stores.json") == ["GET /api2/stores.json: no such path in the document"]
    assert check_request("PATCH", "/api2/invoices/3001") == [
        "PATCH /api2/invoices/3001: the document has no PATCH on /invoices/{id}{format}"]
    assert check_request("GET", "/api2/invoices/3001.json") == []
    assert check_request("POST", "/api2/invoices", {}, None) == ["POST /api2/invoices: no JSON body"]


def test_the_bracket_spelling_is_a_named_departure_with_its_reason():
    probed = "probed, used only when the tenant is seen to honour it"
    for path, parameter in [("/invoices{format}", "filter[po_number]"), ("/clients{format}", "filter[client_number]"),
                            ("/products{format}", "filter[product_code]"), ("/clients{format}", "client_number"),
                            ("/products{format}", "product_code")]:
        assert QUERY_DEPARTURES[(path, parameter)] == probed
    assert check_request("GET", "/api2/clients", {"filter[client_number]": "salla-1", "page": "1"}) == []
    # Only where it is listed: a bracket filter the adapter does not send is still caught.
    assert check_request("GET", "/api2/clients", {"filter[email]": "a@b.sa"}) == [
        "GET /api2/clients: query parameter 'filter[email]' is not documented for /clients{format}"]
    names = [d.name for d in BODY_DEPARTURES]
    assert "Invoice.shipping_tax_id / RefundReceipt.shipping_tax_id" in names
    assert all(d.reason for d in BODY_DEPARTURES)


def test_a_departure_is_only_as_wide_as_it_says():
    body = _body(DocumentKind.INVOICE)
    body["Invoice"]["shipping_tax_id"] = "1"  # departs from the document, and as an integer only
    body["Payment"][0]["status"] = 7
    violations = check_request("POST", "/api2/invoices", {}, body)
    assert violations == [
        "POST /api2/invoices: body $.Invoice.shipping_tax_id: '1' is not of type 'integer'",
        "POST /api2/invoices: body $.Payment[0].status: 7 is not one of [0, 1, 2, 3]",
    ]


def test_the_simulator_records_bodies_for_the_check():
    with EnerpizeSimulator(api_key="k") as sim:
        with httpx.Client(base_url=sim.api_url, headers={"apikey": "k"}) as http:
            http.get("/taxes.json")
            http.post("/clients", json={"Client": {"business_name": "x", "nickname": "y"}})
        calls = list(sim.calls)
    assert calls[1].body == {"Client": {"business_name": "x", "nickname": "y"}}
    assert check_calls(calls) == [
        "POST /api2/clients: body $.Client: Unevaluated properties are not allowed ('nickname' was unexpected)"]
    # Each violation is reported once, however often it was sent.
    assert check_calls(calls + calls) == check_calls(calls)
    assert check_calls([Call("GET", "/api2/taxes", {})]) == []


@pytest.mark.parametrize("kind", [DocumentKind.INVOICE, DocumentKind.RETURN])
def test_an_unpaid_document_is_documented_too(kind):
    key_path = "/api2/invoices" if kind is DocumentKind.INVOICE else "/api2/refund_receipts"
    assert check_request("POST", key_path, {}, _body(kind, paid=False)) == []
