"""The sync core as a source of work sees it: the run engine, and what it drives.

    async with open_service(settings) as service:      # sync_core.wiring
        run_id, results = await service.sync(["1001"], requested_by="U1", source=RunSource.CLI)

``service.engine`` is the run engine (``engine.py``: runs, their one lease, resume, cancel,
reporters); ``service.orders`` syncs one number (``order_sync.py``), through the exactly-once
protocol (``exactly_once.py``); ``service.audit`` finds the invoices that never reached Enerpize
(``audit.py``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sync_core.audit import Audit
from sync_core.delivered import DeliveredOrders
from sync_core.enerpize.client import EnerpizeClient
from sync_core.engine import RunEngine
from sync_core.order_sync import OrderSync
from sync_core.results import OrderResult
from sync_core.salla.client import SallaClient
from sync_core.store import Store
from sync_core.store.tables import RunSource


class SyncService:
    """One per process."""

    def __init__(self, *, salla: SallaClient, enerpize: EnerpizeClient, store: Store, concurrency: int = 8,
                 lost_answer_pause: float = 1.0, run_lease: timedelta = timedelta(seconds=30),
                 native_guard: bool = False) -> None:
        self.salla = salla
        self.enerpize = enerpize
        self.store = store
        self.orders = OrderSync(salla=salla, enerpize=enerpize, store=store, native_guard=native_guard,
                                lost_answer_pause=lost_answer_pause)
        self.engine = RunEngine(self.orders, store, concurrency=concurrency, lease=run_lease)
        self.engine.sync_source(RunSource.WEBHOOK, DeliveredOrders(self.orders, store))
        self.audit = Audit(salla=salla, enerpize=enerpize, store=store, native_guard=native_guard)
        self.sync = self.engine.sync
        self.retry = self.engine.retry
        self.failed_numbers = self.engine.failed_numbers

    @property
    def lost_answer_pause(self) -> float:
        """Seconds to wait, times the attempt, before looking up a document whose create answer was lost."""
        return self.orders.creation.lost_answer_pause

    @lost_answer_pause.setter
    def lost_answer_pause(self, seconds: float) -> None:
        self.orders.creation.lost_answer_pause = seconds

    async def run_results(self, run_id: int) -> list[OrderResult]:
        """The run's results so far, in input order, from the Invoice Sync Log."""
        return await asyncio.to_thread(self.store.run_results, run_id)
