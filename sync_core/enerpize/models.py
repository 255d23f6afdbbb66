"""Enerpize documents before they are sent: pure data, with the total Enerpize will compute.

Lines carry the SKU and the tax *rate*; the adapter turns them into product and tax ids. That
lets the totals check run before anything is created in Enerpize.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date as Date
from decimal import Decimal

from sync_core.money import ZERO, cents
from sync_core.salla.models import DocumentKind


@dataclass(frozen=True)
class DocumentLine:
    name: str
    unit_price: Decimal
    quantity: Decimal
    discount: Decimal = ZERO  # fixed amount off the line, before tax
    tax_rate: Decimal | None = None  # percent; None = no tax on the line
    sku: str | None = None  # None = a line with no product
    description: str = ""

    @property
    def net(self) -> Decimal:
        return cents(self.unit_price * self.quantity - self.discount)

    @property
    def tax(self) -> Decimal:
        if not self.tax_rate:
            return ZERO
        return cents(self.net * self.tax_rate / 100)


@dataclass(frozen=True)
class CustomerRef:
    """Who the document is for; ``client_number`` is the find-or-create key in Enerpize."""

    client_number: str
    name: str
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    country_code: str | None = None


@dataclass(frozen=True)
class PaymentDraft:
    method: str
    amount: Decimal
    date: Date


@dataclass(frozen=True)
class DocumentDraft:
    kind: DocumentKind
    po_number: str  # the idempotency key
    date: Date
    currency: str
    customer: CustomerRef
    lines: tuple[DocumentLine, ...]
    shipping_amount: Decimal = ZERO
    shipping_tax_rate: Decimal | None = None
    discount_amount: Decimal = ZERO  # taken off after tax
    notes: str = ""
    payment: PaymentDraft | None = None

    @property
    def shipping_total(self) -> Decimal:
        if not self.shipping_amount:
            return ZERO
        tax = cents(self.shipping_amount * self.shipping_tax_rate / 100) if self.shipping_tax_rate else ZERO
        return self.shipping_amount + tax

    @property
    def total(self) -> Decimal:
        """The total Enerpize computes for this document (the contract's formula)."""
        lines = sum((line.net + line.tax for line in self.lines), ZERO)
        return cents(lines + self.shipping_total - self.discount_amount)

    @property
    def tax_rates(self) -> set[Decimal]:
        found = {line.tax_rate for line in self.lines if line.tax_rate}
        if self.shipping_amount and self.shipping_tax_rate:
            found.add(self.shipping_tax_rate)
        return found  # type: ignore[return-value]

    @property
    def skus(self) -> list[str]:
        return sorted({line.sku for line in self.lines if line.sku})


@dataclass(frozen=True)
class CreatedDocument:
    """A document that exists in Enerpize."""

    kind: DocumentKind
    enerpize_id: str
    number: str | None
    total: Decimal | None = None
