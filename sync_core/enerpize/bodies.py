"""The api2 JSON bodies of the documents the sync creates: pure functions, no I/O."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sync_core.enerpize.models import DocumentDraft
from sync_core.money import fmt


def document_body(draft: DocumentDraft, key: str, *, client_id: str, product_ids: dict[str, str],
                  tax_ids: dict[Decimal, str], original_invoice_id: str | None) -> dict:
    """The api2 JSON for a draft, with ids in place of SKUs and tax rates."""
    header: dict[str, Any] = {
        "client_id": client_id, "date": draft.date.isoformat(), "currency_code": draft.currency,
        "po_number": draft.po_number, "notes": draft.notes, "discount_amount": fmt(draft.discount_amount),
        "shipping_amount": fmt(draft.shipping_amount),
    }
    if draft.shipping_amount and draft.shipping_tax_rate:
        header["shipping_tax_id"] = tax_ids[draft.shipping_tax_rate]
    if original_invoice_id:
        header["subscription_id"] = original_invoice_id
    items = []
    for line in draft.lines:
        item: dict[str, Any] = {
            "item": line.name, "description": line.description, "unit_price": str(line.unit_price),
            "quantity": str(line.quantity), "discount": fmt(line.discount), "discount_type": 2,
        }
        if line.sku:
            item["product_id"] = product_ids[line.sku]
        if line.tax_rate:
            item["tax1"] = tax_ids[line.tax_rate]
        items.append(item)
    body: dict[str, Any] = {key: header, "InvoiceItem": items}
    if draft.payment is not None:
        body["Payment"] = [{"payment_method": draft.payment.method, "amount": fmt(draft.payment.amount),
                            "date": draft.payment.date.isoformat(), "status": 1}]
    return body
