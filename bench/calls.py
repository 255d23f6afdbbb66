"""Calls per order and per document, counted at the simulators (what really went over the wire)."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.workload import mixed_orders
from sandbox.settings import simulator_settings
from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sync_core.results import SyncStatus
from sync_core.wiring import open_service


@dataclass(frozen=True)
class CallCounts:
    salla_per_single_invoice_order: float
    enerpize_per_document_cold: float
    enerpize_per_document_warm: float


async def _count(salla: SallaSimulator, enerpize: EnerpizeSimulator, database_url: str,
                 cold: str, warm: list[str]) -> CallCounts:
    async with open_service(simulator_settings(salla, enerpize, database_url)) as service:
        _, [first] = await service.sync([cold], requested_by="bench", source="bench")
        assert first.status is SyncStatus.SUCCESS, first
        salla_first, enerpize_cold = salla.call_count(), enerpize.call_count()
        salla.reset_counters()
        enerpize.reset_counters()
        _, results = await service.sync(warm, requested_by="bench", source="bench")
        documents = sum(len(r.documents) for r in results)
        assert all(r.status is SyncStatus.SUCCESS for r in results), results
        return CallCounts(
            salla_per_single_invoice_order=(salla_first + salla.call_count()) / (1 + len(warm)),
            enerpize_per_document_cold=float(enerpize_cold),
            enerpize_per_document_warm=enerpize.call_count() / documents,
        )


def measure_calls() -> CallCounts:
    """One single-invoice order on a fresh service (cold caches: the VAT id, the client and the
    products are looked up and created), then ten new single-invoice orders of the same customer
    and products (warm caches: the steady state of a bot serving returning customers)."""
    workload = mixed_orders()
    first = workload.single_invoice_numbers[1]  # a known customer (not a guest)
    order = workload.store.order_by_reference(int(first))
    warm = []
    for i in range(10):
        again = workload.store.add_order(9001 + i, customer=order.customer,
                                         lines=[item.as_line() for item in order.items], shipping="15")
        workload.store.add_invoice(again)
        warm.append(str(9001 + i))
    with tempfile.TemporaryDirectory() as tmp, SallaSimulator(store=workload.store) as salla, \
            EnerpizeSimulator() as enerpize:
        return asyncio.run(_count(salla, enerpize, f"sqlite:///{Path(tmp) / 'calls.db'}", first, warm))
