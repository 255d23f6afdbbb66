"""The api2 JSON bodies of the documents the sync creates: pure functions, no I/O.

Field names and JSON types follow Daftra's official api2 document
(``shared/reference/official/daftra-api2-subset.openapi.json``), which wins over interfaces.md
where they differ; ``tests/contract/daftra_openapi.py`` checks every body the core suite sends
against it, and lists by name the few places where we knowingly depart from it:

- ids (``client_id``, ``product_id``, ``tax1``, ``subscription_id``) are integers there; Enerpize
  answers them as strings (``"id": "2415"``), so a numeric id is sent back as a JSON integer;
- money and quantities are JSON numbers (``unit_price``, ``amount``: number), never strings; the
  float exists only to be written as JSON (json cannot write a Decimal as a number), and for an
  amount to the cent its shortest form is exactly the Decimal's digits (``310.5``);
- an invoice's payments go under ``Payment``, a refund receipt's under ``InvoicePayment``;
- ``shipping_tax_id`` (not in the document's invoice schema; sent by Daftra's own WooCommerce
  plugin), ``Payment.status`` (documented for ``InvoicePayment`` only) and the money fields the
  invoice schema types as integers (``discount_amount``, ``InvoiceItem.discount``) are the
  departures the contract test names.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sync_core.enerpize.models import DocumentDraft
from sync_core.money import cents
from sync_core.salla.models import DocumentKind

# Where each kind of document carries its payments.
PAYMENT_KEYS = {DocumentKind.INVOICE: "Payment", DocumentKind.RETURN: "InvoicePayment"}
PAYMENT_COMPLETED = 1  # InvoicePayment.status: 0 failed, 1 completed, 2 pending, 3 not completed


def api_id(value: Any) -> int | str:
    """An Enerpize id as api2 documents it (an integer); a non-numeric id is sent as given."""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else text


def number(value: Decimal) -> int | float:
    """A Decimal as a JSON number: ``2`` or ``310.5`` (the float's shortest form is the decimal)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def money(value: Decimal) -> int | float:
    """An amount rounded to the cent (half away from zero), as a JSON number."""
    return number(cents(value))


def document_body(draft: DocumentDraft, key: str, *, client_id: str, product_ids: dict[str, str],
                  tax_ids: dict[Decimal, str], original_invoice_id: str | None) -> dict:
    """The api2 JSON for a draft, with ids in place of SKUs and tax rates."""
    header: dict[str, Any] = {
        "client_id": api_id(client_id), "date": draft.date.isoformat(), "currency_code": draft.currency,
        "po_number": draft.po_number, "notes": draft.notes, "discount_amount": money(draft.discount_amount),
        "shipping_amount": money(draft.shipping_amount),
    }
    if draft.shipping_amount and draft.shipping_tax_rate:
        header["shipping_tax_id"] = api_id(tax_ids[draft.shipping_tax_rate])
    if original_invoice_id:
        header["subscription_id"] = api_id(original_invoice_id)
    items = []
    for line in draft.lines:
        item: dict[str, Any] = {
            "item": line.name, "description": line.description, "unit_price": number(line.unit_price),
            "quantity": number(line.quantity), "discount": money(line.discount), "discount_type": 2,
        }
        if line.sku:
            item["product_id"] = api_id(product_ids[line.sku])
        if line.tax_rate:
            item["tax1"] = api_id(tax_ids[line.tax_rate])
        items.append(item)
    body: dict[str, Any] = {key: header, "InvoiceItem": items}
    if draft.payment is not None:
        body[PAYMENT_KEYS[draft.kind]] = [{
            "payment_method": draft.payment.method, "amount": money(draft.payment.amount),
            "date": draft.payment.date.isoformat(), "status": PAYMENT_COMPLETED,
        }]
    return body
