"""The exactly-once protocol: each Salla invoice becomes one Enerpize document, however processes
die and answers get lost.

Claim the invoice in the ledger (unique per Salla invoice) before calling Enerpize; look its
``po_number`` key up first (an earlier attempt's document is linked, never made again); create it
only when the look-up could have seen it and did not; renew the claim before every send and send
nothing once it is lost; after a lost answer, look the key up again before sending anything;
record the document in the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from sync_core.enerpize.client import CannotConfirm, EnerpizeClient, EnerpizeRejected
from sync_core.enerpize.models import CreatedDocument, DocumentDraft
from sync_core.http import OutcomeUnknown, Unreachable
from sync_core.mapping import idempotency_key
from sync_core.money import fmt, parse_amount
from sync_core.results import DocumentResult, SyncStatus
from sync_core.salla.models import DocumentKind, SallaInvoice, SallaOrder
from sync_core.store import AlreadySynced, Claim, ClaimBusy, Store

log = logging.getLogger(__name__)

CREATE_ATTEMPTS = 3


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


def already_synced(kind: DocumentKind, ids: dict, synced: AlreadySynced) -> DocumentResult:
    """The result of an invoice the ledger says is synced: no call to Enerpize."""
    number = synced.enerpize_number or synced.enerpize_id
    return DocumentResult(kind=kind, status=SyncStatus.SUCCESS, enerpize_id=synced.enerpize_id,
                          enerpize_number=synced.enerpize_number,
                          total=parse_amount(synced.amount) if synced.amount else None,
                          currency=synced.currency, already_synced=True, reason=f"already synced as {number}", **ids)


class DocumentCreation:
    def __init__(self, *, enerpize: EnerpizeClient, store: Store, native_guard: bool = False,
                 lost_answer_pause: float = 1.0) -> None:
        self.enerpize = enerpize
        self.store = store
        self.native_guard = native_guard  # ENERPIZE_NATIVE_SALLA: Enerpize's own Salla app may have it
        self.lost_answer_pause = lost_answer_pause

    async def create_once(self, order: SallaOrder, invoice: SallaInvoice, draft: DocumentDraft, kind: DocumentKind,
                          ids: dict, fail: dict, tax_ids: dict[Decimal, str], run_id: int | None) -> DocumentResult:
        """The document for ``invoice``, created at most once; ``fail``: a failed result's fields."""
        claim = await self._claim(order, invoice, kind, run_id)
        if isinstance(claim, AlreadySynced):
            return already_synced(kind, ids, claim)
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
            log.exception("unexpected error syncing Salla invoice %s", invoice.id)
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
