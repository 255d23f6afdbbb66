"""Salla invoice -> Enerpize document: pure functions, no I/O.

The result carries the total Enerpize will compute, so the sync can refuse a document whose
total would not match Salla's before anything is created.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date as Date
from decimal import Decimal

from sync_core.enerpize.models import CustomerRef, DocumentDraft, DocumentLine, PaymentDraft
from sync_core.money import ZERO, cents, fmt
from sync_core.salla.models import DocumentKind, SallaInvoice, SallaOrder, SallaOrderItem

TOTAL_TOLERANCE = Decimal("0.01")
GUEST_CLIENT_NUMBER = "salla-guest"
COD_LINE_NAME = "Cash on delivery fee"
# Salla payment methods that mean the money has not been collected when the invoice is issued.
_UNPAID_METHODS = {"waiting", "cod", "bank"}
_COLLECTED_SLUGS = {"completed", "delivered", "restored", "restoring"}


class MappingError(Exception):
    """The Salla invoice cannot become an Enerpize document; the message says why."""


def idempotency_key(salla_invoice_id: int | str) -> str:
    """The one key that ties a Salla invoice to its Enerpize document (``po_number``)."""
    return f"SALLA-{salla_invoice_id}"


def customer_for(order: SallaOrder) -> CustomerRef:
    """The Enerpize client of an order: one per Salla customer, one shared client for guests."""
    c = order.customer
    if c is None or c.id is None:
        return CustomerRef(client_number=GUEST_CLIENT_NUMBER, name="Salla guest")
    name = c.full_name or f"Salla customer {c.id}"
    phone = f"{c.mobile_code or ''}{c.mobile}" if c.mobile else None
    return CustomerRef(
        client_number=f"salla-{c.id}", name=name, first_name=c.first_name, last_name=c.last_name,
        email=c.email, phone=phone, country_code=c.country_code,
    )


def _invoice_rate(invoice: SallaInvoice) -> Decimal | None:
    if invoice.tax.percent:
        return abs(invoice.tax.percent)
    for item in invoice.items:
        if item.tax.percent:
            return abs(item.tax.percent)
    return None


def _spread(discount: Decimal, nets: list[Decimal]) -> list[Decimal]:
    """Share a discount over lines in proportion to their net, to the cent (half away from zero).

    The rounding remainder goes to the largest line (the first one on a tie), so the shares add
    up exactly. Never more than the lines' nets: what cannot be spread is left to the caller.
    """
    base = sum(nets, ZERO)
    if discount <= 0 or base <= 0:
        return [ZERO for _ in nets]
    discount = min(discount, base)
    shares = [cents(discount * net / base) for net in nets]
    largest = max(range(len(nets)), key=lambda i: nets[i])
    shares[largest] += discount - sum(shares, ZERO)
    return shares


def invoice_level_discount(invoice: SallaInvoice) -> Decimal:
    """The part of the invoice's ``discount`` that its lines do not carry themselves.

    Salla's invoice ``discount`` is the invoice's whole discount before tax, the lines' own
    discounts included (its documented ``invoice.created`` example: the invoice discount equals
    its one line's discount, and total = sub_total - discount + shipping + tax). So only the
    excess over the lines' discounts is an extra, invoice-level discount (a coupon on the cart).

    When the lines carry more than the invoice states (Salla's own formula would then not add
    up), nothing extra is taken: each line keeps its own discount, and the totals check, which
    compares with the total Salla states, decides whether the document may be created.
    """
    lines = sum((abs(item.discount) for item in invoice.items), ZERO)
    return max(abs(invoice.discount) - lines, ZERO)


def _is_paid(order: SallaOrder) -> bool:
    if order.is_pending_payment or order.status.slug == "payment_pending":
        return False
    method = (order.payment_method or "").lower()
    if method in _UNPAID_METHODS:
        return order.status.slug in _COLLECTED_SLUGS
    return bool(method)


def map_invoice(
    invoice: SallaInvoice,
    order: SallaOrder,
    order_items: Mapping[int, SallaOrderItem] | None = None,
) -> DocumentDraft:
    """Build the Enerpize document for one Salla invoice (with its items)."""
    kind = invoice.kind
    if kind is None:
        raise MappingError(f'Salla invoice {invoice.label} has an unknown type "{invoice.type}"')
    if not invoice.items:
        raise MappingError(f"Salla invoice {invoice.label} has no items")
    order_items = order_items or {}
    rate = _invoice_rate(invoice)

    nets: list[Decimal] = []
    for item in invoice.items:
        nets.append(cents(abs(item.price) * abs(item.quantity) - abs(item.discount)))
    # A line discount is taken once, on its line; only the invoice-level extra is spread over
    # the lines (so VAT is computed on the discounted amounts, as Salla does).
    extra = invoice_level_discount(invoice)
    shares = _spread(extra, nets)
    spread_total = sum(shares, ZERO)

    lines: list[DocumentLine] = []
    for item, share in zip(invoice.items, shares):
        if abs(item.quantity) == 0:
            raise MappingError(f'Salla invoice {invoice.label}: line "{item.name}" has quantity 0')
        sku = item.sku
        if sku is None and item.item_id is not None and item.item_id in order_items:
            sku = order_items[item.item_id].sku
        if item.tax.percent:
            line_rate: Decimal | None = abs(item.tax.percent)
        elif item.tax.amount:
            line_rate = rate  # a tax amount with no percent: the invoice's rate
        else:
            line_rate = None  # zero-rated
        lines.append(DocumentLine(
            name=item.name or sku or "Item", unit_price=abs(item.price), quantity=abs(item.quantity),
            discount=abs(item.discount) + share, tax_rate=line_rate, sku=sku, description=sku or "",
        ))
    if invoice.cod_cost:
        lines.append(DocumentLine(name=COD_LINE_NAME, unit_price=abs(invoice.cod_cost), quantity=Decimal(1),
                                  tax_rate=rate))

    shipping = abs(invoice.shipping_cost.amount)
    draft = DocumentDraft(
        kind=kind,
        po_number=idempotency_key(invoice.id),
        date=invoice.date or Date.today(),
        currency=invoice.currency or order.currency or "SAR",
        customer=customer_for(order),
        lines=tuple(lines),
        shipping_amount=shipping,
        shipping_tax_rate=rate if shipping and invoice.shipping_cost.taxable else None,
        # Whatever of the extra could not be spread (more than the lines' nets): off after tax.
        discount_amount=extra - spread_total,
        notes=_notes(invoice, order),
    )
    if kind is DocumentKind.INVOICE and _is_paid(order):
        method = invoice.payment_method or order.payment_method or "salla"
        draft = dataclasses.replace(draft, payment=PaymentDraft(method=method, amount=draft.total, date=draft.date))
    return draft


def _notes(invoice: SallaInvoice, order: SallaOrder) -> str:
    return f"Salla order #{order.merchant_number} (order id {order.id}), Salla invoice {invoice.label}"


def totals_mismatch(invoice: SallaInvoice, draft: DocumentDraft) -> str | None:
    """The reason to refuse the document when its Enerpize total differs from Salla's, else None."""
    salla_total = abs(invoice.total)
    if abs(draft.total - salla_total) > TOTAL_TOLERANCE:
        return (f"totals differ: Salla {fmt(salla_total)} {draft.currency}, "
                f"Enerpize would be {fmt(draft.total)} {draft.currency}; nothing was created")
    return None
