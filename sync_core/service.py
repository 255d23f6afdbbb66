"""The sync service: input numbers in, one result per number and document out, exactly once.

Flow per number: find the order in Salla -> its invoices -> for each invoice, skip it if the
ledger has it; else read it, map it, check its total, take the ledger claim, look its
``po_number`` up in Enerpize, create it only if it is not there, read its number, record it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlmodel import SQLModel

from sync_core.enerpize.client import CannotConfirm, EnerpizeClient, EnerpizeRejected
from sync_core.enerpize.models import CreatedDocument, DocumentDraft
from sync_core.http import OutcomeUnknown, Unreachable
from sync_core.intake import RunIntake
from sync_core.mapping import MappingError, idempotency_key, map_invoice, totals_mismatch
from sync_core.money import fmt, parse_amount
from sync_core.results import DocumentResult, OrderResult, SyncStatus
from sync_core.salla.client import SallaClient, SallaError
from sync_core.salla.models import DocumentKind, SallaInvoice, SallaOrder, SallaOrderItem
from sync_core.salla.tokens import SallaAuthError
from sync_core.store import AlreadySynced, Claim, ClaimBusy, Store
from sync_core.store.store import NewRun
from sync_core.store.tables import SyncRun

log = logging.getLogger(__name__)

CREATE_ATTEMPTS = 3


class RunBusy(Exception):
    """Another live process is executing this run."""


@dataclass
class _RunControl:
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)  # the lease went to another process


class _ClaimHeartbeat:
    """Renews a ledger claim while its attempt holds it, however long its calls wait (rate limits,
    retries): the claim only runs out when the process is gone. A failed renewal is tried again
    at the next beat; ``stop()`` returns once no renewal can land any more (so a claim given back
    right after is not revived)."""

    def __init__(self, store: Store, claim: Claim) -> None:
        self.store = store
        self.claim = claim
        self._stopped = asyncio.Event()
        self._task = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        interval = self.store.claim_lease.total_seconds() / 3
        while True:
            try:
                await asyncio.wait_for(self._stopped.wait(), timeout=interval)
                return
            except TimeoutError:
                pass
            try:
                if not await asyncio.to_thread(self.store.extend_claim, self.claim):
                    return  # completed, or taken over: the extend before a send says which
            except Exception as exc:
                log.warning("could not renew the claim on Salla invoice %s (%s)", self.claim.salla_invoice_id,
                            type(exc).__name__)

    async def stop(self) -> None:
        self._stopped.set()
        await asyncio.gather(self._task, return_exceptions=True)


class SyncService:
    """One per process; safe to run many runs at once on one event loop."""

    def __init__(self, *, salla: SallaClient, enerpize: EnerpizeClient, store: Store, concurrency: int = 8,
                 lost_answer_pause: float = 1.0, run_lease: timedelta = timedelta(seconds=30),
                 native_guard: bool = False) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.run_lease = run_lease
        self.salla = salla
        self.enerpize = enerpize
        self.store = store
        self.concurrency = concurrency
        self.lost_answer_pause = lost_answer_pause
        self.native_guard = native_guard  # ENERPIZE_NATIVE_SALLA: Enerpize's own Salla app may have it
        self._runs: dict[int, _RunControl] = {}
        self._slots: asyncio.Semaphore | None = None
        self._slots_size = 0
        self._intake = RunIntake(store)

    # --- runs -----------------------------------------------------------------------------

    async def start_run(self, numbers: Sequence[str], *, requested_by: str, source: str,
                        retry_of: int | None = None,
                        along: Callable[[int], Iterable[SQLModel]] | None = None) -> SyncRun:
        """Store the run and its numbers (so nothing is lost if the process dies), not yet run;
        ``along(run_id)``: rows stored in the same transaction. Fast under a burst of submissions
        (``sync_core.intake``)."""
        return await self._intake.add(NewRun(list(numbers), requested_by, source, retry_of, along))

    async def execute(self, run_id: int) -> AsyncIterator[OrderResult]:
        """Run the stored run's numbers that have no result yet; yield each result as it is stored.

        The run is leased to this process (renewed while it runs), so a run left by a process that
        died is taken over by another, and two processes never execute one run at once.
        """
        if run_id in self._runs:  # already executing here (the lease is ours, so it would let us in)
            raise RunBusy(run_id)
        if not await asyncio.to_thread(self.store.acquire_run, run_id, self.owner, self.run_lease):
            raise RunBusy(run_id)
        run = await asyncio.to_thread(self.store.get_run, run_id)
        assert run is not None
        done = {r.number for r in await asyncio.to_thread(self.store.run_records, run_id)}
        pending = [n for n in run.number_list if n not in done]
        control = self._runs.setdefault(run_id, _RunControl())
        if run.cancel_requested:
            control.cancelled.set()
        queue: asyncio.Queue[OrderResult | None] = asyncio.Queue()
        semaphore = self._order_slots()

        async def one(number: str) -> None:
            result = None
            async with semaphore:
                if control.lost.is_set():
                    pass  # another process owns the run now; it will do this number
                elif control.cancelled.is_set():
                    result = OrderResult(number=number, status=SyncStatus.CANCELLED, reason="cancelled before it started")
                else:
                    result = await self.sync_number(number, run_id)
                if result is not None:
                    # Only the run's owner writes a result, renewing its lease in the same
                    # transaction: the run cannot have passed to a process that syncs it again.
                    if not await asyncio.to_thread(self.store.add_result, run_id, result, owner=self.owner,
                                                   lease=self.run_lease):
                        control.lost.set()
                        result = None
            await queue.put(result)

        heartbeat = asyncio.create_task(self._keep_lease(run_id, control))
        tasks = [asyncio.create_task(one(n)) for n in pending]
        try:
            for _ in tasks:
                result = await queue.get()
                if result is not None:
                    yield result
        finally:
            heartbeat.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(heartbeat, *tasks, return_exceptions=True)
            self._runs.pop(run_id, None)
        if control.lost.is_set():
            return
        results = await self.run_results(run_id)
        await asyncio.to_thread(self.store.finish_run, run_id, results, cancelled=control.cancelled.is_set())

    def _order_slots(self) -> asyncio.Semaphore:
        """One limit on orders in flight for the whole process, however many runs share it."""
        if self._slots is None or self._slots_size != self.concurrency:
            self._slots, self._slots_size = asyncio.Semaphore(self.concurrency), self.concurrency
        return self._slots

    async def _keep_lease(self, run_id: int, control: _RunControl) -> None:
        """Renew the run's lease; notice a cancel asked for by another process.

        A renewal that fails (the database is away for a moment) is tried again at the next beat;
        once the lease may have run out without a renewal, the run is given up here: another
        process may have taken it over.
        """
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(self.run_lease.total_seconds() / 3)
            try:
                held = await asyncio.to_thread(self.store.acquire_run, run_id, self.owner, self.run_lease)
                run = await asyncio.to_thread(self.store.get_run, run_id) if held else None
            except Exception as exc:
                log.warning("run %s: could not renew its lease (%s)", run_id, type(exc).__name__)
                if loop.time() - renewed < self.run_lease.total_seconds() * 2 / 3:
                    continue
                held = False
            if not held:
                log.warning("run %s was taken over by another process (or its lease ran out); stopping here", run_id)
                control.lost.set()
                return
            renewed = loop.time()
            if run is not None and run.cancel_requested:
                control.cancelled.set()

    async def resume_orphaned(self) -> list[int]:
        """Runs left unfinished by a process that died (or never started): their ids, oldest first."""
        return [r.id for r in await asyncio.to_thread(self.store.orphaned_runs) if r.id is not None]

    async def sync(self, numbers: Sequence[str], *, requested_by: str, source: str,
                   retry_of: int | None = None) -> tuple[int, list[OrderResult]]:
        """Start and finish a run; return its id and results in input order."""
        run = await self.start_run(numbers, requested_by=requested_by, source=source, retry_of=retry_of)
        assert run.id is not None
        async for _ in self.execute(run.id):
            pass
        return run.id, await self.run_results(run.id)

    def cancel(self, run_id: int) -> bool:
        """Stop the run's numbers not yet started (they end ``Cancelled``). False if not running here."""
        control = self._runs.get(run_id)
        if control is None:
            return False
        control.cancelled.set()
        return True

    async def cancel_anywhere(self, run_id: int) -> bool:
        """Cancel the run in whichever process executes it (its lease heartbeat notices the flag).
        False when the run is already over."""
        here = self.cancel(run_id)
        return await asyncio.to_thread(self.store.request_cancel, run_id) or here

    async def failed_numbers(self, run_id: int) -> list[str]:
        return [r.number for r in await self.run_results(run_id) if r.status is SyncStatus.FAILED]

    async def retry(self, run_id: int, *, requested_by: str, source: str) -> tuple[int, list[OrderResult]] | None:
        """Re-run the numbers of ``run_id`` that failed, as a new run linked to it; None if none failed."""
        numbers = await self.failed_numbers(run_id)
        if not numbers:
            return None
        return await self.sync(numbers, requested_by=requested_by, source=source, retry_of=run_id)

    async def run_results(self, run_id: int) -> list[OrderResult]:
        """The run's results in input order, rebuilt from the Invoice Sync Log."""
        run = await asyncio.to_thread(self.store.get_run, run_id)
        records = await asyncio.to_thread(self.store.run_records, run_id)
        by_number: dict[str, list] = {}
        for record in records:
            by_number.setdefault(record.number, []).append(record)
        results = []
        for number in run.number_list if run else []:
            rows = by_number.get(number)
            if not rows:
                continue
            docs = tuple(
                DocumentResult(kind=DocumentKind(r.kind) if r.kind else None, status=SyncStatus(r.status),
                               salla_invoice_id=r.salla_invoice_id, salla_invoice_number=r.salla_invoice_number,
                               enerpize_id=r.enerpize_id, enerpize_number=r.enerpize_number,
                               total=parse_amount(r.amount) if r.amount else None, currency=r.currency,
                               reason=r.reason, already_synced=bool(r.reason and r.reason.startswith("already")))
                for r in rows if r.salla_invoice_id is not None
            )
            status = OrderResult.overall(docs) if docs else SyncStatus(rows[0].status)
            results.append(OrderResult(number=number, status=status, reason=None if docs else rows[0].reason,
                                       salla_order_id=rows[0].salla_order_id,
                                       salla_reference=rows[0].salla_reference, documents=docs))
        return results

    # --- one number ------------------------------------------------------------------------

    async def sync_number(self, number: str, run_id: int | None = None) -> OrderResult:
        """Sync one input number; never raises: every failure is a reason in the result."""
        try:
            order = await self.salla.find_order(number)
        except (SallaError, SallaAuthError, Unreachable) as exc:
            return OrderResult(number=number, status=SyncStatus.FAILED, reason=str(exc))
        except Exception:  # a bug must cost one order, not the run
            log.exception("unexpected error looking up %s", number)
            return OrderResult(number=number, status=SyncStatus.FAILED, reason="unexpected error reading Salla (see the bot's log)")
        if order is None:
            return OrderResult(number=number, status=SyncStatus.NOT_FOUND,
                               reason="no order with this reference number or id in Salla")
        base = dict(number=number, salla_order_id=order.id, salla_reference=order.reference_id)
        try:
            invoices = await self.salla.list_invoices(order.id)
        except (SallaError, SallaAuthError, Unreachable) as exc:
            return OrderResult(**base, status=SyncStatus.FAILED, reason=str(exc))
        if not invoices:
            status = order.status.slug or order.status.name or "unknown"
            return OrderResult(**base, status=SyncStatus.FAILED,
                               reason=f"no invoice in Salla yet (order status: {status})")
        # Tax invoices before credit notes, so a return can name the invoice it refunds.
        invoices.sort(key=lambda inv: (inv.kind is not DocumentKind.INVOICE, inv.id))
        items_cache: dict[str, dict[int, SallaOrderItem]] = {}
        documents = []
        for invoice in invoices:
            documents.append(await self._sync_invoice(order, invoice, run_id, items_cache))
        return OrderResult(**base, status=OrderResult.overall(documents), documents=tuple(documents))

    async def _sync_invoice(self, order: SallaOrder, header: SallaInvoice, run_id: int | None,
                            items_cache: dict[str, dict[int, SallaOrderItem]]) -> DocumentResult:
        kind = header.kind
        ids = dict(salla_invoice_id=header.id, salla_invoice_number=header.invoice_number)
        if kind is None:
            return DocumentResult(kind=None, status=SyncStatus.FAILED, **ids,
                                  reason=f'Salla invoice {header.label} has an unknown type "{header.type}"')
        synced = await asyncio.to_thread(self.store.synced, header.id)
        if synced is not None:
            return self._already(kind, ids, synced)
        try:
            invoice = await self.salla.get_invoice(header.id)
            needs_items = any(i.sku is None and i.item_id is not None for i in invoice.items)
            if needs_items and "items" not in items_cache:
                items_cache["items"] = await self.salla.order_items(order.id)
            draft = map_invoice(invoice, order, items_cache.get("items"))
        except (SallaError, SallaAuthError, Unreachable, MappingError) as exc:
            return DocumentResult(kind=kind, status=SyncStatus.FAILED, **ids, reason=str(exc))
        fail = dict(kind=kind, status=SyncStatus.FAILED, total=abs(invoice.total), currency=draft.currency, **ids)
        mismatch = totals_mismatch(invoice, draft)
        if mismatch:
            return DocumentResult(**fail, reason=mismatch)
        try:
            tax_ids = {rate: await self.enerpize.tax_id(rate) for rate in draft.tax_rates}
        except (EnerpizeRejected, Unreachable) as exc:
            return DocumentResult(**fail, reason=str(exc))

        claim = await self._claim(order, invoice, kind, run_id)
        if isinstance(claim, AlreadySynced):
            return self._already(kind, ids, claim)
        if isinstance(claim, ClaimBusy):
            return DocumentResult(**fail, reason="another sync is creating this document right now; "
                                                 "re-run in a few minutes")
        sent = False  # once a create was sent, a failure may not mean "nothing was created"
        heartbeat = _ClaimHeartbeat(self.store, claim)
        try:
            existing = await self.enerpize.find_document(kind, draft.po_number)
            if existing is not None:  # created by an attempt whose answer was lost: link it
                return await self._complete(claim, existing, invoice, draft, ids, linked=True)
            if self.native_guard and kind is DocumentKind.INVOICE:
                native = await self.enerpize.find_native_invoice(str(order.merchant_number))
                if native is not None:
                    return await self._complete(claim, native, invoice, draft, ids, native=True)
            sent = True
            created = await self._create(draft, order, claim, tax_ids)
            return await self._complete(claim, created, invoice, draft, ids)
        except CannotConfirm:
            # The look-up could not have seen the document: never create on its strength.
            await heartbeat.stop()
            await asyncio.to_thread(self.store.abandon_claim, claim)
            return DocumentResult(**fail, reason=f"cannot confirm whether Enerpize already has {draft.po_number}; "
                                                 "check it there, then re-run")
        except EnerpizeRejected as exc:
            await heartbeat.stop()
            await asyncio.to_thread(self.store.abandon_claim if sent else self.store.release_claim, claim)
            await self.enerpize.forget_cached(client_number=draft.customer.client_number,
                                              skus={line.sku for line in draft.lines if line.sku})
            return DocumentResult(**fail, reason=str(exc))
        except (OutcomeUnknown, Unreachable) as exc:
            await heartbeat.stop()
            await asyncio.to_thread(self.store.abandon_claim, claim)
            return DocumentResult(**fail, reason=f"{exc}; it will be checked before any new attempt")
        except Exception:
            await heartbeat.stop()
            await asyncio.to_thread(self.store.abandon_claim, claim)
            log.exception("unexpected error syncing Salla invoice %s", header.id)
            return DocumentResult(**fail, reason="unexpected error (see the bot's log); "
                                                 "it will be checked before any new attempt")
        finally:
            await heartbeat.stop()

    async def _claim(self, order: SallaOrder, invoice: SallaInvoice, kind: DocumentKind,
                     run_id: int | None) -> Claim | AlreadySynced | ClaimBusy:
        """Take the ledger claim; when another attempt holds it, wait for it to finish."""
        loop = asyncio.get_running_loop()
        # Wait a little longer than a claim's lease: by then its holder finished or is taken over.
        lease = self.store.claim_lease.total_seconds()
        deadline = loop.time() + lease + 30
        delay = 0.05
        while True:
            claim = await asyncio.to_thread(self.store.claim, invoice.id, salla_order_id=order.id, kind=kind.value,
                                            po_number=idempotency_key(invoice.id), run_id=run_id)
            if not isinstance(claim, ClaimBusy) or loop.time() > deadline:
                return claim
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0, max(lease / 10, 0.05))

    async def _create(self, draft: DocumentDraft, order: SallaOrder, claim: Claim,
                      tax_ids: dict[Decimal, str]) -> CreatedDocument:
        """Create the document; when an answer is lost, look the key up before sending again.

        The claim is renewed before every send, and nothing is sent once it is lost: a claim whose
        lease ran out may have been taken over by an attempt that is about to look and create.
        """
        client_id = await self.enerpize.client_id(draft.customer)
        product_ids = {}
        for line in draft.lines:
            if line.sku and line.sku not in product_ids:
                product_ids[line.sku] = await self.enerpize.product_id(
                    line.sku, name=line.name, unit_price=line.unit_price,
                    tax_id=tax_ids.get(line.tax_rate) if line.tax_rate else None)
        original = None
        if draft.kind is DocumentKind.RETURN:
            original = await asyncio.to_thread(self.store.synced_invoice_of_order, order.id)
        fresh = self.store.claim_lease.total_seconds() / 4
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            # A claim taken moments ago cannot have run out (another attempt may take it over only
            # after its whole lease); an older one is renewed, and nothing is sent once it is lost.
            if (attempt > 1 or time.monotonic() - claim.taken_at > fresh) and \
                    not await asyncio.to_thread(self.store.extend_claim, claim):
                raise OutcomeUnknown("another attempt took this invoice over")
            try:
                enerpize_id = await self.enerpize.create_document(draft, client_id=client_id, product_ids=product_ids,
                                                                  tax_ids=tax_ids, original_invoice_id=original)
                return await self.enerpize.read_document(draft.kind, enerpize_id)
            except OutcomeUnknown:
                log.warning("answer lost creating %s (attempt %d); looking it up", draft.po_number, attempt)
                await asyncio.sleep(self.lost_answer_pause * attempt)
                found = await self.enerpize.find_document(draft.kind, draft.po_number)
                if found is not None:
                    return found if found.number else await self.enerpize.read_document(draft.kind, found.enerpize_id)
                if attempt == CREATE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _complete(self, claim: Claim, doc: CreatedDocument, invoice: SallaInvoice, draft: DocumentDraft,
                        ids: dict, *, linked: bool = False, native: bool = False) -> DocumentResult:
        total = doc.total if doc.total is not None else draft.total
        await asyncio.to_thread(self.store.complete_claim, claim, enerpize_id=doc.enerpize_id,
                                enerpize_number=doc.number, amount=fmt(total), currency=draft.currency)
        reason = f"already in Enerpize as {doc.number or doc.enerpize_id}; linked, not created again" if linked else None
        if native:
            reason = f"already in Enerpize as {doc.number or doc.enerpize_id}, made by Enerpize's Salla integration"
        if doc.total is not None and abs(doc.total - abs(invoice.total)) > Decimal("0.01"):
            reason = (f"check it: Enerpize's total {fmt(doc.total)} differs from Salla's "
                      f"{fmt(abs(invoice.total))} {draft.currency}")
        return DocumentResult(kind=draft.kind, status=SyncStatus.SUCCESS, enerpize_id=doc.enerpize_id,
                              enerpize_number=doc.number, total=total, currency=draft.currency, reason=reason, **ids)

    @staticmethod
    def _already(kind: DocumentKind, ids: dict, synced: AlreadySynced) -> DocumentResult:
        number = synced.enerpize_number or synced.enerpize_id
        return DocumentResult(kind=kind, status=SyncStatus.SUCCESS, enerpize_id=synced.enerpize_id,
                              enerpize_number=synced.enerpize_number,
                              total=parse_amount(synced.amount) if synced.amount else None,
                              currency=synced.currency, already_synced=True, reason=f"already synced as {number}", **ids)
