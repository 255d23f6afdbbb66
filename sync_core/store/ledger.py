"""The ledger: which Enerpize document each Salla invoice became, and the claim an attempt takes
before it calls Enerpize, so each invoice is created exactly once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sync_core.salla.models import DocumentKind
from sync_core.store.database import delete_rows, insert_values, table_of, update_rows
from sync_core.store.tables import LedgerEntry, LedgerState, utcnow

CLAIM_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Claim:
    """This attempt holds the right to create the document for one Salla invoice."""

    salla_invoice_id: int
    token: str
    taken_over: bool  # an earlier attempt left it: its outcome is unknown
    taken_at: float = field(default_factory=time.monotonic, compare=False)  # this process's clock


@dataclass(frozen=True)
class AlreadySynced:
    salla_invoice_id: int
    enerpize_id: str
    enerpize_number: str | None
    amount: str | None
    currency: str | None


@dataclass(frozen=True)
class ClaimBusy:
    """Another attempt is creating this document right now."""

    salla_invoice_id: int
    lease_until: datetime | None


class Ledger:
    """The store's ledger (mixed into ``Store``: ``self.engine``, ``self.claim_lease``)."""

    def synced(self, salla_invoice_id: int) -> AlreadySynced | None:
        with Session(self.engine) as session:
            entry = session.get(LedgerEntry, salla_invoice_id)
            if entry is None or entry.state != LedgerState.SYNCED.value or entry.enerpize_id is None:
                return None
            return AlreadySynced(entry.salla_invoice_id, entry.enerpize_id, entry.enerpize_number,
                                 entry.amount, entry.currency)

    def claim(self, salla_invoice_id: int, *, salla_order_id: int, kind: str, po_number: str,
              run_id: int | None, lease: timedelta | None = None) -> Claim | AlreadySynced | ClaimBusy:
        """Take the unique right to create this invoice's document.

        A row already there is either a finished sync (AlreadySynced), a live attempt (ClaimBusy),
        or an attempt whose lease ran out (taken over here, with a compare-and-set on its token).
        """
        token = uuid.uuid4().hex
        now = utcnow()
        lease = lease or self.claim_lease
        entry = LedgerEntry(salla_invoice_id=salla_invoice_id, salla_order_id=salla_order_id, kind=kind,
                            po_number=po_number, state=LedgerState.CLAIMED.value, claim_token=token, claimed_by_run=run_id,
                            lease_until=now + lease)
        with Session(self.engine) as session:
            try:
                session.connection().execute(table_of(LedgerEntry).insert(), insert_values(entry))
                session.commit()
                return Claim(salla_invoice_id, token, taken_over=False)
            except IntegrityError:
                session.rollback()
        with Session(self.engine) as session:
            entry = session.get(LedgerEntry, salla_invoice_id)
            if entry is not None:
                return self._claim_existing(session, entry, token, now, lease, run_id)
        # Released between our insert and that read: try once more (outside that session: a SQLite
        # store has one connection, which a nested session would wait for in vain).
        return self.claim(salla_invoice_id, salla_order_id=salla_order_id, kind=kind, po_number=po_number,
                          run_id=run_id, lease=lease)

    @staticmethod
    def _claim_existing(session: Session, entry: LedgerEntry, token: str, now: datetime, lease: timedelta,
                        run_id: int | None) -> Claim | AlreadySynced | ClaimBusy:
        salla_invoice_id = entry.salla_invoice_id
        if entry.state == LedgerState.SYNCED.value and entry.enerpize_id is not None:
            return AlreadySynced(entry.salla_invoice_id, entry.enerpize_id, entry.enerpize_number,
                                 entry.amount, entry.currency)
        if entry.lease_until is not None and entry.lease_until > now:
            return ClaimBusy(salla_invoice_id, entry.lease_until)
        taken = session.exec(
            update_rows(LedgerEntry)
            .where(col(LedgerEntry.salla_invoice_id) == salla_invoice_id,
                   col(LedgerEntry.claim_token) == entry.claim_token, col(LedgerEntry.state) == LedgerState.CLAIMED.value)
            .values(claim_token=token, claimed_by_run=run_id, lease_until=now + lease)
        )
        session.commit()
        if taken.rowcount == 1:
            return Claim(salla_invoice_id, token, taken_over=True)
        return ClaimBusy(salla_invoice_id, None)

    def extend_claim(self, claim: Claim, lease: timedelta | None = None) -> bool:
        lease = lease or self.claim_lease
        with Session(self.engine) as session:
            res = session.exec(update_rows(LedgerEntry)
                               .where(col(LedgerEntry.salla_invoice_id) == claim.salla_invoice_id,
                                      col(LedgerEntry.claim_token) == claim.token)
                               .values(lease_until=utcnow() + lease))
            session.commit()
            return res.rowcount == 1

    def complete_claim(self, claim: Claim, *, enerpize_id: str, enerpize_number: str | None,
                       amount: str | None, currency: str | None) -> None:
        """Record the document; the row stays forever so the invoice is never created again."""
        with Session(self.engine) as session:
            session.exec(update_rows(LedgerEntry)
                         .where(col(LedgerEntry.salla_invoice_id) == claim.salla_invoice_id)
                         .values(state=LedgerState.SYNCED.value, claim_token=None, lease_until=None, enerpize_id=enerpize_id,
                                 enerpize_number=enerpize_number, amount=amount, currency=currency,
                                 synced_at=utcnow()))
            session.commit()

    def release_claim(self, claim: Claim) -> None:
        """Give the claim back after a failure that certainly created nothing."""
        with Session(self.engine) as session:
            session.exec(delete_rows(LedgerEntry).where(col(LedgerEntry.salla_invoice_id) == claim.salla_invoice_id,
                                                   col(LedgerEntry.claim_token) == claim.token,
                                                   col(LedgerEntry.state) == LedgerState.CLAIMED.value))
            session.commit()

    def abandon_claim(self, claim: Claim) -> None:
        """The outcome is unknown: keep the row but end its lease, so the next attempt looks first."""
        with Session(self.engine) as session:
            session.exec(update_rows(LedgerEntry)
                         .where(col(LedgerEntry.salla_invoice_id) == claim.salla_invoice_id,
                                col(LedgerEntry.claim_token) == claim.token)
                         .values(lease_until=utcnow()))
            session.commit()

    def synced_among(self, salla_invoice_ids: Iterable[int]) -> set[int]:
        """Which of these Salla invoices the ledger has as synced (asked in chunks of 500)."""
        ids = list(salla_invoice_ids)
        found: set[int] = set()
        with Session(self.engine) as session:
            for start in range(0, len(ids), 500):
                found.update(session.exec(
                    select(LedgerEntry.salla_invoice_id)
                    .where(col(LedgerEntry.salla_invoice_id).in_(ids[start:start + 500]),
                           LedgerEntry.state == LedgerState.SYNCED.value)))
        return found

    def synced_invoice_of_order(self, salla_order_id: int) -> str | None:
        """The Enerpize id of the order's first synced tax invoice (a return names it)."""
        with Session(self.engine) as session:
            entry = session.exec(select(LedgerEntry)
                                 .where(LedgerEntry.salla_order_id == salla_order_id,
                                        LedgerEntry.kind == DocumentKind.INVOICE.value, LedgerEntry.state == LedgerState.SYNCED.value)
                                 .order_by(col(LedgerEntry.salla_invoice_id))).first()
            return entry.enerpize_id if entry else None
