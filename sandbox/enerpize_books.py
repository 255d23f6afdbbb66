"""The data behind the Enerpize simulator: taxes, clients, products, invoices, refund receipts.

Creating a document validates it the way a Daftra-family ``api2`` would (references must exist)
and computes its total with the formula of interfaces.md, in Decimal, half away from zero:

    line net   = round(unit_price x quantity - line discount)
                 (discount_type 1: percent of unit_price x quantity; 2: fixed amount)
    line tax   = round(net x rate / 100)                          when tax1 is set
    shipping   = shipping_amount + round(shipping_amount x rate / 100)  (tax when shipping_tax_id)
    total      = sum(net + tax) + shipping - discount_amount
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox.money import ZERO, as_string, cents, dec

INVOICES = "invoices"
REFUND_RECEIPTS = "refund_receipts"
DOCUMENT_KEYS = {INVOICES: "Invoice", REFUND_RECEIPTS: "RefundReceipt"}
DEFAULT_TAXES = (("1", "VAT 15%", "15"), ("2", "Zero", "0"))
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ValidationFailed(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class Document:
    """One stored invoice or refund receipt."""

    kind: str  # "invoices" | "refund_receipts"
    id: str
    no: str
    po_number: str | None
    client_id: str
    total: Decimal
    paid: Decimal
    body: dict[str, Any]  # the raw JSON body as received
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return DOCUMENT_KEYS[self.kind]

    @property
    def summary_total(self) -> str:
        return as_string(self.total)

    def header(self) -> dict[str, Any]:
        head = dict(self.body.get(self.key) or {})
        unpaid = max(self.total - self.paid, ZERO)
        if self.paid <= 0:
            payment_status = "0"
        elif self.paid < self.total:
            payment_status = "1"
        elif self.paid == self.total:
            payment_status = "2"
        else:
            payment_status = "4"
        head.update({
            "id": self.id, "no": self.no, "po_number": self.po_number, "client_id": self.client_id,
            "summary_total": self.summary_total, "summary_paid": as_string(self.paid),
            "summary_unpaid": as_string(unpaid), "payment_status": payment_status,
            "draft": "0",
        })
        return head

    def to_json(self) -> dict[str, Any]:
        return {self.key: self.header(), "InvoiceItem": self.items,
                "Payment": list(self.body.get("Payment") or [])}


class EnerpizeBooks:
    """The tenant's records; every method is safe to call from any thread."""

    def __init__(self, taxes: tuple[tuple[str, str, str], ...] | list[tuple[str, str, str]] = DEFAULT_TAXES,
                 *, first_client_id: int = 1001, first_product_id: int = 2001,
                 first_document_id: int = 3001) -> None:
        self.taxes: list[dict[str, str]] = [{"id": i, "name": n, "value": v} for i, n, v in taxes]
        self.clients: list[dict[str, Any]] = []
        self.products: list[dict[str, Any]] = []
        self.documents: dict[str, list[Document]] = {INVOICES: [], REFUND_RECEIPTS: []}
        self.lock = threading.RLock()
        self._next_client_id = first_client_id
        self._next_product_id = first_product_id
        self._next_document_id = first_document_id
        self._next_no = {INVOICES: 1, REFUND_RECEIPTS: 1}

    # -- lookups -----------------------------------------------------------------------------

    def tax_rate(self, tax_id: Any) -> Decimal | None:
        """The rate of an existing tax id, else None."""
        for tax in self.taxes:
            if str(tax_id) == tax["id"]:
                return dec(tax["value"])
        return None

    def find(self, rows: list[dict[str, Any]], row_id: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["id"] == row_id), None)

    def document(self, kind: str, doc_id: str) -> Document | None:
        with self.lock:
            return next((d for d in self.documents[kind] if d.id == doc_id), None)

    def documents_with_po(self, po_number: str, kind: str | None = None) -> list[Document]:
        with self.lock:
            kinds = [kind] if kind else list(self.documents)
            return [d for k in kinds for d in self.documents[k] if d.po_number == po_number]

    # -- creates -----------------------------------------------------------------------------

    def add_client(self, fields: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        if not (_text(fields.get("business_name")) or _text(fields.get("first_name"))):
            errors["business_name"] = "required"
        with self.lock:
            number = _text(fields.get("client_number"))
            if number and any(_text(c.get("client_number")) == number for c in self.clients):
                errors["client_number"] = "already exists"
            _raise(errors)
            row = {**fields, "id": str(self._next_client_id)}
            self._next_client_id += 1
            self.clients.append(row)
            return row

    def add_product(self, fields: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        if not _text(fields.get("name")):
            errors["name"] = "required"
        if fields.get("unit_price") not in (None, "") and not _is_number(fields["unit_price"]):
            errors["unit_price"] = "must be a number"
        for key in ("tax1", "tax2"):
            if _set(fields.get(key)) and self.tax_rate(fields[key]) is None:
                errors[key] = "does not exist"
        with self.lock:
            code = _text(fields.get("product_code"))
            if code and any(_text(p.get("product_code")) == code for p in self.products):
                errors["product_code"] = "already exists"
            _raise(errors)
            row = {**fields, "id": str(self._next_product_id)}
            self._next_product_id += 1
            self.products.append(row)
            return row

    def add_document(self, kind: str, body: Any) -> Document:
        """Validate ``body``, compute its total, store it, give it an id and a number."""
        with self.lock:
            head, items, errors = self._validate(kind, body)
            _raise(errors)
            total = self._total(head, items)
            doc_id = str(self._next_document_id)
            self._next_document_id += 1
            serial = self._next_no[kind]
            self._next_no[kind] += 1
            no = f"{serial:06d}" if kind == INVOICES else f"R-{serial:06d}"
            paid = sum((dec(p["amount"]) for p in body.get("Payment") or []
                        if str(p.get("status", "1")) == "1"), ZERO)
            po = head.get("po_number")
            document = Document(
                kind=kind, id=doc_id, no=no, po_number=None if po is None else str(po),
                client_id=str(head["client_id"]), total=total, paid=cents(paid), body=body,
                items=[{**item, "id": str(n), "subtotal": as_string(self._line_total(item))}
                       for n, item in enumerate(items, start=1)],
            )
            self.documents[kind].append(document)
            return document

    # -- validation and totals ---------------------------------------------------------------

    def _validate(self, kind: str, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
        key = DOCUMENT_KEYS[kind]
        errors: dict[str, str] = {}
        if not isinstance(body, dict) or not isinstance(body.get(key), dict) or not body[key]:
            return {}, [], {key: f"{key} is empty"}
        head: dict[str, Any] = body[key]
        client_id = head.get("client_id")
        if not _set(client_id):
            errors["client_id"] = "required"
        elif self.find(self.clients, str(client_id)) is None:
            errors["client_id"] = "does not exist"
        if not isinstance(head.get("date"), str) or not _DATE.match(head["date"]):
            errors["date"] = "required, YYYY-MM-DD"
        for money_field in ("discount_amount", "shipping_amount"):
            value = head.get(money_field)
            if value not in (None, "") and (not _is_number(value) or dec(value) < 0):
                errors[money_field] = "must be a number >= 0"
        if _set(head.get("shipping_tax_id")) and self.tax_rate(head["shipping_tax_id"]) is None:
            errors["shipping_tax_id"] = "does not exist"
        if kind == REFUND_RECEIPTS and _set(head.get("subscription_id")):
            if self.document(INVOICES, str(head["subscription_id"])) is None:
                errors["subscription_id"] = "does not exist"

        items = body.get("InvoiceItem")
        if not isinstance(items, list) or not items:
            errors["InvoiceItem"] = "required"
            items = []
        for n, item in enumerate(items):
            errors.update(self._validate_item(n, item))
        for n, payment in enumerate(body.get("Payment") or []):
            if not isinstance(payment, dict) or not _is_number(payment.get("amount")):
                errors[f"Payment.{n}.amount"] = "must be a number"
        return head, items, errors

    def _validate_item(self, n: int, item: Any) -> dict[str, str]:
        where = f"InvoiceItem.{n}"
        if not isinstance(item, dict):
            return {where: "must be an object"}
        errors: dict[str, str] = {}
        if not (_text(item.get("item")) or _set(item.get("product_id"))):
            errors[f"{where}.item"] = "required"
        if _set(item.get("product_id")) and self.find(self.products, str(item["product_id"])) is None:
            errors[f"{where}.product_id"] = "does not exist"
        if not _is_number(item.get("unit_price")) or dec(item["unit_price"]) < 0:
            errors[f"{where}.unit_price"] = "must be a number >= 0"
        if not _is_number(item.get("quantity")) or dec(item["quantity"]) <= 0:
            errors[f"{where}.quantity"] = "must be greater than 0"
        if _set(item.get("tax1")) and self.tax_rate(item["tax1"]) is None:
            errors[f"{where}.tax1"] = "does not exist"
        if item.get("discount") not in (None, ""):
            if not _is_number(item["discount"]) or dec(item["discount"]) < 0:
                errors[f"{where}.discount"] = "must be a number >= 0"
            elif str(item.get("discount_type", "2")) not in ("1", "2"):
                errors[f"{where}.discount_type"] = "must be 1 (percent) or 2 (amount)"
        return errors

    def _line_net(self, item: dict[str, Any]) -> Decimal:
        gross = dec(item["unit_price"]) * dec(item["quantity"])
        discount = dec(item["discount"]) if item.get("discount") not in (None, "") else ZERO
        if str(item.get("discount_type", "2")) == "1":
            discount = gross * discount / 100
        return cents(gross - discount)

    def _line_total(self, item: dict[str, Any]) -> Decimal:
        net = self._line_net(item)
        rate = self.tax_rate(item["tax1"]) if _set(item.get("tax1")) else None
        return net + (cents(net * rate / 100) if rate is not None else ZERO)

    def _total(self, head: dict[str, Any], items: list[dict[str, Any]]) -> Decimal:
        total = sum((self._line_total(item) for item in items), ZERO)
        shipping = _amount(head.get("shipping_amount"))
        if shipping:
            total += shipping
            if _set(head.get("shipping_tax_id")):
                rate = self.tax_rate(head["shipping_tax_id"])
                assert rate is not None  # validated
                total += cents(shipping * rate / 100)
        return total - _amount(head.get("discount_amount"))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _set(value: Any) -> bool:
    """A reference field that is really set (Daftra treats "", 0 and null as empty)."""
    return value not in (None, "", 0, "0")


def _is_number(value: Any) -> bool:
    try:
        dec(value)
    except ValueError:
        return False
    return True


def _amount(value: Any) -> Decimal:
    return ZERO if value in (None, "") else cents(dec(value))


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed(errors)
