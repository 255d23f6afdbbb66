"""The audit: for a range of days, which Salla invoices never reached Enerpize.

Salla is read with the date-range invoice list (60 a page), not order by order. Each invoice is
then "in Enerpize" when the ledger has it (no call at all), else when Enerpize holds a document
under its ``po_number`` key (an earlier deployment, a lost answer), else, with the native guard,
when Enerpize's own Salla integration made it; the rest is missing. Only a missing invoice's
order is read, for the number a merchant types (its reference number). Dates are Asia/Riyadh
calendar days, both ends included.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sync_core.enerpize.client import EnerpizeClient
from sync_core.mapping import idempotency_key
from sync_core.money import fmt
from sync_core.salla.client import SallaClient
from sync_core.salla.models import DocumentKind, SallaInvoice
from sync_core.store import Store

RIYADH = ZoneInfo("Asia/Riyadh")
MAX_DAYS = 92
DEFAULT_DAYS = 7  # "/salla-sync audit" alone: the last week, today included
ORDER_READS_AT_ONCE = 16  # Salla calls are paced by its headers whatever is in flight
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class AuditRangeError(ValueError):
    """A range the audit cannot take; the message says why, in words a person reads."""


def today_in_riyadh(now: datetime | None = None) -> date:
    return (now or datetime.now(RIYADH)).astimezone(RIYADH).date()


@dataclass(frozen=True)
class AuditRange:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def __str__(self) -> str:
        return self.first.isoformat() if self.first == self.last else f"{self.first.isoformat()} to {self.last.isoformat()}"

    @classmethod
    def parse(cls, first: str | None, last: str | None = None, *, today: date | None = None) -> AuditRange:
        """``FROM [TO]`` as a person types them (``YYYY-MM-DD``; TO defaults to FROM; neither: the
        last 7 days up to today). ``AuditRangeError`` says what is wrong with a bad one."""
        today = today or today_in_riyadh()
        if not first:
            if last:
                raise AuditRangeError("give the first day too: FROM [TO], as YYYY-MM-DD")
            return cls(today - timedelta(days=DEFAULT_DAYS - 1), today)
        start = parse_day(first, "FROM")
        end = parse_day(last, "TO") if last else start
        if end < start:
            raise AuditRangeError(f"the range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        if end > today:
            raise AuditRangeError(f"{end.isoformat()} has not come yet (today is {today.isoformat()} in Riyadh)")
        if (end - start).days + 1 > MAX_DAYS:
            raise AuditRangeError(f"that is {(end - start).days + 1} days; an audit covers at most {MAX_DAYS}")
        return cls(start, end)


def parse_day(text: str, name: str) -> date:
    """A day as a person types it (``YYYY-MM-DD``); ``AuditRangeError`` in words otherwise."""
    text = text.strip()
    if not _DATE.match(text):
        raise AuditRangeError(f'{name} "{text}" is not a date: write it as YYYY-MM-DD, e.g. 2026-11-20')
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AuditRangeError(f'{name} "{text}" is not a day of the calendar') from None


@dataclass(frozen=True)
class MissingInvoice:
    """A Salla invoice Enerpize does not have, with what a person needs to find it."""

    reference_id: int | None  # the order's number as the merchant sees it (None: the order is gone)
    salla_order_id: int | None
    salla_invoice_id: int
    invoice_number: str | None
    kind: DocumentKind | None
    date: date | None
    total: Decimal
    currency: str

    def to_json(self) -> dict:
        return {"reference_id": self.reference_id, "salla_order_id": self.salla_order_id,
                "salla_invoice_id": self.salla_invoice_id, "invoice_number": self.invoice_number,
                "kind": self.kind.value if self.kind else None,
                "date": self.date.isoformat() if self.date else None,
                "total": fmt(abs(self.total)), "currency": self.currency}

    @property
    def number(self) -> str | None:
        """What to type to sync it (the reference number, else the order's internal id)."""
        if self.reference_id is not None:
            return str(self.reference_id)
        return str(self.salla_order_id) if self.salla_order_id is not None else None


@dataclass
class AuditProgress:
    pages_read: int = 0
    pages: int = 0
    invoices_checked: int = 0


@dataclass
class AuditReport:
    range: AuditRange
    salla_invoices: int
    in_enerpize: int
    missing: list[MissingInvoice] = field(default_factory=list)

    @classmethod
    def from_json(cls, body: dict) -> AuditReport:
        """Back from ``to_json`` (kept with the audit's Slack thread)."""
        missing = [MissingInvoice(reference_id=m["reference_id"], salla_order_id=m["salla_order_id"],
                                  salla_invoice_id=m["salla_invoice_id"], invoice_number=m["invoice_number"],
                                  kind=DocumentKind(m["kind"]) if m["kind"] else None,
                                  date=date.fromisoformat(m["date"]) if m["date"] else None,
                                  total=Decimal(m["total"]), currency=m["currency"])
                   for m in body["missing"]]
        return cls(AuditRange(date.fromisoformat(body["from"]), date.fromisoformat(body["to"])),
                   salla_invoices=body["salla_invoices"], in_enerpize=body["in_enerpize"], missing=missing)

    def to_json(self) -> dict:
        return {"from": self.range.first.isoformat(), "to": self.range.last.isoformat(),
                "salla_invoices": self.salla_invoices, "in_enerpize": self.in_enerpize,
                "missing": [m.to_json() for m in self.missing]}

    def numbers_to_sync(self) -> list[str]:
        """The missing invoices' orders, each once, in the order found."""
        seen: dict[str, None] = {}
        for missing in self.missing:
            if missing.number is not None:
                seen.setdefault(missing.number, None)
        return list(seen)


class Audit:
    def __init__(self, *, salla: SallaClient, enerpize: EnerpizeClient, store: Store,
                 native_guard: bool = False) -> None:
        self.salla = salla
        self.enerpize = enerpize
        self.store = store
        self.native_guard = native_guard

    async def run(self, days: AuditRange,
                  progress: Callable[[AuditProgress], None] | None = None) -> AuditReport:
        """Which of the range's Salla invoices are not in Enerpize. Salla's and Enerpize's errors
        (``SallaError``, ``Unreachable``, ``CannotConfirm``…) are the caller's to word."""
        state = AuditProgress()

        def page_read(read: int, pages: int) -> None:
            state.pages_read, state.pages = read, pages
            if progress is not None:
                progress(state)

        # Which spelling filters Enerpize's lists is learned while Salla is read (it needs nothing from Salla).
        filters = asyncio.ensure_future(self.enerpize.learn_filters())
        try:
            invoices = await self.salla.invoices_between(days.first, days.last, on_page=page_read)
        except BaseException:
            filters.cancel()
            await asyncio.gather(filters, return_exceptions=True)
            raise
        await asyncio.gather(filters, return_exceptions=True)  # a failure shows again in the look-ups
        invoices = list({i.id: i for i in invoices}.values())  # a row repeated across pages counts once
        synced = await asyncio.to_thread(self.store.synced_among, [i.id for i in invoices])
        unknown = [i for i in invoices if i.id not in synced]
        present: set[str] = set()
        for kind in DocumentKind:
            keys = [idempotency_key(i.id) for i in unknown if i.kind is kind]
            present |= await self.enerpize.keys_present(kind, keys, dated=(days.first, days.last))
        candidates = [i for i in unknown if idempotency_key(i.id) not in present]
        state.invoices_checked = len(invoices)
        if progress is not None:
            progress(state)
        missing = await self._missing(candidates)
        missing.sort(key=lambda m: (m.date or date.min, m.salla_invoice_id))
        return AuditReport(days, salla_invoices=len(invoices), in_enerpize=len(invoices) - len(missing),
                           missing=missing)

    async def _missing(self, candidates: Sequence[SallaInvoice]) -> list[MissingInvoice]:
        """Each candidate with its order's reference number; one that Enerpize's own Salla
        integration made (native guard on) is not missing after all."""
        slots = asyncio.Semaphore(ORDER_READS_AT_ONCE)
        orders: dict[int, asyncio.Task] = {}

        async def order_of(order_id: int):
            async with slots:
                return await self.salla.get_order(order_id)

        for invoice in candidates:
            if invoice.order_id is not None and invoice.order_id not in orders:
                orders[invoice.order_id] = asyncio.ensure_future(order_of(invoice.order_id))
        read = dict(zip(orders, await asyncio.gather(*orders.values()), strict=True))
        missing = []
        for invoice in candidates:
            order = read.get(invoice.order_id) if invoice.order_id is not None else None
            if self.native_guard and order is not None and invoice.kind is DocumentKind.INVOICE:
                if await self.enerpize.find_native_invoice(str(order.merchant_number)) is not None:
                    continue
            missing.append(MissingInvoice(
                reference_id=order.reference_id if order is not None else None, salla_order_id=invoice.order_id,
                salla_invoice_id=invoice.id, invoice_number=invoice.invoice_number, kind=invoice.kind,
                date=invoice.date, total=invoice.total, currency=invoice.currency))
        return missing
