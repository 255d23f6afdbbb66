"""The store behind the Salla simulator: ``SallaStore`` adds customers, orders, order items and
invoices, and finds them for the simulator.

Its builders give every record fresh ids (order, reference, invoice, invoice number, item,
product, customer) and validate what a test asks for; the records compute their own amounts
(``salla_records``, where the rules Salla's examples fix are written down) and their own JSON
(``salla_wire``). This module also re-exports the names importers use, so
``from sandbox.salla_store import Invoice, SallaStore, line`` keeps working.

Everything here is plain Python guarded by ``SallaStore.lock``; tests may add orders from their
own thread while the simulator serves.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from sandbox.money import dec
from sandbox.salla_records import (
    CREDIT_NOTE,
    CREDIT_NOTE_AR,
    CREDIT_TYPES,
    TAX_INVOICE,
    TAX_INVOICE_AR,
    Customer,
    Invoice,
    InvoiceItem,
    Line,
    Order,
    OrderItem,
    line,
    spread,
)
from sandbox.salla_wire import AMOUNT_STYLES, GUEST_STYLES, ORDER_STATUSES

__all__ = [
    "AMOUNT_STYLES", "CREDIT_NOTE", "CREDIT_NOTE_AR", "GUEST_STYLES", "ORDER_STATUSES",
    "TAX_INVOICE", "TAX_INVOICE_AR", "Customer", "Invoice", "InvoiceItem", "Line", "Order",
    "OrderItem", "SallaStore", "dec", "line", "spread",
]


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
                prefix = "CN" if type in CREDIT_TYPES else "INV"
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
