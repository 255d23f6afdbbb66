"""Look-ups in Enerpize lists that never trust a filter.

Daftra's api2 documents ``po_number`` as a plain parameter of the invoice list and no filter at
all on refund receipts, clients or products; public code uses ``filter[field]=`` on clients and
products. A list that does not know a filter ignores it and answers with every record, ``limit``
a page, in no order to rely on. So, per tenant and per list, which spelling filters is found out
once (a look-up by a key that cannot exist must answer no rows), remembered, and checked again
when an answer looks wrong (rows that do not carry the key). Where no spelling filters, the
callers scan: every page at a large ``limit`` (documented: no maximum), or, for invoices, the
newest pages by id. A look-up that could not have seen every candidate raises ``CannotConfirm``:
nothing may be created on its strength.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sync_core.enerpize.api import EnerpizeApi

SCAN_LIMIT = 1000  # rows a page when reading a whole list
MAX_SCAN_PAGES = 50  # past this a scan is not believed complete (the tenant may ignore ``limit``)
FILTERED_PAGES = 5  # a filtered answer longer than this is not a filter at work


class Spelling(str, enum.Enum):
    PLAIN = "plain"  # ?po_number=X (documented for invoices)
    BRACKET = "bracket"  # ?filter[po_number]=X (public code, clients and products)

    def param(self, name: str) -> str:
        return name if self is Spelling.PLAIN else f"filter[{name}]"


@dataclass(frozen=True)
class ListSpec:
    """One api2 list and the key the sync looks records up by."""

    label: str  # as an operator reads it: "invoices", "refund receipts"…
    path: str
    row_key: str
    key: str
    sortable: bool = False  # ``sort`` / ``direction`` are documented (invoices only)


INVOICES = ListSpec("invoices", "/invoices", "Invoice", "po_number", sortable=True)
REFUND_RECEIPTS = ListSpec("refund receipts", "/refund_receipts", "RefundReceipt", "po_number")
CLIENTS = ListSpec("clients", "/clients", "Client", "client_number")
PRODUCTS = ListSpec("products", "/products", "Product", "product_code")


class CannotConfirm(Exception):
    """A look-up could not have seen every record that might match: nothing may be created."""


class NoFilter(Exception):
    """No spelling filters this list on this tenant: the caller must scan."""


@dataclass(frozen=True)
class FilterReport:
    """What a probe of one list found."""

    spec: ListSpec
    spellings: frozenset[Spelling]
    empty: bool = False  # the list held nothing: every spelling "works", nothing is known yet

    @property
    def spelling(self) -> Spelling | None:
        if Spelling.PLAIN in self.spellings:
            return Spelling.PLAIN
        return Spelling.BRACKET if self.spellings else None

    def describe(self) -> str:
        name, key = self.spec.label, self.spec.key
        if self.empty:
            return f"{name}: the list is empty, its {key} filter is checked once it holds a record"
        if self.spellings:
            which = " and ".join(s.value for s in Spelling if s in self.spellings)
            return f"{name}: {key} filter works ({which})"
        if self.spec.key == "po_number":
            how = "look-ups read the newest pages" if self.spec.sortable else "look-ups read the whole list"
        else:
            how = "ids come from the stored mapping, else one scan of the list"
        return f"{name}: no filter, {how}"


def rows_of(body: dict, spec: ListSpec) -> list[dict]:
    rows = []
    for row in body.get("data") or []:
        record = row.get(spec.row_key) if isinstance(row, dict) else None
        if isinstance(record, dict):
            rows.append(record)
    return rows


def _page_count(body: dict, page: int) -> int:
    pagination = body.get("pagination") or {}
    try:
        return int(pagination.get("page_count") or 1)
    except (TypeError, ValueError):
        return page


def _id(record: dict) -> int | None:
    try:
        return int(str(record.get("id")))
    except ValueError:
        return None


@dataclass
class DocumentIndex:
    """The documents of one list by key, as of a scan, for a tenant whose list filters nothing."""

    by_key: dict[str, dict] = field(default_factory=dict)
    max_id: int = 0

    def add(self, records: Iterable[dict], key: str) -> None:
        for record in records:
            value = record.get(key)
            if value not in (None, ""):
                self.by_key.setdefault(str(value), record)
            self.max_id = max(self.max_id, _id(record) or 0)


class Lookups:
    """Exact look-ups in one tenant's lists; what filters where is learned once and re-checked."""

    def __init__(self, api: EnerpizeApi) -> None:
        self.api = api
        self._reports: dict[str, FilterReport] = {}
        self._indexes: dict[str, DocumentIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # --- which spelling filters -----------------------------------------------------------

    async def report(self, spec: ListSpec, *, fresh: bool = False) -> FilterReport:
        """The spellings that filter ``spec`` on this tenant (probed once, then remembered)."""
        async with self._lock(f"probe:{spec.label}"):
            known = self._reports.get(spec.label)
            if known is not None and not fresh:
                return known
            found = await self._probe(spec)
            if not found.empty:  # an empty list says nothing yet: probe again next time
                self._reports[spec.label] = found
            else:
                self._reports.pop(spec.label, None)
            return found

    async def _probe(self, spec: ListSpec) -> FilterReport:
        if not rows_of(await self.api.get(spec.path, {"limit": 1, "page": 1}), spec):
            return FilterReport(spec, frozenset(Spelling), empty=True)
        impossible = f"salla-sync-probe-{uuid.uuid4().hex}"
        answers = await asyncio.gather(*(self.api.get(spec.path, {s.param(spec.key): impossible, "limit": 1, "page": 1})
                                         for s in Spelling))
        return FilterReport(spec, frozenset(s for s, body in zip(Spelling, answers, strict=True)
                                            if not rows_of(body, spec)))

    # --- look-ups ---------------------------------------------------------------------------

    async def find_exact(self, spec: ListSpec, value: str) -> dict | None:
        """The record whose key equals ``value`` exactly, through a filter known to work.

        Raises ``NoFilter`` when no spelling filters this list (the caller scans instead).
        """
        for checked_again in (False, True):
            report = await self.report(spec, fresh=checked_again)
            if report.empty:
                return None  # the list held nothing a moment ago
            spelling = report.spelling
            if spelling is None:
                raise NoFilter(spec.label)
            rows = await self._filtered(spec, {spelling.param(spec.key): value})
            if rows is not None and all(value in str(r.get(spec.key) or "") for r in rows):
                # Every row carries the key (a loose filter may add near misses): the filter works.
                return next((r for r in rows if str(r.get(spec.key) or "") == value), None)
            # Rows without the key, or too many of them: the filter is not working any more.
        raise CannotConfirm(f"Enerpize's {spec.label} list answered a look-up of {value} with records "
                            "that do not carry it")

    async def _filtered(self, spec: ListSpec, params: dict[str, Any]) -> list[dict] | None:
        """Every row of a filtered answer, or None when it runs longer than a filter's answer would."""
        rows: list[dict] = []
        page = 1
        while True:
            body = await self.api.get(spec.path, {**params, "page": page})
            rows.extend(rows_of(body, spec))
            if page >= _page_count(body, page):
                return rows
            if page >= FILTERED_PAGES:
                return None
            page += 1

    async def scan(self, spec: ListSpec, params: dict[str, Any] | None = None) -> list[dict]:
        """Every record of the list (under ``params``), or ``CannotConfirm`` when it cannot be read whole."""
        rows: list[dict] = []
        page = 1
        while True:
            body = await self.api.get(spec.path, {**(params or {}), "limit": SCAN_LIMIT, "page": page})
            rows.extend(rows_of(body, spec))
            if page >= _page_count(body, page):
                return rows
            if page >= MAX_SCAN_PAGES:
                raise CannotConfirm(f"Enerpize's {spec.label} list is longer than {MAX_SCAN_PAGES} pages")
            page += 1

    async def scan_keys(self, spec: ListSpec) -> dict[str, str]:
        """key -> id of every record of the list that carries a key."""
        return {str(r[spec.key]): str(r["id"]) for r in await self.scan(spec)
                if r.get(spec.key) not in (None, "") and r.get("id") not in (None, "")}

    async def find_document(self, spec: ListSpec, po_number: str) -> dict | None:
        """The document with this key, through a working filter, else from reading the list.

        Without a filter: an invoice list read once whole, then only its newest pages (sorted by
        id, newest first, down to the newest id already read: a document made since, by a lost
        attempt say, is among them); a refund-receipt list (no documented sort) read whole each
        time. ``CannotConfirm`` when the list cannot be read whole.
        """
        try:
            return await self.find_exact(spec, po_number)
        except NoFilter:
            pass
        async with self._lock(f"index:{spec.label}"):
            index = self._indexes.get(spec.label)
            newer = await self._newest(spec, index.max_id) if index is not None and spec.sortable else None
            if newer is None:
                index = DocumentIndex()
                index.add(await self.scan(spec), spec.key)
                if spec.sortable:
                    self._indexes[spec.label] = index
            else:
                assert index is not None
                index.add(newer, spec.key)
        return index.by_key.get(po_number)

    async def _newest(self, spec: ListSpec, above_id: int) -> list[dict] | None:
        """Records with an id above ``above_id``, newest first; None when the answer is not in id
        order (the sort was ignored), so the newest pages cannot be told apart."""
        found: list[dict] = []
        page, last = 1, None
        while page <= MAX_SCAN_PAGES:
            body = await self.api.get(spec.path, {"sort": "id", "direction": "DESC", "limit": 100, "page": page})
            rows = rows_of(body, spec)
            for record in rows:
                record_id = _id(record)
                if record_id is None or (last is not None and record_id >= last):
                    return None
                last = record_id
                if record_id <= above_id:
                    return found
                found.append(record)
            if not rows or page >= _page_count(body, page):
                return found
            page += 1
        return None
