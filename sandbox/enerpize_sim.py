"""An Enerpize (Daftra-family ``api2``) simulator, the subset of interfaces.md, over real HTTP.

    with EnerpizeSimulator(api_key="k") as sim:
        sim.api_url    # http://127.0.0.1:PORT/api2 -> ENERPIZE_API_URL
        sim.documents  # {"invoices": [Document…], "refund_receipts": [Document…]}

Every path also answers with a ``.json`` suffix (``/api2/invoices.json``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from typing import Any

from aiohttp import web

from sandbox.enerpize_books import (
    DEFAULT_TAXES,
    INVOICES,
    REFUND_RECEIPTS,
    Document,
    EnerpizeBooks,
    ValidationFailed,
)
from sandbox.faults import LOSE, Fault
from sandbox.simulator import Simulator, drop_connection, json_response

API_PREFIX = "/api2"
LOSE_MODES = ("drop", "hang")

# kind -> (row key, the key the sync looks records up by)
_RESOURCES: dict[str, tuple[str, str]] = {
    "clients": ("Client", "client_number"),
    "products": ("Product", "product_code"),
    INVOICES: ("Invoice", "po_number"),
    REFUND_RECEIPTS: ("RefundReceipt", "po_number"),
}
# Which spellings of a key filter a tenant honours (interfaces.md: plain, bracket, both, neither).
# An unknown filter is ignored: the list answers with every record.
DIALECTS: dict[str, frozenset[str]] = {
    "both": frozenset({"plain", "bracket"}), "plain": frozenset({"plain"}),
    "bracket": frozenset({"bracket"}), "none": frozenset(),
}


class EnerpizeSimulator(Simulator):
    api_prefix = API_PREFIX

    def __init__(
        self,
        *,
        api_key: str = "sandbox-enerpize-key",
        loose_filters: bool = False,
        dialect: str = "both",
        latency: float = 0.0,
        rate_limit_per_minute: int | None = None,
        bucket: tuple[int, float] | None = None,
        hang_seconds: float = 30.0,
        page_size: int = 20,
        taxes: tuple[tuple[str, str, str], ...] = DEFAULT_TAXES,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(latency=latency, rate_limit_per_minute=rate_limit_per_minute,
                         bucket=bucket, host=host, port=port)
        self.api_key = api_key
        self.loose_filters = loose_filters
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {sorted(DIALECTS)}")
        self.dialect = dialect
        self.hang_seconds = hang_seconds
        self.page_size = page_size
        self.books = EnerpizeBooks(taxes)

    # -- state, as tests read it --------------------------------------------------------------

    @property
    def documents(self) -> dict[str, list[Document]]:
        return self.books.documents

    @property
    def clients(self) -> list[dict[str, Any]]:
        return self.books.clients

    @property
    def products(self) -> list[dict[str, Any]]:
        return self.books.products

    @property
    def taxes(self) -> list[dict[str, str]]:
        return self.books.taxes

    def documents_with_po(self, po_number: str, kind: str | None = None) -> list[Document]:
        return self.books.documents_with_po(po_number, kind)

    def add_client(self, **fields: Any) -> dict[str, Any]:
        """Seed a client as if it had been created earlier (returns the stored row)."""
        return self.books.add_client(fields)

    def add_product(self, **fields: Any) -> dict[str, Any]:
        """Seed a product as if it had been created earlier (returns the stored row)."""
        return self.books.add_product(fields)

    def add_native_invoice(self, reference: int | str, *, total: str = "100", client_id: str | None = None) -> Document:
        """An invoice made by Enerpize's own Salla integration for the order with this reference
        number: ``external_source`` "salla", no ``SALLA-`` key, the number in its notes."""
        if client_id is None:
            client_id = str(self.books.add_client({"client_number": f"native-{reference}",
                                                   "business_name": "Salla customer"})["id"])
        return self.books.add_document(INVOICES, {
            "Invoice": {"client_id": client_id, "date": "2026-11-20", "external_source": "salla",
                        "notes": f"Salla order {reference}"},
            "InvoiceItem": [{"item": "Salla order", "unit_price": total, "quantity": 1}]})

    # -- faults ------------------------------------------------------------------------------

    def lose_next_create(self, kind: str | None = None, count: int = 1, mode: str = "drop") -> None:
        """The next ``count`` creates (of ``kind``: "invoices" or "refund_receipts", or any
        document when None) are stored, but their answer is lost: "drop" closes the
        connection, "hang" answers only after ``hang_seconds``."""
        if mode not in LOSE_MODES:
            raise ValueError(f"mode must be one of {LOSE_MODES}")
        if kind not in (None, INVOICES, REFUND_RECEIPTS):
            raise ValueError("kind must be 'invoices', 'refund_receipts' or None")
        path = None if kind is None else f"{API_PREFIX}/{kind}"
        self.faults.arm(Fault(LOSE, count, path_contains=path, method="POST", mode=mode))

    # -- Simulator hooks ---------------------------------------------------------------------

    def _authenticate(self, request: web.Request) -> web.Response | None:
        if request.headers.get("apikey") == self.api_key:
            return None
        return self._error(401, "Invalid API key")

    def _error(self, status: int, message: str, *, headers: dict[str, str] | None = None,
               **extra: Any) -> web.Response:
        return json_response({"result": "failed", "code": status, "message": message, **extra},
                             status, headers)

    def _add_routes(self, app: web.Application) -> None:
        def both(method: str, path: str, handler: Any) -> None:
            app.router.add_route(method, API_PREFIX + path + ".json", handler)
            app.router.add_route(method, API_PREFIX + path, handler)

        both("GET", "/taxes", self._taxes)
        for kind in _RESOURCES:
            both("GET", f"/{kind}", self._list(kind))
            both("POST", f"/{kind}", self._create(kind))
            both("GET", f"/{kind}/{{id}}", self._get(kind))

    # -- handlers ----------------------------------------------------------------------------

    async def _taxes(self, request: web.Request) -> web.Response:
        rows = [{"Tax": dict(tax)} for tax in self.books.taxes]
        return self._page(request, rows)

    def _list(self, kind: str):
        row_key, key = _RESOURCES[kind]

        async def handler(request: web.Request) -> web.Response:
            spellings = DIALECTS[self.dialect]
            filters = {}
            if "plain" in spellings and key in request.query:
                filters[key] = request.query[key]
            elif "bracket" in spellings and f"filter[{key}]" in request.query:
                filters[key] = request.query[f"filter[{key}]"]
            with self.books.lock:
                rows = [row for row in self._rows(kind, filters) if self._matches(row, filters)]
            if kind == INVOICES:  # documented plain parameters of the invoice list
                if "external_source" in request.query:
                    rows = [r for r in rows if r.get("external_source", "api") == request.query["external_source"]]
                if request.query.get("date_from"):
                    rows = [r for r in rows if str(r.get("date") or "") >= request.query["date_from"]]
                if request.query.get("date_to"):
                    rows = [r for r in rows if str(r.get("date") or "") <= request.query["date_to"]]
                if request.query.get("keywords"):
                    words = request.query["keywords"]
                    rows = [r for r in rows if any(words in str(r.get(f) or "") for f in ("no", "po_number", "notes"))]
            return self._page(request, [{row_key: row} for row in self._ordered(kind, rows, request)])

        return handler

    def _ordered(self, kind: str, rows: list[dict[str, Any]], request: web.Request) -> list[dict[str, Any]]:
        """Invoices: ``sort``/``direction`` as documented (newest invoice date first by default).
        Other lists: in an order not to be relied on (shuffled by id, the same on every call)."""
        if kind != INVOICES:
            return sorted(rows, key=lambda row: hashlib.sha256(str(row["id"]).encode()).digest())
        field = request.query.get("sort", "date")
        descending = request.query.get("direction", "DESC").upper() != "ASC"
        if field == "id":
            return sorted(rows, key=lambda row: int(row["id"]), reverse=descending)
        return sorted(rows, key=lambda row: (str(row.get("date") or ""), int(row["id"])), reverse=descending)

    def _create(self, kind: str):
        row_key = _RESOURCES[kind][0]

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return self._error(400, "Bad Request", validation_errors={"body": "invalid JSON"})
            try:
                if kind in (INVOICES, REFUND_RECEIPTS):
                    new_id = self.books.add_document(kind, body).id
                else:
                    fields = body.get(row_key) if isinstance(body, dict) else None
                    if not isinstance(fields, dict):
                        raise ValidationFailed({row_key: f"{row_key} is empty"})
                    add = self.books.add_client if kind == "clients" else self.books.add_product
                    new_id = add(fields)["id"]
            except ValidationFailed as failed:
                return self._error(400, "Bad Request", validation_errors=failed.errors)
            answer = json_response({"code": 202, "result": "successful", "id": new_id}, 202)
            lost = (self.faults.take(LOSE, request.method, request.path)
                    if kind in (INVOICES, REFUND_RECEIPTS) else None)
            if lost is not None:
                if lost.mode == "drop":
                    return drop_connection(request)
                await asyncio.sleep(self.hang_seconds)
            return answer

        return handler

    def _get(self, kind: str):
        row_key = _RESOURCES[kind][0]

        async def handler(request: web.Request) -> web.Response:
            row_id = request.match_info["id"].removesuffix(".json")
            with self.books.lock:
                if kind in (INVOICES, REFUND_RECEIPTS):
                    document = self.books.document(kind, row_id)
                    data = None if document is None else document.to_json()
                else:
                    row = self.books.find(self._rows(kind), row_id)
                    data = None if row is None else {row_key: dict(row)}
            if data is None:
                return self._error(404, f"{row_key} not found")
            return json_response({"code": 200, "result": "successful", "data": data})

        return handler

    # -- helpers -----------------------------------------------------------------------------

    def _rows(self, kind: str, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """The list's records; documents filtered by an exact ``po_number`` before they are rendered
        (a long list, looked up by key, costs the simulator no more than a short one)."""
        if kind == "clients":
            return self.books.clients
        if kind == "products":
            return self.books.products
        documents = self.books.documents[kind]
        wanted = (filters or {}).get("po_number")
        if wanted is not None and not self.loose_filters:
            documents = [d for d in documents if d.po_number == wanted]
        return [document.header() for document in documents]

    def _matches(self, row: dict[str, Any], filters: dict[str, str]) -> bool:
        for name, wanted in filters.items():
            value = "" if row.get(name) is None else str(row[name])
            if self.loose_filters:
                if wanted not in value:
                    return False
            elif value != wanted:
                return False
        return True

    def _page(self, request: web.Request, rows: list[Any]) -> web.Response:
        limit = _positive_int(request.query.get("limit")) or self.page_size
        limit = min(limit, 1000)
        page = _positive_int(request.query.get("page")) or 1
        page_count = max(1, math.ceil(len(rows) / limit))
        chunk = rows[(page - 1) * limit: page * limit]
        return json_response({
            "code": 200, "result": "successful", "data": chunk,
            "pagination": {"page": page, "page_count": page_count, "total_results": len(rows),
                           "prev": page - 1 if page > 1 else None,
                           "next": page + 1 if page < page_count else None},
        })


def _positive_int(text: str | None) -> int | None:
    if text and text.strip().isascii() and text.strip().isdigit() and int(text) > 0:
        return int(text)
    return None
