"""The records of the Salla simulator: customers, orders, order items, invoices, and their amounts.

Every amount is computed the way Salla's documented examples add up, in Decimal, rounding each to
the cent half away from zero. Salla's documented ``invoice.created`` example (one line of
4 x 208.69 with a 41.74 line discount; invoice sub_total 834.76, discount 41.74, tax 118.95, total
911.97) fixes the reading: the invoice's ``discount`` is its *whole* discount, the lines' own
discounts included, and ``sub_total`` is before any discount.

- item: gross = price x quantity; net = gross - line discount; tax = round(net x rate / 100);
  total = net + tax (``discount``, ``tax.amount`` and ``total`` are the line's)
- invoice: sub_total = sum of item grosses;
  ``discount`` = sum of line discounts + the invoice-level extra (``extra_discount``: a coupon on
  the cart, what the store builders' ``discount=`` argument sets);
  total = sub_total - discount + shipping + cod + tax
- invoice tax = sum over items of round((net - share of the extra) x rate / 100)
  + round(shipping x invoice rate / 100) when shipping is taxable
  + round(cod x invoice rate / 100)
  Only the extra is shared over the items, in proportion to their net, each share rounded to the
  cent, the remainder on the largest item (the first one on a tie): ``spread``.

So an Enerpize document that carries the same lines with their own discounts, the extra spread
the same way as fixed line discounts, shipping with the VAT tax when taxable, and the COD fee as a
taxed line, totals exactly Salla's invoice total. The order's ``amounts`` are computed the same way
(``discounts`` lists only the order's coupon, the extra).

How each record is written as Salla's API JSON is in ``salla_wire`` (the ``*Wire`` bases); how
records are built and found is in ``salla_store`` (``SallaStore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sandbox.money import ZERO, cents
from sandbox.salla_wire import CustomerWire, InvoiceItemWire, InvoiceWire, OrderItemWire, OrderWire

TAX_INVOICE = "Tax Invoice"
CREDIT_NOTE = "Credit Note"
TAX_INVOICE_AR = "فاتورة ضريبية"
CREDIT_NOTE_AR = "إشعار دائن"
CREDIT_TYPES = {CREDIT_NOTE, CREDIT_NOTE_AR}


# -- specs the tests write ------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """What a test asks for: one line of an order or an invoice.

    ``price`` is per unit before tax, ``discount`` the line's fixed discount before tax.
    ``item_id`` links an invoice line to an existing order item (Salla's ``item_id``).
    ``sku=None`` is sent as JSON null; ``sku=""`` as an empty string.
    """

    name: str
    price: Any
    quantity: int = 1
    sku: str | None = None
    tax_percent: Any = "15"
    discount: Any = "0"
    product_id: int | None = None
    type: str = "product"
    item_id: int | None = None


def line(name: str, price: Any, quantity: int = 1, **kwargs: Any) -> Line:
    return Line(name, price, quantity, **kwargs)


# -- records --------------------------------------------------------------------------------

@dataclass
class Customer(CustomerWire):
    id: int | None
    first_name: str
    last_name: str = ""
    mobile: str | None = None
    mobile_code: str = "+966"
    email: str | None = None
    country_code: str = "SA"
    city: str = "الرياض"


@dataclass
class _Priced:
    """Amounts shared by order items and invoice items."""

    name: str
    sku: str | None
    quantity: int
    price: Decimal
    discount: Decimal
    tax_percent: Decimal
    product_id: int
    type: str

    @property
    def gross(self) -> Decimal:
        return cents(self.price * self.quantity)

    @property
    def net(self) -> Decimal:
        return cents(self.price * self.quantity - self.discount)

    @property
    def tax(self) -> Decimal:
        return cents(self.net * self.tax_percent / 100)

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


@dataclass
class OrderItem(OrderItemWire, _Priced):
    id: int = 0

    def as_line(self, **overrides: Any) -> Line:
        """This item as an invoice line linked to it; override e.g. ``quantity`` or ``sku``."""
        spec = Line(self.name, self.price, self.quantity, sku=self.sku, tax_percent=self.tax_percent,
                    discount=self.discount, product_id=self.product_id, type=self.type, item_id=self.id)
        return replace(spec, **overrides)


@dataclass
class InvoiceItem(InvoiceItemWire, _Priced):
    id: int = 0
    item_id: int | None = None


@dataclass
class Invoice(InvoiceWire):
    id: int
    invoice_number: str
    order_id: int
    type: str
    date: str
    payment_method: str
    currency: str
    tax_percent: Decimal
    items: list[InvoiceItem]
    shipping: Decimal = ZERO
    shipping_taxable: bool = True
    cod: Decimal = ZERO
    extra_discount: Decimal = ZERO  # invoice-level, on top of the lines' own discounts (a coupon)
    amount_style: str = "strings"
    stated_total: Decimal | None = None  # set only for a deliberately wrong invoice

    @property
    def is_credit_note(self) -> bool:
        return self.type in CREDIT_TYPES

    @property
    def sub_total(self) -> Decimal:
        """Before any discount, as in Salla's documented example."""
        return sum((item.gross for item in self.items), ZERO)

    @property
    def discount(self) -> Decimal:
        """The invoice's whole discount before tax, as Salla sends it: the lines' and the extra."""
        return sum((item.discount for item in self.items), ZERO) + self.extra_discount

    @property
    def tax_amount(self) -> Decimal:
        nets = [item.net for item in self.items]
        shares = spread(self.extra_discount, nets)
        goods = sum((cents((net - share) * item.tax_percent / 100)
                     for item, net, share in zip(self.items, nets, shares, strict=True)), ZERO)
        shipping = cents(self.shipping * self.tax_percent / 100) if self.shipping_taxable else ZERO
        cod = cents(self.cod * self.tax_percent / 100)
        return goods + shipping + cod

    @property
    def computed_total(self) -> Decimal:
        return self.sub_total - self.discount + self.shipping + self.cod + self.tax_amount

    @property
    def total(self) -> Decimal:
        """The total Salla states (equal to ``computed_total`` unless built as a bad invoice)."""
        return self.computed_total if self.stated_total is None else self.stated_total


@dataclass
class Order(OrderWire):
    id: int
    reference_id: int
    customer: Customer | None
    status_slug: str
    payment_method: str
    date: str  # "YYYY-MM-DD HH:MM:SS", Asia/Riyadh
    currency: str
    tax_percent: Decimal
    items: list[OrderItem] = field(default_factory=list)
    shipping: Decimal = ZERO
    shipping_taxable: bool = True
    cod: Decimal = ZERO
    discount: Decimal = ZERO  # the order's coupon, on top of its items' own discounts
    coupon_code: str | None = None
    guest_style: str = "null"  # how a guest order (no customer) is sent: see ``salla_wire``
    invoices: list[Invoice] = field(default_factory=list)

    def _as_invoice(self) -> Invoice:
        """The order's own amounts, computed like one invoice of all its items."""
        items = [InvoiceItem(i.name, i.sku, i.quantity, i.price, i.discount, i.tax_percent,
                             i.product_id, i.type) for i in self.items]
        return Invoice(0, "", self.id, TAX_INVOICE, self.date[:10], self.payment_method, self.currency,
                       self.tax_percent, items, self.shipping, self.shipping_taxable, self.cod,
                       self.discount)

    def _guest_customer(self) -> Customer:
        """The customer without id Salla sends for a guest order in the "no_id" style."""
        return Customer(None, "زائر", "")


def spread(discount: Decimal, nets: list[Decimal]) -> list[Decimal]:
    """Share ``discount`` over lines in proportion to their net, to the cent; the rounding
    remainder goes to the largest line (the first one on a tie)."""
    base = sum(nets, ZERO)
    if not discount or base <= 0:
        return [ZERO for _ in nets]
    shares = [cents(discount * net / base) for net in nets]
    largest = max(range(len(nets)), key=lambda i: nets[i])
    shares[largest] += discount - sum(shares, ZERO)
    return shares
