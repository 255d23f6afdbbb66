"""Salla's webhook deliveries as the simulator makes them: the documented bodies and their signing.

``invoice_created`` is the documented ``invoice.created`` body: ``data`` is the invoice with its
``items``, the ``customer`` (with an address) and the ``company``; its date carries a time.
``order_status_updated`` is ``order.status.updated``: ``data.id`` is the status change, ``data.order``
the whole order as ``GET /orders/{id}`` writes it. ``headers`` signs a raw body as a registration's
strategy says (``signature``: hex HMAC-SHA256 of the raw bytes in ``X-Salla-Signature``; ``token``:
the secret in ``Authorization``). ``SallaSimulator.deliver`` sends a body to the store's
registrations of its event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.salla_records import Invoice, Order

CREATED_AT = "Sun Dec 06 2026 12:21:48 GMT+0300"  # a JavaScript date string, as in most of Salla's examples


def envelope(event: str, merchant: str | int, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": event, "merchant": int(merchant), "created_at": CREATED_AT, "data": data}


def invoice_created(merchant: str | int, order: Order, invoice: Invoice) -> dict[str, Any]:
    data = invoice.to_json()
    data["date"] = f"{invoice.date[:10]} {order.date[11:19]}"  # "YYYY-MM-DD HH:MM:SS" in a webhook
    customer = order.customer.to_json() if order.customer is not None else None
    if customer is not None:
        customer["address"] = {"country": "السعودية", "city": customer.get("city"), "street": "", "postal_code": ""}
    data["customer"] = customer
    data["company"] = {"name": "متجر المحاكاة", "vat_number": "300000000000003", "commercial_number": "1010000000"}
    return envelope("invoice.created", merchant, data)


def order_status_updated(merchant: str | int, order: Order, change_id: int) -> dict[str, Any]:
    """The order's current status, as a change of it (``data.status`` is its display name)."""
    whole = order.to_json()
    return envelope("order.status.updated", merchant, {
        "id": change_id, "status": whole["status"]["name"], "note": "", "order": whole})


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def headers(raw_body: bytes, *, strategy: str = "signature", secret: str) -> dict[str, str]:
    """The headers Salla sends with ``raw_body`` under a registration's strategy and secret."""
    out = {"Content-Type": "application/json", "User-Agent": "Salla-Webhook"}
    if strategy == "signature":
        out["X-Salla-Security-Strategy"] = "Signature"
        out["X-Salla-Signature"] = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    elif strategy == "token":
        out["X-Salla-Security-Strategy"] = "Token"
        out["Authorization"] = secret
    return out
