"""The audit's cost: 1,000 Salla invoices of one day, 10 of them missing from Enerpize (the ledger
knows the other 990), on a Salla plan with its documented window and 1/s leak, ``latency`` on every
Salla and Enerpize call. The audit runs in this process, as the bot runs it; the simulators in a
child process (``bench/remote_sims.py``), so they do not share its GIL; peak RSS is this process's.

Lower bound = max(rate, chain): rate = (Salla calls beyond the plan's window) at the 1/s leak;
chain = the calls that must follow one another, each ``latency`` long, with unbounded concurrency
and no Salla call beyond the target: the first invoice page (it tells how many there are), the
other pages, the key look-ups in Enerpize (they need the invoices; learning the list's filter
overlaps the pages), the missing invoices' order reads (they need the look-ups' answer).
"""

from __future__ import annotations

import asyncio
import math
import resource
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from bench.remote_sims import RemoteEnerpize, RemoteSalla, RemoteSims
from sandbox.salla_records import line
from sandbox.salla_store import SallaStore
from sandbox.settings import simulator_settings
from sync_core.audit import AuditRange
from sync_core.mapping import idempotency_key
from sync_core.salla.client import INVOICES_PER_PAGE
from sync_core.wiring import open_service

INVOICES = 1000
MISSING = 10
DAY = date(2026, 10, 5)
CHAIN_CALLS = 4  # the first page, the other pages, the key look-ups, the missing invoices' order reads


@dataclass
class AuditFigures:
    invoices: int
    missing_found: int
    plan_per_minute: int
    latency_seconds: float
    wall_seconds: float
    bound_seconds: float
    salla_calls: int
    salla_target: int  # ceil(invoices / 60) pages + one order read per missing invoice
    salla_throttled: int
    enerpize_calls: int
    enerpize_target: int
    peak_rss_mb: float

    @property
    def ratio(self) -> float:
        return self.wall_seconds / self.bound_seconds

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


async def _audit(salla: RemoteSalla, enerpize: RemoteEnerpize, database_url: str, ledger: list[tuple[int, int]],
                 ) -> tuple[float, int]:
    async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
        store = service.store
        for invoice_id, order_id in ledger:  # synced earlier: the ledger knows them
            claim = store.claim(invoice_id, salla_order_id=order_id, kind="invoice", po_number=idempotency_key(invoice_id),
                                run_id=None)
            store.complete_claim(claim, enerpize_id=str(invoice_id), enerpize_number=None, amount="11.50", currency="SAR")
        salla.reset_counters()
        enerpize.reset_counters()
        started = time.perf_counter()
        report = await service.audit.run(AuditRange(DAY, DAY))
        return time.perf_counter() - started, len(report.missing)


def measure_audit(*, latency: float = 0.12, plan: int = 120) -> AuditFigures:
    """The audit in this process (as the bot runs it), the simulators in a child process."""
    store = SallaStore()
    for n in range(INVOICES):
        order = store.add_order(50_000 + n, customer=None, lines=[line("x", "10")], date=f"{DAY.isoformat()} 12:00:00")
        store.add_invoice(order)
    invoices = store.all_invoices()
    ledger = [(i.id, i.order_id) for i in invoices[MISSING:]]
    with tempfile.TemporaryDirectory() as tmp, RemoteSims(store, plan=plan, latency=latency, rate_model="window") as sims:
        sims.salla.set_invoices_per_page(INVOICES_PER_PAGE)
        sims.enerpize.add_invoices([idempotency_key(invoice_id) for invoice_id, _ in ledger], DAY.isoformat())
        wall, found = asyncio.run(_audit(sims.salla, sims.enerpize, f"sqlite:///{Path(tmp) / 'audit.db'}", ledger))
        salla_calls = len(sims.salla.calls())
        enerpize_calls, throttled = sims.enerpize.call_count(), sims.salla.throttled_count()
    pages = math.ceil(INVOICES / INVOICES_PER_PAGE)
    rate = max(0, salla_calls - plan) / 1.0  # the window's budget, then Salla's documented 1 request a second
    bound = max(rate, CHAIN_CALLS * latency)
    return AuditFigures(invoices=INVOICES, missing_found=found, plan_per_minute=plan, latency_seconds=latency,
                        wall_seconds=wall, bound_seconds=bound, salla_calls=salla_calls,
                        salla_target=pages + MISSING, salla_throttled=throttled, enerpize_calls=enerpize_calls,
                        enerpize_target=20, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":  # python -m bench.audit
    print(measure_audit().as_dict())
