"""Salla documents as the sync sees them: validated once at the edge, Decimal for money.

Salla sends amounts as numbers or strings, Money objects or bare values, English or Arabic type
names; these models absorb that variety so that nothing after the client has to.
"""

from __future__ import annotations

import enum
from datetime import date as Date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from sync_core.money import ZERO, parse_amount


def _amount(value: Any) -> Decimal:
    return parse_amount(value)


Amount = Annotated[Decimal, BeforeValidator(_amount)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DocumentKind(str, enum.Enum):
    """What a Salla invoice becomes in Enerpize."""

    INVOICE = "invoice"  # Salla "Tax Invoice" -> Enerpize invoice
    RETURN = "return"  # Salla "Credit Note" -> Enerpize refund receipt


_TAX_INVOICE_NAMES = {"tax invoice", "tax_invoice", "invoice", "simplified tax invoice", "فاتورة ضريبية", "فاتورة ضريبية مبسطة", "فاتورة"}
_CREDIT_NOTE_NAMES = {"credit note", "credit_note", "creditnote", "refund", "إشعار دائن", "اشعار دائن", "إشعار دائن ضريبي", "مرتجع"}


def classify_invoice_type(raw: str | None) -> DocumentKind | None:
    """Map Salla's ``type`` (English, slug or Arabic) to a document kind; None when unknown."""
    if not raw:
        return None
    name = " ".join(str(raw).strip().lower().split())
    if name in _TAX_INVOICE_NAMES:
        return DocumentKind.INVOICE
    if name in _CREDIT_NOTE_NAMES:
        return DocumentKind.RETURN
    if "credit" in name or "دائن" in name:
        return DocumentKind.RETURN
    if "invoice" in name or "فاتورة" in name:
        return DocumentKind.INVOICE
    return None


class OrderStatus(_Model):
    slug: str = ""
    name: str = ""


class SallaCustomer(_Model):
    id: int | None = None
    first_name: str = ""
    last_name: str = ""
    mobile: str | None = None
    mobile_code: str | None = None
    email: str | None = None
    country_code: str | None = None

    @field_validator("mobile", mode="before")
    @classmethod
    def _str(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()


class SallaOrderItem(_Model):
    """A line of the order (``GET /orders/items``); used to fill a SKU the invoice line lacks."""

    id: int
    name: str = ""
    sku: str | None = None
    product_id: int | None = None


class SallaOrder(_Model):
    id: int
    reference_id: int | None = None
    status: OrderStatus = Field(default_factory=OrderStatus)
    payment_method: str | None = None
    currency: str = "SAR"
    customer: SallaCustomer | None = None
    is_pending_payment: bool = False

    @property
    def merchant_number(self) -> int:
        """The number the merchant sees (its reference number; the internal id when it has none)."""
        return self.reference_id if self.reference_id is not None else self.id

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"slug": value, "name": value}
        return value or {}

    @field_validator("customer", mode="before")
    @classmethod
    def _customer(cls, value: Any) -> Any:
        # Salla sends [] or {} for guests on some endpoints.
        if not value or (isinstance(value, dict) and not value.get("id")):
            return None
        return value


class InvoiceTax(_Model):
    percent: Amount = ZERO
    amount: Amount = ZERO

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            return {"amount": value}
        return value


class Shipping(_Model):
    amount: Amount = ZERO
    taxable: bool = True

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            return {"amount": value}
        out = dict(value)
        if out.get("taxable") is None:
            out.pop("taxable", None)
        return out


class SallaInvoiceItem(_Model):
    id: int | None = None
    item_id: int | None = None
    product_id: int | None = None
    name: str = ""
    sku: str | None = None
    quantity: Amount
    type: str | None = None
    price: Amount  # per unit, before tax
    discount: Amount = ZERO  # the line's discount, before tax
    tax: InvoiceTax = Field(default_factory=InvoiceTax)
    total: Amount | None = None  # the line's total with tax

    @field_validator("sku", mode="before")
    @classmethod
    def _sku(cls, value: Any) -> Any:
        if value is None:
            return None
        value = str(value).strip()
        return value or None

    @field_validator("tax", mode="before")
    @classmethod
    def _tax(cls, value: Any) -> Any:
        return value if value is not None else {}


class SallaInvoice(_Model):
    """One Salla invoice: the unit of sync. ``items`` is empty on the list endpoint."""

    id: int
    invoice_number: str | None = None
    order_id: int | None = None
    type: str | None = None
    date: Date | None = None
    payment_method: str | None = None
    sub_total: Amount = ZERO
    shipping_cost: Shipping = Field(default_factory=Shipping)
    cod_cost: Amount = ZERO
    discount: Amount = ZERO
    tax: InvoiceTax = Field(default_factory=InvoiceTax)
    total: Amount = ZERO
    currency: str = "SAR"
    items: list[SallaInvoiceItem] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = dict(value)
        if "sub_total" not in out and "subtotal" in out:
            out["sub_total"] = out["subtotal"]
        if "cod_cost" not in out and "cash_on_delivery" in out:
            out["cod_cost"] = out["cash_on_delivery"]
        total = out.get("total")
        if isinstance(total, dict) and total.get("currency"):
            out.setdefault("currency", total["currency"])
        if isinstance(out.get("date"), str):
            out["date"] = out["date"][:10]  # webhooks send "YYYY-MM-DD HH:MM:SS"
        for key in ("invoice_number",):
            if out.get(key) is not None:
                out[key] = str(out[key])
        for key in ("shipping_cost", "cod_cost", "discount", "sub_total", "total"):
            if out.get(key) is None:
                out.pop(key, None)
        if out.get("items") is None:
            out.pop("items", None)
        return out

    @property
    def kind(self) -> DocumentKind | None:
        return classify_invoice_type(self.type)

    @property
    def label(self) -> str:
        return self.invoice_number or str(self.id)
