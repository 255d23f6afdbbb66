"""Webhook runs: each order synced by its internal id, with what Salla's deliveries carried.

A webhook run's numbers are Salla's internal order ids (``WebhookInbox.drain``). For each, the
events of the run that name the order say what is known already:

- ``invoice.created`` carries the invoice with its lines: it is used as is, and the order's other
  invoices are not listed (each has an event of its own; the daily audit finds one Salla never
  delivered). Cost: one Salla call, the order (its reference number and payment state).
- ``order.status.updated`` carries the order (used when it is whole), and asks for all of its
  invoices: they are listed (one call), and only those no event carried are read.
- Anything not usable (an invoice without lines, a body that does not parse, an order id that
  does not match) is read from Salla as for a typed number. A credit note whose order's tax invoice
  never synced lists the order too, so the invoice is created first and the return names it.
"""

from __future__ import annotations

import asyncio
import json
import logging

from pydantic import ValidationError
from sqlmodel import Session, col, select

from sync_core.order_sync import Delivered, OrderSync
from sync_core.results import OrderResult
from sync_core.salla.models import DocumentKind, SallaInvoice, SallaOrder
from sync_core.store import Store
from sync_core.store.tables import WebhookEvent
from sync_core.webhooks import INVOICE_CREATED

log = logging.getLogger(__name__)

ORDER_KEYS = ("id", "reference_id", "status", "payment_method", "customer")  # what the sync reads of an order


class DeliveredOrders:
    """The run engine's way to sync a webhook run's number (``RunEngine.sync_source``)."""

    def __init__(self, orders: OrderSync, store: Store) -> None:
        self.orders = orders
        self.store = store

    async def sync_number(self, number: str, run_id: int | None = None) -> OrderResult:
        try:
            order_id = int(number)
        except ValueError:  # not one of ours: sync it as typed
            return await self.orders.sync_number(number, run_id)
        delivered = await asyncio.to_thread(self.delivered, order_id, run_id)
        return await self.orders.sync_delivered(order_id, delivered, run_id)

    def delivered(self, order_id: int, run_id: int | None) -> Delivered:
        """What the run's events carried of the order."""
        if run_id is None:
            return Delivered()
        with Session(self.store.engine) as session:
            events = list(session.exec(select(WebhookEvent.event, WebhookEvent.payload).where(
                col(WebhookEvent.run_id) == run_id, col(WebhookEvent.order_id) == order_id)))
        order = None
        invoices: dict[int, SallaInvoice] = {}
        list_all = False
        for event, delivery in events:
            data = _data(delivery)
            if event == INVOICE_CREATED:
                invoice = _parse(SallaInvoice, data)
                if invoice is not None and invoice.order_id == order_id and invoice.items and invoice.kind:
                    invoices[invoice.id] = invoice
                else:
                    list_all = True
            else:
                list_all = True  # a status change asks for all of the order's invoices
                body = data.get("order") if isinstance(data, dict) else None
                found = _parse(SallaOrder, body) if _whole_order(body) else None
                if found is not None and found.id == order_id:
                    order = found
        if not list_all and any(i.kind is DocumentKind.RETURN for i in invoices.values()) \
                and self.store.synced_invoice_of_order(order_id) is None:
            list_all = True
        return Delivered(order=order, invoices=invoices, list_invoices=list_all or not invoices)


def _whole_order(body: object) -> bool:
    """Whether the body is the order as Salla writes it whole: a part of it (no reference number,
    no customer key) would sync as a guest's order under no number, so the order is read instead."""
    return isinstance(body, dict) and all(key in body for key in ORDER_KEYS)


def _data(delivery: str | None) -> object:
    """The ``data`` of a stored delivery (None: none kept, or not JSON)."""
    try:
        body = json.loads(delivery) if delivery else None
    except ValueError:
        return None
    return body.get("data") if isinstance(body, dict) else None


def _parse(model: type, body: object):
    if not isinstance(body, dict):
        return None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        log.info("a delivered %s did not parse (%d problems); reading it from Salla", model.__name__,
                 exc.error_count())
        return None
