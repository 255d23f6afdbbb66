"""The Enerpize adapter: the whole api2 subset the sync uses, in one module.

Enerpize publishes no API reference; this follows Daftra's api2 (same platform). A difference
found on a real tenant should be a change to this file only.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import httpx

from sync_core.enerpize.bodies import api_id, document_body, money
from sync_core.enerpize.models import CreatedDocument, CustomerRef, DocumentDraft
from sync_core.http import (ATTEMPTS, ApiError, OutcomeUnknown, RateLimitPacer, Unreachable,
                            retry_after_seconds, with_retries, write_transient)
from sync_core.money import parse_amount
from sync_core.salla.models import DocumentKind

log = logging.getLogger(__name__)

# Enerpize's name for each kind of document: (path, JSON key).
_ENDPOINT = {DocumentKind.INVOICE: ("/invoices", "Invoice"), DocumentKind.RETURN: ("/refund_receipts", "RefundReceipt")}
_WHAT = {DocumentKind.INVOICE: "invoice", DocumentKind.RETURN: "return"}


class EnerpizeRejected(Exception):
    """Enerpize refused a request for a reason a person can act on; nothing was created."""


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    errors = body.get("validation_errors") or body.get("errors")
    if isinstance(errors, dict) and errors:
        parts = []
        for field, message in errors.items():
            if isinstance(message, list):
                message = ", ".join(map(str, message))
            elif isinstance(message, dict):
                message = ", ".join(f"{k} {v}" for k, v in message.items())
            parts.append(f"{field}: {message}")
        return "; ".join(parts)
    return str(body.get("message") or f"HTTP {response.status_code}")


def _status_words(status: int) -> str:
    return {401: "the API key was refused", 403: "the API key has no permission for this",
            404: "not found"}.get(status, f"HTTP {status}")


class EnerpizeClient:
    def __init__(self, http: httpx.AsyncClient, *, api_url: str, api_key: str,
                 pacer: RateLimitPacer | None = None, attempts: int = ATTEMPTS) -> None:
        self._http = http
        self._base = api_url.rstrip("/")
        self._headers = {"apikey": api_key, "Accept": "application/json"}
        self.pacer = pacer or RateLimitPacer()
        self._attempts = attempts
        self._taxes: dict[Decimal, str] | None = None
        self._clients: dict[str, str] = {}
        self._products: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.calls = 0

    # --- transport ------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.calls += 1
        response = await self.pacer.send(
            lambda: self._http.request(method, f"{self._base}{path}", headers=self._headers, **kwargs))
        if response.status_code == 429 or response.status_code >= 500:
            raise ApiError(response.status_code, _error_message(response), retry_after=retry_after_seconds(response))
        return response

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict:
        try:
            response = await with_retries(lambda: self._send("GET", path, params=params), attempts=self._attempts)
        except ApiError as exc:
            raise Unreachable(f"Enerpize is not answering (HTTP {exc.status}: {exc.message})") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"Enerpize could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise EnerpizeRejected(f"Enerpize refused {path}: {_status_words(response.status_code)}"
                                   f" ({_error_message(response)})")
        return self._json(response, path)

    async def _post(self, path: str, body: dict, what: str) -> str:
        """Create a record; return its id. Lost answers become OutcomeUnknown, never a blind retry."""
        try:
            response = await with_retries(lambda: self._send("POST", path, json=body),
                                          attempts=self._attempts, transient=write_transient)
        except ApiError as exc:
            if exc.status == 429:
                raise Unreachable("Enerpize kept answering 429 (rate limited)") from None
            raise OutcomeUnknown(f"Enerpize answered HTTP {exc.status} while creating the {what}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unreachable(f"Enerpize could not be reached ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"the answer from Enerpize was lost while creating the {what} "
                                 f"({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise EnerpizeRejected(f"Enerpize rejected the {what}: {_error_message(response)}")
        body = self._json(response, path)
        record_id = body.get("id")
        if record_id in (None, ""):
            raise OutcomeUnknown(f"Enerpize accepted the {what} but did not say its id")
        return str(record_id)

    @staticmethod
    def _json(response: httpx.Response, path: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise EnerpizeRejected(f"Enerpize answered {path} with something that is not JSON") from None
        if not isinstance(body, dict):
            raise EnerpizeRejected(f"Enerpize answered {path} with something unexpected")
        return body

    async def _find_exact(self, path: str, key: str, field: str, value: str) -> dict | None:
        """The row whose ``field`` equals ``value`` exactly: a filter may match loosely or be ignored."""
        page = 1
        while True:
            body = await self._get(path, {f"filter[{field}]": value, "page": page})
            for row in body.get("data") or []:
                record = row.get(key) if isinstance(row, dict) else None
                if isinstance(record, dict) and str(record.get(field, "")) == value:
                    return record
            pagination = body.get("pagination") or {}
            if int(pagination.get("page") or page) >= int(pagination.get("page_count") or 1) or page >= 20:
                return None
            page += 1

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    # --- reference data (cached for the life of the client) -----------------------------------

    async def tax_id(self, rate: Decimal) -> str:
        """The id of the Enerpize tax whose value is ``rate`` percent."""
        async with self._lock("taxes"):
            if self._taxes is None:
                body = await self._get("/taxes")
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
        if number in self._clients:
            return self._clients[number]
        async with self._lock(f"client:{number}"):
            if number not in self._clients:
                found = await self._find_exact("/clients", "Client", "client_number", number)
                if found is None:
                    body = {"Client": {
                        "client_number": number, "business_name": customer.name,
                        "first_name": customer.first_name, "last_name": customer.last_name,
                        "email": customer.email or "", "phone1": customer.phone or "",
                        "country_code": customer.country_code or "SA", "default_currency_code": "SAR", "type": 2,
                    }}
                    try:
                        self._clients[number] = await self._post("/clients", body, "client")
                    except (EnerpizeRejected, OutcomeUnknown):
                        # Lost a race with another process, or the answer was lost: look again.
                        again = await self._find_exact("/clients", "Client", "client_number", number)
                        if again is None:
                            raise
                        self._clients[number] = str(again["id"])
                else:
                    self._clients[number] = str(found["id"])
        return self._clients[number]

    async def product_id(self, sku: str, *, name: str, unit_price: Decimal, tax_id: str | None) -> str:
        """Find or create the product by SKU (``product_code``, unique in Enerpize)."""
        if sku in self._products:
            return self._products[sku]
        async with self._lock(f"product:{sku}"):
            if sku not in self._products:
                found = await self._find_exact("/products", "Product", "product_code", sku)
                if found is None:
                    product: dict[str, Any] = {"name": name or sku, "product_code": sku, "unit_price": money(unit_price),
                                               "type": 1, "status": 0}
                    if tax_id:
                        product["tax1"] = api_id(tax_id)  # the document's types: number, integer id
                    try:
                        self._products[sku] = await self._post("/products", {"Product": product}, "product")
                    except (EnerpizeRejected, OutcomeUnknown):
                        again = await self._find_exact("/products", "Product", "product_code", sku)
                        if again is None:
                            raise
                        self._products[sku] = str(again["id"])
                else:
                    self._products[sku] = str(found["id"])
        return self._products[sku]

    async def ping(self) -> str:
        """A cheap authorised read, for ``salla-sync check``."""
        body = await self._get("/taxes")
        return f"reachable ({len(body.get('data') or [])} taxes)"

    def forget_cached(self) -> None:
        """Drop cached ids (after Enerpize refused one, it may have been deleted there)."""
        self._taxes, self._clients, self._products = None, {}, {}

    # --- documents ---------------------------------------------------------------------------

    async def find_document(self, kind: DocumentKind, po_number: str) -> CreatedDocument | None:
        """The document already created under this idempotency key, if any."""
        path, key = _ENDPOINT[kind]
        record = await self._find_exact(path, key, "po_number", po_number)
        if record is None:
            return None
        total = record.get("summary_total")
        return CreatedDocument(kind=kind, enerpize_id=str(record["id"]), number=record.get("no"),
                               total=parse_amount(total) if total not in (None, "") else None)

    async def create_document(self, draft: DocumentDraft, *, client_id: str, product_ids: dict[str, str],
                              tax_ids: dict[Decimal, str], original_invoice_id: str | None = None) -> str:
        """POST the document; return its Enerpize id."""
        path, key = _ENDPOINT[draft.kind]
        return await self._post(path, document_body(draft, key, client_id=client_id, product_ids=product_ids,
                                                    tax_ids=tax_ids, original_invoice_id=original_invoice_id),
                                _WHAT[draft.kind])

    async def read_document(self, kind: DocumentKind, enerpize_id: str) -> CreatedDocument:
        """Read a document back for its number (``no``) and the total Enerpize computed."""
        path, key = _ENDPOINT[kind]
        body = await self._get(f"{path}/{enerpize_id}")
        data = body.get("data") or {}
        record = data.get(key) if isinstance(data, dict) else None
        if not isinstance(record, dict):
            raise EnerpizeRejected(f"Enerpize answered {path}/{enerpize_id} without the {_WHAT[kind]}")
        total = record.get("summary_total")
        return CreatedDocument(kind=kind, enerpize_id=str(enerpize_id), number=record.get("no"),
                               total=parse_amount(total) if total not in (None, "") else None)
