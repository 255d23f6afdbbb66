"""Syncing one typed number: find the order in Salla, take its invoices, map each one, check its
total, and hand it to the exactly-once protocol (``exactly_once.py``) that creates it in Enerpize.
An order Salla told us about by webhook is synced by its internal id, with what the delivery
carried standing in for Salla's answers (``sync_delivered``).

Never raises: every failure is a reason in the number's result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field

from sync_core.enerpize.client import EnerpizeClient, EnerpizeRejected
from sync_core.exactly_once import DocumentCreation, already_synced
from sync_core.http import Unreachable
from sync_core.mapping import MappingError, map_invoice, totals_mismatch
from sync_core.results import DocumentResult, OrderResult, SyncStatus
from sync_core.salla.client import SallaClient, SallaError
from sync_core.salla.models import DocumentKind, SallaInvoice, SallaOrder, SallaOrderItem
from sync_core.salla.tokens import SallaAuthError
from sync_core.store import Store

log = logging.getLogger(__name__)
_READ_ERRORS = (SallaError, SallaAuthError, Unreachable)


@dataclass(frozen=True)
class Delivered:
    """What Salla's deliveries carried of one order: the order (an ``order.status.updated``), the
    invoices with their items (``invoice.created``), and whether the order's invoices must be
    listed anyway (a status change asks for all of them; an invoice event without its lines)."""

    order: SallaOrder | None = None
    invoices: Mapping[int, SallaInvoice] = field(default_factory=dict)
    list_invoices: bool = True


class OrderSync:
    """One per process; any number of orders at once on one event loop."""

    def __init__(self, *, salla: SallaClient, enerpize: EnerpizeClient, store: Store,
                 native_guard: bool = False, lost_answer_pause: float = 1.0) -> None:
        self.salla = salla
        self.enerpize = enerpize
        self.store = store
        self.creation = DocumentCreation(enerpize=enerpize, store=store, native_guard=native_guard,
                                         lost_answer_pause=lost_answer_pause)

    async def sync_number(self, number: str, run_id: int | None = None) -> OrderResult:
        """Sync one input number; never raises: every failure is a reason in the result."""
        order = await self._read_order(number, self.salla.find_order(number),
                                       "no order with this reference number or id in Salla")
        if isinstance(order, OrderResult):
            return order
        return await self._sync_order(number, order, run_id, Delivered())

    async def sync_delivered(self, order_id: int, delivered: Delivered, run_id: int | None = None) -> OrderResult:
        """Sync the order Salla's webhooks told us about, by its internal id (never taken for a
        reference number): the delivered order and invoices are used instead of reading them, so an
        ``invoice.created`` costs one Salla call (its order, for the reference number and the
        payment state) and nothing more. Invoices are immutable once issued, so their delivered
        copy is as good as a fresh read."""
        number = str(order_id)
        order = delivered.order or await self._read_order(
            number, self.salla.get_order(order_id),
            f"Salla has no order with id {order_id} (deleted since it sent the event?)", salla_order_id=order_id)
        if isinstance(order, OrderResult):
            return order
        return await self._sync_order(number, order, run_id, delivered)

    @staticmethod
    async def _read_order(number: str, read: Awaitable[SallaOrder | None], missing: str,
                          **ids: int) -> SallaOrder | OrderResult:
        """The order ``read`` answers, or the number's result when Salla has none or fails."""
        try:
            order = await read
        except _READ_ERRORS as exc:
            return OrderResult(number=number, status=SyncStatus.FAILED, reason=str(exc))
        except Exception:  # a bug must cost one order, not the run
            log.exception("unexpected error reading the order of %s", number)
            return OrderResult(number=number, status=SyncStatus.FAILED, reason="unexpected error reading Salla (see the bot's log)")
        if order is None:
            return OrderResult(number=number, status=SyncStatus.NOT_FOUND, reason=missing, **ids)
        return order

    async def _sync_order(self, number: str, order: SallaOrder, run_id: int | None,
                          delivered: Delivered) -> OrderResult:
        base = dict(number=number, salla_order_id=order.id, salla_reference=order.reference_id)
        if delivered.list_invoices:
            try:
                invoices = await self.salla.list_invoices(order.id)
            except _READ_ERRORS as exc:
                return OrderResult(**base, status=SyncStatus.FAILED, reason=str(exc))
        else:
            invoices = list(delivered.invoices.values())
        if not invoices:
            status = order.status.slug or order.status.name or "unknown"
            return OrderResult(**base, status=SyncStatus.FAILED,
                               reason=f"no invoice in Salla yet (order status: {status})")
        # Tax invoices before credit notes, so a return can name the invoice it refunds.
        invoices.sort(key=lambda inv: (inv.kind is not DocumentKind.INVOICE, inv.id))
        items_cache: dict[str, dict[int, SallaOrderItem]] = {}
        documents = []
        for invoice in invoices:
            documents.append(await self._sync_invoice(order, invoice, run_id, items_cache,
                                                      delivered.invoices.get(invoice.id)))
        return OrderResult(**base, status=OrderResult.overall(documents), documents=tuple(documents))

    async def _sync_invoice(self, order: SallaOrder, header: SallaInvoice, run_id: int | None,
                            items_cache: dict[str, dict[int, SallaOrderItem]],
                            delivered: SallaInvoice | None = None) -> DocumentResult:
        kind = header.kind
        ids = dict(salla_invoice_id=header.id, salla_invoice_number=header.invoice_number)
        if kind is None:
            return DocumentResult(kind=None, status=SyncStatus.FAILED, **ids,
                                  reason=f'Salla invoice {header.label} has an unknown type "{header.type}"')
        synced = await asyncio.to_thread(self.store.synced, header.id)
        if synced is not None:
            return already_synced(kind, ids, synced)
        try:
            invoice = delivered or await self.salla.get_invoice(header.id)
            needs_items = any(i.sku is None and i.item_id is not None for i in invoice.items)
            if needs_items and "items" not in items_cache:
                items_cache["items"] = await self.salla.order_items(order.id)
            draft = map_invoice(invoice, order, items_cache.get("items"))
        except (*_READ_ERRORS, MappingError) as exc:
            return DocumentResult(kind=kind, status=SyncStatus.FAILED, **ids, reason=str(exc))
        fail = dict(kind=kind, status=SyncStatus.FAILED, total=abs(invoice.total), currency=draft.currency, **ids)
        mismatch = totals_mismatch(invoice, draft)
        if mismatch:
            return DocumentResult(**fail, reason=mismatch)
        try:
            tax_ids = {rate: await self.enerpize.tax_id(rate) for rate in draft.tax_rates}
        except (EnerpizeRejected, Unreachable) as exc:
            return DocumentResult(**fail, reason=str(exc))
        return await self.creation.create_once(order, invoice, draft, kind, ids, fail, tax_ids, run_id)
