"""The data behind the Salla simulator: customers, orders, order items, invoices.

Builders compute every amount the way Salla's documented examples add up, in Decimal, rounding
each to the cent half away from zero. Salla's documented ``invoice.created`` example (one line of
4 x 208.69 with a 41.74 line discount; invoice sub_total 834.76, discount 41.74, tax 118.95, total
911.97) fixes the reading: the invoice's ``discount`` is its *whole* discount, the lines' own
discounts included, and ``sub_total`` is before any discount.

- item: gross = price x quantity; net = gross - line discount; tax = round(net x rate / 100);
  total = net + tax (``discount``, ``tax.amount`` and ``total`` are the line's)
- invoice: sub_total = sum of item grosses;
  ``discount`` = sum of line discounts + the invoice-level extra (``extra_discount``: a coupon on
  the cart, what the builders' ``discount=`` argument sets);
  total = sub_total - discount + shipping + cod + tax
- invoice tax = sum over items of round((net - share of the extra) x rate / 100)
  + round(shipping x invoice rate / 100) when shipping is taxable
  + round(cod x invoice rate / 100)
  Only the extra is shared over the items, in proportion to their net, each share rounded to the
  cent, the remainder on the largest item (the first one on a tie).

So an Enerpize document that carries the same lines with their own discounts, the extra spread
the same way as fixed line discounts, shipping with the VAT tax when taxable, and the COD fee as a
taxed line, totals exactly Salla's invoice total. The order's ``amounts`` are computed the same way
(``discounts`` lists only the order's coupon, the extra).

Everything here is plain Python guarded by ``SallaStore.lock``; tests may add orders from their
own thread while the simulator serves.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sandbox.money import ZERO, as_number, as_string, cents, dec

TAX_INVOICE = "Tax Invoice"
CREDIT_NOTE = "Credit Note"
TAX_INVOICE_AR = "فاتورة ضريبية"
CREDIT_NOTE_AR = "إشعار دائن"
_CREDIT_TYPES = {CREDIT_NOTE, CREDIT_NOTE_AR}

# slug -> (status id, Arabic name as Salla shows it)
ORDER_STATUSES: dict[str, tuple[int, str]] = {
    "payment_pending": (566146461, "بانتظار الدفع"),
    "under_review": (566146469, "بإنتظار المراجعة"),
    "in_progress": (1939592358, "قيد التنفيذ"),
    "completed": (1298199463, "تم التنفيذ"),
    "delivering": (349994915, "جاري التوصيل"),
    "delivered": (1723506348, "تم التوصيل"),
    "shipped": (814202285, "تم الشحن"),
    "canceled": (525144736, "ملغي"),
    "restoring": (1956875584, "قيد الإسترجاع"),
    "restored": (989286562, "مسترجع"),
}

AMOUNT_STYLES = ("strings", "numbers")
GUEST_STYLES = ("null", "absent", "no_id")


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
class Customer:
    id: int | None
    first_name: str
    last_name: str = ""
    mobile: str | None = None
    mobile_code: str = "+966"
    email: str | None = None
    country_code: str = "SA"
    city: str = "الرياض"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "first_name": self.first_name, "last_name": self.last_name,
            "mobile": self.mobile, "mobile_code": self.mobile_code, "email": self.email,
            "country_code": self.country_code, "city": self.city,
            "avatar": "https://cdn.assets.salla.network/prod/admin/images/avatar_male.png",
        }


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
class OrderItem(_Priced):
    id: int = 0

    def as_line(self, **overrides: Any) -> Line:
        """This item as an invoice line linked to it; override e.g. ``quantity`` or ``sku``."""
        spec = Line(self.name, self.price, self.quantity, sku=self.sku, tax_percent=self.tax_percent,
                    discount=self.discount, product_id=self.product_id, type=self.type, item_id=self.id)
        return replace(spec, **overrides)

    def to_json(self, currency: str) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "sku": self.sku, "quantity": self.quantity,
            "currency": currency, "product_type": self.type,
            "amounts": {
                "price_without_tax": _money(self.price, currency, "numbers"),
                "total_discount": _money(self.discount, currency, "numbers"),
                "tax": {"percent": as_string(self.tax_percent),
                        "amount": _money(self.tax, currency, "numbers")},
                # As in Salla's documented example, an order item's total is before tax.
                "total": _money(self.net, currency, "numbers"),
            },
            "options": [], "notes": "",
        }


@dataclass
class InvoiceItem(_Priced):
    id: int = 0
    item_id: int | None = None

    def to_json(self, currency: str, style: str) -> dict[str, Any]:
        return {
            "id": self.id, "item_id": self.item_id, "product_id": self.product_id,
            "name": self.name, "sku": self.sku, "quantity": self.quantity, "type": self.type,
            "price": _money(self.price, currency, style),
            "discount": _money(self.discount, currency, style),
            "tax": {"percent": _percent(self.tax_percent, style),
                    "amount": _money(self.tax, currency, style)},
            "total": _money(self.total, currency, style),
        }


@dataclass
class Invoice:
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
        return self.type in _CREDIT_TYPES

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

    def header_json(self) -> dict[str, Any]:
        cur, style = self.currency, self.amount_style
        return {
            "id": self.id,
            "invoice_number": self.invoice_number,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"salla-sandbox-invoice-{self.id}")),
            "order_id": self.order_id,
            "invoice_reference_id": None,
            "type": self.type,
            "date": self.date,
            "payment_method": self.payment_method,
            "sub_total": _money(self.sub_total, cur, style),
            "shipping_cost": {**_money(self.shipping, cur, style), "taxable": self.shipping_taxable},
            "cod_cost": _money(self.cod, cur, style),
            "discount": _money(self.discount, cur, style),
            "tax": {"percent": _percent(self.tax_percent, style),
                    "amount": _money(self.tax_amount, cur, style)},
            "total": {"amount": as_number(self.total), "currency": cur},
            "qr_code": f"sandbox-qr-{self.id}",
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.header_json(),
                "items": [item.to_json(self.currency, self.amount_style) for item in self.items]}


@dataclass
class Order:
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
    guest_style: str = "null"
    invoices: list[Invoice] = field(default_factory=list)

    def _as_invoice(self) -> Invoice:
        """The order's own amounts, computed like one invoice of all its items."""
        items = [InvoiceItem(i.name, i.sku, i.quantity, i.price, i.discount, i.tax_percent,
                             i.product_id, i.type) for i in self.items]
        return Invoice(0, "", self.id, TAX_INVOICE, self.date[:10], self.payment_method, self.currency,
                       self.tax_percent, items, self.shipping, self.shipping_taxable, self.cod,
                       self.discount)

    def _status_json(self) -> dict[str, Any]:
        status_id, name = ORDER_STATUSES.get(self.status_slug, (1, self.status_slug))
        return {"id": status_id, "name": name, "slug": self.status_slug,
                "customized": {"id": status_id + 1, "name": name}}

    def _date_json(self) -> dict[str, Any]:
        return {"date": f"{self.date}.000000", "timezone_type": 3, "timezone": "Asia/Riyadh"}

    def summary_json(self) -> dict[str, Any]:
        """The shape of a row of ``GET /orders``: no customer, no amounts breakdown."""
        total = self._as_invoice().total
        return {
            "id": self.id, "reference_id": self.reference_id,
            "total": {"amount": as_number(total), "currency": self.currency},
            "date": self._date_json(), "status": self._status_json(),
            "payment_method": self.payment_method,
            "is_pending_payment": self.status_slug == "payment_pending",
            "items": [{"name": i.name, "quantity": i.quantity} for i in self.items],
        }

    def to_json(self) -> dict[str, Any]:
        amounts = self._as_invoice()
        cur = self.currency
        data: dict[str, Any] = {
            "id": self.id, "reference_id": self.reference_id,
            "status": self._status_json(), "date": self._date_json(),
            "updated_at": self._date_json(),
            "source": "store", "payment_method": self.payment_method, "currency": cur,
            "amounts": {
                "sub_total": _money(amounts.sub_total, cur, "numbers"),
                "shipping_cost": _money(amounts.shipping, cur, "numbers"),
                "cash_on_delivery": _money(amounts.cod, cur, "numbers"),
                "tax": {"percent": as_string(self.tax_percent),
                        "amount": _money(amounts.tax_amount, cur, "numbers")},
                "discounts": ([{"title": "كوبون خصم", "type": "normal", "code": self.coupon_code or "",
                                "discount": as_string(self.discount), "currency": cur,
                                "discounted_shipping": "0.00"}] if self.discount else []),
                "total": _money(amounts.total, cur, "numbers"),
            },
            "is_pending_payment": self.status_slug == "payment_pending",
        }
        if self.customer is not None:
            data["customer"] = self.customer.to_json()
        elif self.guest_style == "null":
            data["customer"] = None
        elif self.guest_style == "no_id":
            data["customer"] = Customer(None, "زائر", "").to_json()
        return data


