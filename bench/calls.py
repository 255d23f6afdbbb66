"""Calls per order and per document, counted at the simulators (what really went over the wire)."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.workload import mixed_orders
from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sandbox.settings import simulator_settings
from sync_core.results import SyncStatus
from sync_core.wiring import open_service

# A tenant that honours both filter spellings, and one that honours none (Daftra's api2 documents
# no filter on clients, products or refund receipts): the stored id mapping matters most there.
DIALECTS = ("both", "none")
OTHER_CLIENTS = 300  # records made before the bot, so a list read whole is a real list


@dataclass(frozen=True)
class EnerpizePerDocument:
    """Enerpize calls per document on one tenant: a cold tenant's first order, the same process's
    next orders, and a restarted process's orders, with and without the stored id mapping."""

    cold: float
    warm: float
    restart: float  # a new process on the same database (the stored mapping in use)
    restart_without_mapping: float  # the same, with ids remembered in memory only (before issue 9)


@dataclass(frozen=True)
class CallCounts:
    salla_per_single_invoice_order: float
    enerpize_per_document_cold: float
    enerpize_per_document_warm: float
    enerpize: dict[str, EnerpizePerDocument] = field(default_factory=dict)  # by dialect


async def _sync(settings, numbers: list[str], *, mapping: bool = True) -> int:
    """Sync ``numbers`` in a service of its own (a new process's caches); the documents made."""
    async with open_service(settings) as service:
        if not mapping:
            service.enerpize.ids.id_map = None
        _, results = await service.sync(numbers, requested_by="bench", source="cli")
    assert all(r.status is SyncStatus.SUCCESS for r in results), results
    return sum(len(r.documents) for r in results)


async def _per_document(salla: SallaSimulator, enerpize: EnerpizeSimulator, workdir: Path,
                        cold: str, warm: list[str], restart: list[str], before: list[str]) -> tuple[float, EnerpizePerDocument]:
    settings = simulator_settings(salla, enerpize, f"sqlite:///{workdir / 'calls.db'}")
    async with open_service(settings) as service:
        _, [first] = await service.sync([cold], requested_by="bench", source="cli")
        assert first.status is SyncStatus.SUCCESS, first
        enerpize_cold = enerpize.call_count()
        enerpize.reset_counters()
        _, results = await service.sync(warm, requested_by="bench", source="cli")
        assert all(r.status is SyncStatus.SUCCESS for r in results), results
        enerpize_warm = enerpize.call_count() / sum(len(r.documents) for r in results)
    salla_per_order = salla.call_count() / (1 + len(warm))
    enerpize.reset_counters()
    documents = await _sync(settings, restart)
    enerpize_restart = enerpize.call_count() / documents
    enerpize.reset_counters()
    documents = await _sync(settings, before, mapping=False)
    return salla_per_order, EnerpizePerDocument(
        cold=float(enerpize_cold), warm=enerpize_warm,
        restart=enerpize_restart, restart_without_mapping=enerpize.call_count() / documents)


def measure_calls() -> CallCounts:
    """Per tenant dialect: one single-invoice order on a fresh service and database (cold: the VAT
    id, the client and the products are looked up and created), ten new single-invoice orders of
    the same customer and products in the same process (warm), then ten more in a new process on
    the same database (restart), and ten more in a new process that keeps ids in memory only."""
    workload = mixed_orders()
    first = workload.single_invoice_numbers[1]  # a known customer (not a guest)
    order = workload.store.order_by_reference(int(first))
    batches: list[list[str]] = []
    reference = 9001
    for _ in range(3 * len(DIALECTS)):
        batch = []
        for _ in range(10):
            again = workload.store.add_order(reference, customer=order.customer,
                                             lines=[item.as_line() for item in order.items], shipping="15")
            workload.store.add_invoice(again)
            batch.append(str(reference))
            reference += 1
        batches.append(batch)
    by_dialect: dict[str, EnerpizePerDocument] = {}
    salla_per_order = 0.0
    for n, dialect in enumerate(DIALECTS):
        warm, restart, before = batches[3 * n:3 * n + 3]
        with tempfile.TemporaryDirectory() as tmp, SallaSimulator(store=workload.store) as salla, \
                EnerpizeSimulator(dialect=dialect) as enerpize:
            for other in range(OTHER_CLIENTS):
                enerpize.add_client(client_number=f"walk-in-{other}", business_name=f"Walk-in {other}")
            # Each dialect starts from a cold tenant and ledger: the first order again, on a new database.
            per_order, by_dialect[dialect] = asyncio.run(
                _per_document(salla, enerpize, Path(tmp), first, warm, restart, before))
        if dialect == "both":
            salla_per_order = per_order
    return CallCounts(salla_per_single_invoice_order=salla_per_order,
                      enerpize_per_document_cold=by_dialect["both"].cold,
                      enerpize_per_document_warm=by_dialect["both"].warm, enerpize=by_dialect)
