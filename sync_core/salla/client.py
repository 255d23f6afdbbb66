"""The Salla Merchant API v2 client: find an order, read its invoices and lines.

Every call is paced under the store's rate limit, retried on transient failures, and refreshes
the token once on a 401. Raw JSON becomes models here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from pydantic import ValidationError

from sync_core.http import ATTEMPTS, ApiError, RateLimitPacer, Unreachable, retry_after_seconds, with_retries
from sync_core.salla.models import SallaInvoice, SallaOrder, SallaOrderItem
from sync_core.salla.tokens import TokenManager

log = logging.getLogger(__name__)


class SallaError(Exception):
    """Salla answered something the sync cannot use; the message says what, for a person."""


class SallaBlocked(SallaError):
    """Salla blocked the store's API access for a while (its 403 after too many errors)."""


# How long to stop calling a store Salla has blocked, when its 403 carries no Retry-After: Salla
# does not say how long a block lasts, and every call during it is one more error held against it.
BLOCK_PAUSE = 60.0
INVOICES_PER_PAGE = 60  # the most Salla's lists give a page
# Salla's 403 means "blocked due to many errors in particular time" or a plain refusal (a missing
# scope, say): only the message tells them apart. Its messages are often in Arabic.
_BLOCK_WORDS = ("block", "too many", "many errors", "حظر", "محظور")


def _is_block(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _BLOCK_WORDS)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("code") or "")
        fields = error.get("fields")
        if isinstance(fields, dict) and fields:
            message += " (" + "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                                        for k, v in fields.items()) + ")"
        return message or f"HTTP {response.status_code}"
    if isinstance(error, str):
        return error
    return f"HTTP {response.status_code}"