# -- the store ------------------------------------------------------------------------------

class SallaStore:
    """Orders and invoices of one store, with builders that keep every amount consistent."""

    def __init__(
        self,
        *,
        currency: str = "SAR",
        vat_percent: Any = "15",
        first_order_id: int = 418149270,
        first_reference_id: int = 1001,
        first_invoice_id: int = 560001,
        first_invoice_number: int = 8841,
        first_order_item_id: int = 365435777,
        first_product_id: int = 77,
        default_date: str = "2026-11-20 14:48:20",
    ) -> None:
        self.currency = currency
        self.vat_percent = dec(vat_percent)
        self.default_date = default_date
        self.orders: list[Order] = []
        self.customers: list[Customer] = []
        self.lock = threading.RLock()
        self._next_order_id = first_order_id
        self._next_reference_id = first_reference_id
        self._next_invoice_id = first_invoice_id
        self._next_invoice_number = first_invoice_number
        self._next_order_item_id = first_order_item_id
        self._next_invoice_item_id = 1
        self._next_product_id = first_product_id
        self._next_customer_id = 1473353380
        self._products: dict[str, int] = {}  # sku (or name when no sku) -> product id

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (the benchmark sends a store to a simulator in another process): the lock stays."""
        with self.lock:
            return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    # -- builders ----------------------------------------------------------------------------

    def add_customer(self, first_name: str, last_name: str = "", *, id: int | None = None,
                     mobile: str | None = None, email: str | None = None, **extra: Any) -> Customer:
        with self.lock:
            if id is None:
                id = self._next_customer_id
                self._next_customer_id += 1
            customer = Customer(id, first_name, last_name, mobile=mobile, email=email, **extra)
            self.customers.append(customer)
            return customer

    def add_order(
        self,
        reference_id: int | None = None,
        *,
        id: int | None = None,
        customer: Customer | None = None,
        status_slug: str = "completed",
        payment_method: str = "mada",
        date: str | None = None,
        lines: list[Line] | tuple[Line, ...] = (),
        shipping: Any = "0",
        shipping_taxable: bool = True,
        cod: Any = "0",
        discount: Any = "0",
        coupon_code: str | None = None,
        guest_style: str = "null",
    ) -> Order:
        """A new order; ``customer=None`` is a guest order (``guest_style``: "null" sends
        ``"customer": null``, "absent" leaves the key out, "no_id" sends a customer without id)."""
        if guest_style not in GUEST_STYLES:
            raise ValueError(f"guest_style must be one of {GUEST_STYLES}")
        with self.lock:
            if reference_id is None:
                reference_id = self._next_reference_id
            self._next_reference_id = max(self._next_reference_id, reference_id + 1)
            if id is None:
                id = self._next_order_id
            self._next_order_id = max(self._next_order_id, id + 1)
            if any(o.id == id for o in self.orders):
                raise ValueError(f"order id {id} already exists")
            if any(o.reference_id == reference_id for o in self.orders):
                raise ValueError(f"reference id {reference_id} already exists")
            order = Order(
                id=id, reference_id=reference_id, customer=customer, status_slug=status_slug,
                payment_method=payment_method, date=date or self.default_date,
                currency=self.currency, tax_percent=self.vat_percent,
                shipping=dec(shipping), shipping_taxable=shipping_taxable, cod=dec(cod),
                discount=dec(discount), coupon_code=coupon_code, guest_style=guest_style,
            )
            for spec in lines:
                self._add_order_item(order, spec)
            self.orders.append(order)
            return order

    def add_invoice(
        self,
        order: Order,
        type: str = TAX_INVOICE,
        items: list[Line] | tuple[Line, ...] | None = None,
        *,
        shipping: Any = None,
        shipping_taxable: bool | None = None,
        cod: Any = None,
        discount: Any = None,
        date: str | None = None,
        payment_method: str | None = None,
        id: int | None = None,
        invoice_number: str | None = None,
        amount_style: str = "strings",
        stated_total: Any = None,
    ) -> Invoice:
        """A new invoice (or credit note) of ``order``.

        ``items=None`` bills every order item, and shipping, COD and discount default to the
        order's. Explicit ``items`` default those to 0; a line without ``item_id`` is linked to
        the order item with the same name and SKU, or added to the order as a new item.
        ``discount`` is the invoice-level extra (a coupon) on top of the lines' own discounts;
        the invoice's ``discount`` in JSON is their sum.
        ``amount_style``: "strings" ("125.00", total numeric) or "numbers" (all numeric).
        """
        if amount_style not in AMOUNT_STYLES:
            raise ValueError(f"amount_style must be one of {AMOUNT_STYLES}")
        with self.lock:
            if items is None:
                specs = [item.as_line() for item in order.items]
                shipping = order.shipping if shipping is None else shipping
                shipping_taxable = order.shipping_taxable if shipping_taxable is None else shipping_taxable
                cod = order.cod if cod is None else cod
                discount = order.discount if discount is None else discount
            else:
                specs = [self._link(order, spec) for spec in items]
            if not specs:
                raise ValueError("an invoice needs at least one item")
            if id is None:
                id = self._next_invoice_id
            self._next_invoice_id = max(self._next_invoice_id, id + 1)
            if invoice_number is None:
                prefix = "CN" if type in _CREDIT_TYPES else "INV"
                invoice_number = f"{prefix}-{self._next_invoice_number}"
                self._next_invoice_number += 1
            invoice = Invoice(
                id=id, invoice_number=invoice_number, order_id=order.id, type=type,
                date=date or order.date[:10], payment_method=payment_method or order.payment_method,
                currency=order.currency, tax_percent=order.tax_percent,
                items=[self._invoice_item(spec) for spec in specs],
                shipping=dec(shipping or 0),
                shipping_taxable=True if shipping_taxable is None else shipping_taxable,
                cod=dec(cod or 0), extra_discount=dec(discount or 0), amount_style=amount_style,
                stated_total=None if stated_total is None else dec(stated_total),
            )
            if invoice.discount > invoice.sub_total:
                raise ValueError("invoice discount is larger than its sub total")
            order.invoices.append(invoice)
            return invoice

    def add_credit_note(self, order: Order, items: list[Line] | tuple[Line, ...] | None = None,
                        **kwargs: Any) -> Invoice:
        """A credit note; with ``items=None`` it returns the whole order (shipping included)."""
        kwargs.setdefault("type", CREDIT_NOTE)
        return self.add_invoice(order, items=items, **kwargs)

    def add_bad_invoice(self, order: Order, off_by: Any = "1.00", **kwargs: Any) -> Invoice:
        """An invoice whose stated total is ``off_by`` more than its lines add up to."""
        with self.lock:
            invoice = self.add_invoice(order, **kwargs)
            invoice.stated_total = invoice.computed_total + dec(off_by)
            return invoice

    # -- lookups (the simulator's reads) ------------------------------------------------------

    def order_by_id(self, order_id: int) -> Order | None:
        with self.lock:
            return next((o for o in self.orders if o.id == order_id), None)

    def order_by_reference(self, reference_id: int) -> Order | None:
        with self.lock:
            return next((o for o in self.orders if o.reference_id == reference_id), None)

    def invoice_by_id(self, invoice_id: int) -> Invoice | None:
        with self.lock:
            return next((i for o in self.orders for i in o.invoices if i.id == invoice_id), None)

    def all_invoices(self) -> list[Invoice]:
        with self.lock:
            return [i for o in self.orders for i in o.invoices]

    # -- internals ---------------------------------------------------------------------------

    def _product_id(self, spec: Line) -> int:
        if spec.product_id is not None:
            return spec.product_id
        key = spec.sku or spec.name
        if key not in self._products:
            self._products[key] = self._next_product_id
            self._next_product_id += 1
        return self._products[key]

    def _add_order_item(self, order: Order, spec: Line) -> OrderItem:
        item = OrderItem(
            spec.name, spec.sku, spec.quantity, dec(spec.price), dec(spec.discount),
            dec(spec.tax_percent), self._product_id(spec), spec.type, id=self._next_order_item_id,
        )
        self._next_order_item_id += 1
        order.items.append(item)
        return item

    def _link(self, order: Order, spec: Line) -> Line:
        if spec.item_id is not None:
            linked = next((i for i in order.items if i.id == spec.item_id), None)
            if linked is None:
                raise ValueError(f"order {order.id} has no item {spec.item_id}")
            return spec if spec.product_id is not None else replace(spec, product_id=linked.product_id)
        match = next((i for i in order.items if i.name == spec.name and i.sku == spec.sku), None)
        if match is None:
            match = self._add_order_item(order, spec)
        return replace(spec, item_id=match.id, product_id=match.product_id)

    def _invoice_item(self, spec: Line) -> InvoiceItem:
        item = InvoiceItem(
            spec.name, spec.sku, spec.quantity, dec(spec.price), dec(spec.discount),
            dec(spec.tax_percent), self._product_id(spec), spec.type,
            id=self._next_invoice_item_id, item_id=spec.item_id,
        )
        self._next_invoice_item_id += 1
        return item


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


def _money(value: Decimal, currency: str, style: str) -> dict[str, Any]:
    amount: Any = as_number(value) if style == "numbers" else as_string(value)
    return {"amount": amount, "currency": currency}


def _percent(value: Decimal, style: str) -> Any:
    return as_number(value) if style == "numbers" else as_string(value)
