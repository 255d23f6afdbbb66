"""The wire JSON of the Salla simulator: how each record is written as Salla's Merchant API JSON.

Each ``*Wire`` class is a base of the record of the same name in ``salla_records`` and gives it
its ``to_json`` (and, for orders and invoices, the shapes of their list rows). The bases only read
the records' fields and amounts; the amounts themselves are computed in ``salla_records``.

Money is written ``{"amount": ..., "currency": ...}`` in one of two ``AMOUNT_STYLES``: "strings"
(``"125.00"``) or "numbers" (``125``, ``310.5``). Orders and order items write their money as
numbers; an invoice and its items use the invoice's ``amount_style``, except the invoice's
``total.amount``, always a number. A guest order (no customer) is
written in one of the ``GUEST_STYLES``: "null" sends ``"customer": null``, "absent" leaves the key
out, "no_id" sends a customer without id.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.money import as_number, as_string

if TYPE_CHECKING:
    from sandbox.salla_records import Customer, Invoice, InvoiceItem, OrderItem

AMOUNT_STYLES = ("strings", "numbers")
GUEST_STYLES = ("null", "absent", "no_id")

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


class CustomerWire:
    """A customer as Salla writes it inside an order."""

    if TYPE_CHECKING:
        id: int | None
        first_name: str
        last_name: str
        mobile: str | None
        mobile_code: str
        email: str | None
        country_code: str
        city: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "first_name": self.first_name, "last_name": self.last_name,
            "mobile": self.mobile, "mobile_code": self.mobile_code, "email": self.email,
            "country_code": self.country_code, "city": self.city,
            "avatar": "https://cdn.assets.salla.network/prod/admin/images/avatar_male.png",
        }


class OrderItemWire:
    """An order item as ``GET /orders/items`` writes it (amounts always as numbers)."""

    if TYPE_CHECKING:
        id: int
        name: str
        sku: str | None
        quantity: int
        type: str
        price: Decimal
        discount: Decimal
        tax_percent: Decimal
        net: Decimal
        tax: Decimal

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


class InvoiceItemWire:
    """An invoice item as it is written inside its invoice, in the invoice's amount style."""

    if TYPE_CHECKING:
        id: int
        item_id: int | None
        product_id: int
        name: str
        sku: str | None
        quantity: int
        type: str
        price: Decimal
        discount: Decimal
        tax_percent: Decimal
        tax: Decimal
        total: Decimal

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


class InvoiceWire:
    """An invoice: ``header_json`` is a row of ``GET /orders/invoices``, ``to_json`` adds the items."""

    if TYPE_CHECKING:
        id: int
        invoice_number: str
        order_id: int
        type: str
        date: str
        payment_method: str
        currency: str
        tax_percent: Decimal
        items: list[InvoiceItem]
        shipping: Decimal
        shipping_taxable: bool
        cod: Decimal
        amount_style: str
        sub_total: Decimal
        discount: Decimal
        tax_amount: Decimal
        total: Decimal

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


class OrderWire:
    """An order: ``summary_json`` is a row of ``GET /orders``, ``to_json`` the order itself.

    Its amounts are those of ``_as_invoice()`` (the order computed like one invoice of all its
    items); a "no_id" guest is written as ``_guest_customer()``; both are the record's.
    """

    if TYPE_CHECKING:
        id: int
        reference_id: int
        customer: Customer | None
        status_slug: str
        payment_method: str
        date: str
        currency: str
        tax_percent: Decimal
        items: list[OrderItem]
        discount: Decimal
        coupon_code: str | None
        guest_style: str

        def _as_invoice(self) -> Invoice: ...
        def _guest_customer(self) -> Customer: ...

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
            data["customer"] = self._guest_customer().to_json()
        return data


def _money(value: Decimal, currency: str, style: str) -> dict[str, Any]:
    amount: Any = as_number(value) if style == "numbers" else as_string(value)
    return {"amount": amount, "currency": currency}


def _percent(value: Decimal, style: str) -> Any:
    return as_number(value) if style == "numbers" else as_string(value)