class SallaClient:
    def __init__(self, http: httpx.AsyncClient, *, api_url: str, tokens: TokenManager,
                 pacer: RateLimitPacer | None = None, attempts: int = ATTEMPTS) -> None:
        self._http = http
        self._base = api_url.rstrip("/")
        self._tokens = tokens
        self.pacer = pacer or RateLimitPacer()
        self._attempts = attempts

    @property
    def tokens(self) -> TokenManager:
        return self._tokens

    async def _get(self, path: str, params: dict[str, Any] | None = None, *, allow_404: bool = False) -> dict | None:
        return await self._call("GET", path, params, allow_404=allow_404)

    async def _call(self, method: str, path: str, params: dict[str, Any] | None = None, *, body: Any = None,
                    allow_404: bool = False) -> dict | None:
        refreshed = False
        while True:
            token = self._tokens.access_token
            try:
                response = await with_retries(lambda: self._send(path, params, token, method=method, body=body),
                                              attempts=self._attempts)
            except ApiError as exc:
                raise SallaError(f"Salla is not answering ({exc.message})") from None
            except httpx.HTTPError as exc:
                raise Unreachable(f"Salla could not be reached ({type(exc).__name__})") from None
            if response.status_code == 401 and not refreshed:
                await self._tokens.refresh(token)
                refreshed = True
                continue
            if response.status_code == 404 and allow_404:
                return None
            if response.status_code >= 400:
                raise SallaError(f"Salla refused {path} (HTTP {response.status_code}: {_error_message(response)})")
            try:
                body = response.json()
            except ValueError:
                raise SallaError(f"Salla answered {path} with something that is not JSON") from None
            if not isinstance(body, dict) or "data" not in body:
                raise SallaError(f"Salla answered {path} without data")
            return body

    async def _send(self, path: str, params: dict[str, Any] | None, token: str, *, method: str = "GET",
                    body: Any = None) -> httpx.Response:
        response = await self.pacer.send(lambda: self._http.request(
            method, f"{self._base}{path}", params=params, json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}))
        if response.status_code == 429 or response.status_code >= 500:
            raise ApiError(response.status_code, _error_message(response),
                           retry_after=retry_after_seconds(response))
        if response.status_code == 403 and _is_block(message := _error_message(response)):
            reason = (f"Salla has blocked this store's API access for a while (HTTP 403: {message}); "
                      "re-run in a few minutes")
            # Every order waiting for a slot, and every one asking later, fails with the same reason
            # until the pause is over, instead of adding errors to the store's record.
            self.pacer.halt(retry_after_seconds(response) or BLOCK_PAUSE, lambda: SallaBlocked(reason))
            raise SallaBlocked(reason)
        return response

    # --- the calls the sync uses ----------------------------------------------------------------

    async def find_order(self, number: str) -> SallaOrder | None:
        """The order whose merchant-facing number is ``number``, else whose internal id is; else None.

        The list answer is a summary that may lack the customer; then the order itself is read.
        """
        body = await self._get("/orders", {"reference_id": number})
        for row in body.get("data") or []:
            if isinstance(row, dict) and str(row.get("reference_id")) == number:  # never trust a filter
                customer = row.get("customer")
                if isinstance(customer, dict) and customer.get("id"):
                    return self._model(SallaOrder, row, f"order {number}")  # the summary is enough
                full = await self.get_order(int(row["id"]))
                if full is not None:
                    return full
        return await self.get_order(int(number))

    async def get_order(self, order_id: int) -> SallaOrder | None:
        body = await self._get(f"/orders/{order_id}", allow_404=True)
        if body is None or not body.get("data"):
            return None
        return self._model(SallaOrder, body["data"], f"order {order_id}")

    async def list_invoices(self, order_id: int) -> list[SallaInvoice]:
        """The order's invoices (headers, no items), every page."""
        invoices: list[SallaInvoice] = []
        page = 1
        while True:
            body = await self._get("/orders/invoices", {"order_id": order_id, "page": page})
            for row in body.get("data") or []:
                invoice = self._model(SallaInvoice, row, f"an invoice of order {order_id}")
                if invoice.order_id in (None, order_id):  # never trust a filter
                    invoices.append(invoice)
            pagination = body.get("pagination") or {}
            total_pages = int(pagination.get("totalPages") or 1)
            current = int(pagination.get("currentPage") or page)
            if current >= total_pages or page >= 1000:
                return invoices
            page = current + 1

    async def invoices_between(self, first: date, last: date, *, pages_at_once: int = 16,
                               on_page: Callable[[int, int], None] | None = None) -> list[SallaInvoice]:
        """Every invoice dated ``first`` to ``last`` (inclusive; headers, no items), 60 a page: the
        first page, then the others ``pages_at_once`` at a time (the pacer keeps to the rate limit);
        ``on_page(pages read, pages in all)`` after each. A row dated outside the range (a filter
        not honoured) is left out: never trust a filter."""
        params = {"from_date": first.isoformat(), "to_date": last.isoformat(), "per_page": INVOICES_PER_PAGE}
        what = f"an invoice of {first.isoformat()}..{last.isoformat()}"

        def rows(answer: dict) -> list[SallaInvoice]:  # read as each page arrives, while others are on the way
            found = [self._model(SallaInvoice, row, what) for row in answer.get("data") or []]
            return [i for i in found if i.date is None or first <= i.date <= last]

        body = await self._get("/orders/invoices", {**params, "page": 1})
        pages = max(1, min(int((body.get("pagination") or {}).get("totalPages") or 1), 10_000))
        read = 1
        if on_page is not None:
            on_page(read, pages)
        slots = asyncio.Semaphore(pages_at_once)

        async def page(number: int) -> list[SallaInvoice]:
            nonlocal read
            async with slots:
                answer = await self._get("/orders/invoices", {**params, "page": number})
            read += 1
            if on_page is not None:
                on_page(read, pages)
            return rows(answer)

        others = asyncio.gather(*(page(n) for n in range(2, pages + 1)))  # on their way while the first is read
        try:
            first_rows = rows(body)
        except BaseException:
            others.cancel()
            await asyncio.gather(others, return_exceptions=True)
            raise
        return [*first_rows, *(invoice for found in await others for invoice in found)]

    async def webhooks(self) -> list[dict]:
        """The store's webhook registrations (``GET /webhooks``; scope ``webhooks.read_write``)."""
        body = await self._get("/webhooks")
        return [row for row in body.get("data") or [] if isinstance(row, dict)]

    async def subscribe_webhook(self, event: str, url: str, *, name: str, secret: str) -> dict:
        """Register ``url`` for ``event``, then its security: a signature with ``secret``."""
        body = await self._call("POST", "/webhooks/subscribe",
                                body={"name": name, "event": event, "url": url, "version": 2})
        hook = body.get("data") if isinstance(body.get("data"), dict) else {}
        if hook.get("id") is None:
            raise SallaError(f"Salla answered the {event} subscription without its id")
        await self._call("PUT", f"/webhooks/{hook['id']}", body={"security_strategy": "signature", "secret": secret})
        return hook

    async def get_invoice(self, invoice_id: int) -> SallaInvoice:
        body = await self._get(f"/orders/invoices/{invoice_id}")
        return self._model(SallaInvoice, body["data"], f"invoice {invoice_id}")

    async def order_items(self, order_id: int) -> dict[int, SallaOrderItem]:
        body = await self._get("/orders/items", {"order_id": order_id})
        items = [self._model(SallaOrderItem, row, f"an item of order {order_id}") for row in body.get("data") or []]
        return {item.id: item for item in items}

    @staticmethod
    def _model(model: type, data: Any, what: str):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise SallaError(f"Salla sent {what} the sync cannot read ({where}: {first['msg']})") from None

    async def ping(self) -> str:
        """A cheap authorised read, for ``salla-sync check``."""
        body = await self._get("/orders", {"per_page": 1})
        total = (body.get("pagination") or {}).get("total")
        return f"reachable ({total} orders)" if total is not None else "reachable"
