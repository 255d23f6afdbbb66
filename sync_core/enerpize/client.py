"""The Enerpize adapter: the api2 subset the sync uses, behind one class.

Enerpize publishes no API reference; this follows Daftra's official api2 document (same
platform). The transport is ``api.py``, look-ups that never trust a filter ``lookups.py``, which
record a client number or SKU is ``ids.py``, the bodies ``bodies.py``: a difference found on a
real tenant is a change to one of them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from sync_core.enerpize.api import EnerpizeApi, EnerpizeRejected
from sync_core.enerpize.bodies import api_id, document_body, money
from sync_core.enerpize.ids import IdMapping, RecordIds
from sync_core.enerpize.lookups import CLIENTS, INVOICES, PRODUCTS, REFUND_RECEIPTS, CannotConfirm, Lookups
from sync_core.enerpize.models import CreatedDocument, CustomerRef, DocumentDraft
from sync_core.http import ATTEMPTS, RateLimitPacer
from sync_core.money import parse_amount
from sync_core.salla.models import DocumentKind

__all__ = ["CannotConfirm", "EnerpizeClient", "EnerpizeRejected"]

log = logging.getLogger(__name__)

# Enerpize's name for each kind of document: its list and JSON key.
_LIST = {DocumentKind.INVOICE: INVOICES, DocumentKind.RETURN: REFUND_RECEIPTS}
_WHAT = {DocumentKind.INVOICE: "invoice", DocumentKind.RETURN: "return"}
KEY_LOOKUPS_AT_MOST = 20  # past this many keys, one read of the (dated) list costs fewer calls


def _document(kind: DocumentKind, record: dict, enerpize_id: str | None = None) -> CreatedDocument:
    total = record.get("summary_total")
    return CreatedDocument(kind=kind, enerpize_id=str(enerpize_id or record["id"]), number=record.get("no"),
                           total=parse_amount(total) if total not in (None, "") else None)


class EnerpizeClient:
    def __init__(self, http: httpx.AsyncClient, *, api_url: str, api_key: str,
                 pacer: RateLimitPacer | None = None, attempts: int = ATTEMPTS,
                 id_map: IdMapping | None = None) -> None:
        self.api = EnerpizeApi(http, api_url=api_url, api_key=api_key, pacer=pacer, attempts=attempts)
        self.lookups = Lookups(self.api)
        self.ids = RecordIds(self.api, self.lookups, id_map)
        self._taxes: dict[Decimal, str] | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    # --- reference data (cached for the life of the client) -----------------------------------

    async def tax_id(self, rate: Decimal) -> str:
        """The id of the Enerpize tax whose value is ``rate`` percent."""
        async with self._lock("taxes"):
            if self._taxes is None:
                body = await self.api.get("/taxes")
                taxes: dict[Decimal, str] = {}
                for row in body.get("data") or []:
                    tax = row.get("Tax") if isinstance(row, dict) else None
                    if isinstance(tax, dict) and tax.get("id") is not None:
                        try:
                            taxes.setdefault(parse_amount(tax.get("value")).normalize(), str(tax["id"]))
                        except ValueError:
                            continue
                self._taxes = taxes
        found = self._taxes.get(rate.normalize())
        if found is None:
            raise EnerpizeRejected(f"Enerpize has no tax with the rate {rate.normalize()}%: add it under Taxes")
        return found

    async def client_id(self, customer: CustomerRef) -> str:
        """Find or create the client by ``client_number`` (unique in Enerpize)."""
        number = customer.client_number
        return await self.ids.find_or_create(CLIENTS, number, {"Client": {
            "client_number": number, "business_name": customer.name,
            "first_name": customer.first_name, "last_name": customer.last_name,
            "email": customer.email or "", "phone1": customer.phone or "",
            "country_code": customer.country_code or "SA", "default_currency_code": "SAR", "type": 2,
        }}, "client")

    async def product_id(self, sku: str, *, name: str, unit_price: Decimal, tax_id: str | None) -> str:
        """Find or create the product by SKU (``product_code``, unique in Enerpize)."""
        product: dict[str, Any] = {"name": name or sku, "product_code": sku, "unit_price": money(unit_price),
                                   "type": 1, "status": 0}
        if tax_id:
            product["tax1"] = api_id(tax_id)  # the document's types: number, integer id
        return await self.ids.find_or_create(PRODUCTS, sku, {"Product": product}, "product")

    async def ping(self) -> str:
        """A cheap authorised read, for ``salla-sync check``."""
        body = await self.api.get("/taxes")
        return f"reachable ({len(body.get('data') or [])} taxes)"

    async def describe_filters(self) -> list[str]:
        """Per list, the filter spelling this tenant honours (``salla-sync check``)."""
        return [(await self.lookups.report(spec, fresh=True)).describe()
                for spec in (INVOICES, REFUND_RECEIPTS, CLIENTS, PRODUCTS)]

    async def forget_cached(self, *, client_number: str | None = None, skus: Iterable[str] = ()) -> None:
        """Enerpize refused a document: the ids it used may be gone there (a deleted client or
        product), and so may the taxes. The next attempt looks them up afresh."""
        self._taxes = None
        await self.ids.forget(client_number=client_number, skus=skus)

    # --- documents ---------------------------------------------------------------------------

    async def find_document(self, kind: DocumentKind, po_number: str) -> CreatedDocument | None:
        """The document already created under this idempotency key, if any; ``CannotConfirm``
        when this tenant's list cannot be read so that it would certainly show it."""
        record = await self.lookups.find_document(_LIST[kind], po_number)
        return None if record is None else _document(kind, record)

    async def learn_filters(self) -> None:
        """Find out (once) which spelling filters the document lists, ahead of key look-ups."""
        await asyncio.gather(*(self.lookups.report(spec) for spec in (INVOICES, REFUND_RECEIPTS)))

    async def keys_present(self, kind: DocumentKind, po_numbers: Iterable[str], *, dated: tuple[date, date],
                           at_once: int = 16) -> set[str]:
        """Which of these idempotency keys Enerpize holds a document under, in as few calls as the
        tenant allows: a look-up a key (``at_once`` at a time) for a few keys where the list filters
        them; for more, or where it filters nothing, a read of the list: the invoices dated
        ``dated`` (Daftra documents ``date_from``/``date_to`` there; ignored, they make a read of
        the whole list, still right) or every refund receipt. A document dated elsewhere in
        Enerpize than in Salla is then counted missing, and its sync finds it by key and links it.
        ``CannotConfirm`` when the list cannot be read."""
        spec = _LIST[kind]
        keys = set(po_numbers)
        if not keys:
            return set()
        report = await self.lookups.report(spec)
        if report.empty:
            return set()
        if report.spelling is None or len(keys) > KEY_LOOKUPS_AT_MOST:
            first, last = dated
            params = {"date_from": first.isoformat(), "date_to": last.isoformat()} if spec.sortable else None
            return {str(r.get(spec.key)) for r in await self.lookups.scan(spec, params)} & keys
        slots = asyncio.Semaphore(at_once)

        async def present(key: str) -> str | None:
            async with slots:
                return key if await self.lookups.find_document(spec, key) is not None else None

        return {key for key in await asyncio.gather(*(present(k) for k in sorted(keys))) if key}

    async def find_native_invoice(self, reference: str) -> CreatedDocument | None:
        """An invoice made by Enerpize's own Salla integration for the order with this reference
        number: ``external_source=salla``, no ``SALLA-`` key of ours, and the number as a whole
        word in its ``no``, ``po_number`` or ``notes`` (where it stores it is unverified)."""
        word = re.compile(rf"(?<![0-9A-Za-z]){re.escape(reference)}(?![0-9A-Za-z])")
        rows = await self.lookups.scan(INVOICES, {"external_source": "salla", "keywords": reference})
        for record in rows:
            if str(record.get("po_number") or "").startswith("SALLA-"):
                continue  # ours
            if str(record.get("external_source") or "salla").lower() != "salla":
                continue
            if any(word.search(str(record.get(f) or "")) for f in ("no", "po_number", "notes")):
                return _document(DocumentKind.INVOICE, record)
        return None

    async def create_document(self, draft: DocumentDraft, *, client_id: str, product_ids: dict[str, str],
                              tax_ids: dict[Decimal, str], original_invoice_id: str | None = None) -> str:
        """POST the document; return its Enerpize id."""
        spec = _LIST[draft.kind]
        return await self.api.post(spec.path, document_body(draft, spec.row_key, client_id=client_id,
                                                            product_ids=product_ids, tax_ids=tax_ids,
                                                            original_invoice_id=original_invoice_id),
                                   _WHAT[draft.kind])

    async def read_document(self, kind: DocumentKind, enerpize_id: str) -> CreatedDocument:
        """Read a document back for its number (``no``) and the total Enerpize computed."""
        spec = _LIST[kind]
        body = await self.api.get(f"{spec.path}/{enerpize_id}")
        data = body.get("data") or {}
        record = data.get(spec.row_key) if isinstance(data, dict) else None
        if not isinstance(record, dict):
            raise EnerpizeRejected(f"Enerpize answered {spec.path}/{enerpize_id} without the {_WHAT[kind]}")
        return _document(kind, record, enerpize_id)
