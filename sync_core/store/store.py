"""The store: runs and their records, the exactly-once ledger, and the Salla tokens.

Methods are synchronous and short; the async sync service calls them through
``asyncio.to_thread`` so the event loop never waits on the database.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Delete, Table, Update, event, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, col, create_engine, delete, select

from sync_core.money import fmt
from sync_core.results import OrderResult, SyncStatus
from sync_core.store.gate import TransactionGate
from sync_core.store.locks import DatabaseLock, sqlite_file
from sync_core.store.schema import ensure_schema
from sync_core.store.tables import LedgerEntry, SallaToken, SyncRecord, SyncRun, utcnow

CLAIM_LEASE = timedelta(minutes=2)
TOKEN_REFRESH_LOCK = "salla-token-refresh"
TOKEN_REFRESH_WAIT = 60.0  # seconds; a refresh is one HTTP call with its own timeout


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


@dataclass(frozen=True)
class NewRun:
    """A run to store: its numbers, who asked, from where, and rows stored with it (``along``)."""

    numbers: list[str]
    requested_by: str
    source: str
    retry_of: int | None = None
    along: Callable[[int], Iterable[SQLModel]] | None = None


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        memory = database_url in ("sqlite://", "sqlite:///:memory:")
        # One shared connection for an in-memory database, or every thread would see its own. A file
        # database gets one connection per engine too: SQLite has one writer at a time, and threads
        # queued on the pool are woken as soon as it is free, whereas connections competing for
        # SQLite's lock wait in its busy handler, which sleeps up to 100 ms between tries (measured:
        # submissions acked in 240 ms at p50 under a burst, 104 ms with one connection).
        engine = create_engine(database_url, connect_args={"check_same_thread": False, "timeout": 30},
                               **({"poolclass": StaticPool} if memory else {"pool_size": 1, "max_overflow": 0}))

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def update_rows(model: type[SQLModel]) -> Update:
    """``UPDATE`` without the ORM's session synchronisation (our sessions hold no objects to sync)."""
    return update(model).execution_options(synchronize_session=False)


def delete_rows(model: type[SQLModel]) -> Delete:
    """``DELETE`` without the ORM's session synchronisation."""
    return delete(model).execution_options(synchronize_session=False)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


def _values(row: SQLModel) -> dict:
    """The row's columns for an insert; an unset generated key is left to the database."""
    table = _table(type(row))
    return {k: v for k, v in row.model_dump().items() if v is not None or not table.c[k].primary_key}


def _fingerprint(access: str, refresh: str) -> str:
    return hashlib.sha256(f"{access}\0{refresh}".encode()).hexdigest()[:16]


class Store:
    def __init__(self, database_url: str, *, engine: Engine | None = None, create: bool = True,
                 claim_lease: timedelta = CLAIM_LEASE) -> None:
        self.database_url = database_url
        self.claim_lease = claim_lease
        self.engine = engine or make_engine(database_url)
        # SQLite: one connection per engine (see make_engine); new runs get one of their own and go
        # first through the gate, so storing one never queues behind the runs' work in this process.
        self.intake_engine = self.engine
        if engine is None and self.engine.dialect.name == "sqlite" and sqlite_file(self.engine):
            self.intake_engine = make_engine(database_url)
            gate = TransactionGate()
            gate.guard(self.engine)
            gate.guard(self.intake_engine, urgent=True)
        if create:
            self.create_tables()

    def create_tables(self) -> None:
        """Create the schema on a new database; one query when it is at head already.

        Raises ``SchemaBehind`` (and changes nothing) when the database needs ``salla-sync db upgrade``.
        """
        ensure_schema(self.engine, allow_create=True)

    def ping(self) -> None:
        with Session(self.engine) as session:
            session.exec(select(1)).one()

    def close(self) -> None:
        self.engine.dispose()
        self.intake_engine.dispose()

    # --- runs -----------------------------------------------------------------------------

    def create_run(self, numbers: Sequence[str], requested_by: str, source: str,
                   retry_of: int | None = None, *,
                   along: Callable[[int], Iterable[SQLModel]] | None = None) -> SyncRun:
        """Store a run; ``along(run_id)`` gives rows stored in the same transaction (the bot's
        thread row: a run is never stored without where it answers)."""
        return self.create_runs([NewRun(list(numbers), requested_by, source, retry_of, along)])[0]

    def create_runs(self, new_runs: Sequence[NewRun]) -> list[SyncRun]:
        """Store several runs (each with its ``along`` rows) in one transaction: one commit for a
        burst of submissions. Plain Core inserts with bound parameters: the ORM's unit of work (or
        inlined values) costs several times the CPU for the same rows, on the path that answers Slack."""
        runs = []
        with Session(self.intake_engine) as session:
            connection = session.connection()
            for new in new_runs:
                run = SyncRun(requested_by=new.requested_by, source=new.source, numbers="\n".join(new.numbers),
                              total=len(new.numbers), retry_of=new.retry_of)
                run.id = connection.execute(_table(SyncRun).insert(), _values(run)).inserted_primary_key[0]
                for row in new.along(run.id) if new.along is not None else ():
                    connection.execute(_table(type(row)).insert(), _values(row))
                runs.append(run)
            session.commit()
        return runs

    def get_run(self, run_id: int) -> SyncRun | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SyncRun, run_id)

    def set_run_state(self, run_id: int, state: str) -> None:
        with Session(self.engine) as session:
            session.exec(update_rows(SyncRun).where(col(SyncRun.id) == run_id).values(state=state))
            session.commit()

    def finish_run(self, run_id: int, results: Iterable[OrderResult], *, cancelled: bool = False) -> SyncRun:
        counts = {status: 0 for status in SyncStatus}
        for result in results:
            counts[result.status] += 1
        with Session(self.engine, expire_on_commit=False) as session:
            run = session.get(SyncRun, run_id)
            assert run is not None
            run.succeeded = counts[SyncStatus.SUCCESS]
            run.failed = counts[SyncStatus.FAILED]
            run.not_found = counts[SyncStatus.NOT_FOUND]
            run.cancelled = counts[SyncStatus.CANCELLED]
            run.state = "cancelled" if cancelled else "finished"
            run.finished_at = utcnow()
            run.owner, run.lease_until = None, None
            session.add(run)
            session.commit()
            return run

    def acquire_run(self, run_id: int, owner: str, lease: timedelta) -> bool:
        """Take (or renew) the right to execute an unfinished run; False if a live owner has it."""
        with Session(self.engine) as session:
            taken = self._renew_run(session, run_id, owner, lease)
            session.commit()
            return taken == 1

    @staticmethod
    def _renew_run(session: Session, run_id: int, owner: str, lease: timedelta) -> int:
        now = utcnow()
        return session.exec(
            update_rows(SyncRun)
            .where(col(SyncRun.id) == run_id, col(SyncRun.state).in_(("pending", "running")),
                   or_(col(SyncRun.owner).is_(None), col(SyncRun.owner) == owner, col(SyncRun.lease_until) < now))
            .values(owner=owner, lease_until=now + lease, state="running")
        ).rowcount

    def release_run(self, run_id: int, owner: str) -> None:
        with Session(self.engine) as session:
            session.exec(update_rows(SyncRun).where(col(SyncRun.id) == run_id, col(SyncRun.owner) == owner)
                         .values(owner=None, lease_until=None))
            session.commit()

    def orphaned_runs(self) -> list[SyncRun]:
        """Unfinished runs nobody is executing: their owner died, or never started them."""
        now = utcnow()
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(
                select(SyncRun).where(col(SyncRun.state).in_(("pending", "running")),
                                      or_(col(SyncRun.lease_until).is_(None), col(SyncRun.lease_until) < now))
                .order_by(col(SyncRun.id))))

    def request_cancel(self, run_id: int) -> bool:
        """Ask whichever process runs it to stop the run's numbers not yet started."""
        with Session(self.engine) as session:
            res = session.exec(update_rows(SyncRun)
                               .where(col(SyncRun.id) == run_id, col(SyncRun.state).in_(("pending", "running")))
                               .values(cancel_requested=True))
            session.commit()
            return res.rowcount == 1

    def recent_runs(self, limit: int = 20) -> list[SyncRun]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(select(SyncRun).order_by(col(SyncRun.id).desc()).limit(limit)))

    # --- records (the Invoice Sync Log) ---------------------------------------------------

    def add_result(self, run_id: int, result: OrderResult, *, owner: str | None = None,
                   lease: timedelta | None = None) -> bool:
        """Write one input number's outcome: a record per document, or one for the order.

        With ``owner``: only while that process holds the run, renewing its lease for ``lease`` in
        the same transaction; False (nothing written) when another process has taken the run over.
        """
        rows = []
        base = dict(run_id=run_id, number=result.number, salla_order_id=result.salla_order_id,
                    salla_reference=result.salla_reference)
        if not result.documents:
            rows.append(SyncRecord(**base, status=result.status.value, reason=result.reason))
        for doc in result.documents:
            rows.append(SyncRecord(
                **base, salla_invoice_id=doc.salla_invoice_id, salla_invoice_number=doc.salla_invoice_number,
                kind=doc.kind.value if doc.kind else None, status=doc.status.value, reason=doc.reason,
                enerpize_id=doc.enerpize_id, enerpize_number=doc.enerpize_number,
                amount=fmt(doc.total) if doc.total is not None else None, currency=doc.currency,
            ))
        with Session(self.engine) as session:
            if owner is not None:
                if self._renew_run(session, run_id, owner, lease or timedelta(seconds=30)) != 1:
                    session.rollback()
                    return False
            session.connection().execute(_table(SyncRecord).insert(), [_values(row) for row in rows])
            session.commit()
            return True

    def run_records(self, run_id: int) -> list[SyncRecord]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(select(SyncRecord).where(SyncRecord.run_id == run_id)
                                     .order_by(col(SyncRecord.id))))

    def log(self, *, status: str | None = None, limit: int = 50) -> list[SyncRecord]:
        """The Invoice Sync Log, newest first."""
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(SyncRecord)
            if status:
                query = query.where(SyncRecord.status == status)
            return list(session.exec(query.order_by(col(SyncRecord.id).desc()).limit(limit)))

    # --- the ledger: exactly one Enerpize document per Salla invoice -----------------------

    def synced(self, salla_invoice_id: int) -> AlreadySynced | None:
        with Session(self.engine) as session:
            entry = session.get(LedgerEntry, salla_invoice_id)
            if entry is None or entry.state != "synced" or entry.enerpize_id is None:
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
                            po_number=po_number, state="claimed", claim_token=token, claimed_by_run=run_id,
                            lease_until=now + lease)
        with Session(self.engine) as session:
            try:
                session.connection().execute(_table(LedgerEntry).insert(), _values(entry))
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
        if entry.state == "synced" and entry.enerpize_id is not None:
            return AlreadySynced(entry.salla_invoice_id, entry.enerpize_id, entry.enerpize_number,
                                 entry.amount, entry.currency)
        if entry.lease_until is not None and entry.lease_until > now:
            return ClaimBusy(salla_invoice_id, entry.lease_until)
        taken = session.exec(
            update_rows(LedgerEntry)
            .where(col(LedgerEntry.salla_invoice_id) == salla_invoice_id,
                   col(LedgerEntry.claim_token) == entry.claim_token, col(LedgerEntry.state) == "claimed")
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
                         .values(state="synced", claim_token=None, lease_until=None, enerpize_id=enerpize_id,
                                 enerpize_number=enerpize_number, amount=amount, currency=currency,
                                 synced_at=utcnow()))
            session.commit()

    def release_claim(self, claim: Claim) -> None:
        """Give the claim back after a failure that certainly created nothing."""
        with Session(self.engine) as session:
            session.exec(delete_rows(LedgerEntry).where(col(LedgerEntry.salla_invoice_id) == claim.salla_invoice_id,
                                                   col(LedgerEntry.claim_token) == claim.token,
                                                   col(LedgerEntry.state) == "claimed"))
            session.commit()

    def abandon_claim(self, claim: Claim) -> None:
        """The outcome is unknown: keep the row but end its lease, so the next attempt looks first."""
        with Session(self.engine) as session:
            session.exec(update_rows(LedgerEntry)
                         .where(col(LedgerEntry.salla_invoice_id) == claim.salla_invoice_id,
                                col(LedgerEntry.claim_token) == claim.token)
                         .values(lease_until=utcnow()))
            session.commit()

    def synced_invoice_of_order(self, salla_order_id: int) -> str | None:
        """The Enerpize id of the order's first synced tax invoice (a return names it)."""
        with Session(self.engine) as session:
            entry = session.exec(select(LedgerEntry)
                                 .where(LedgerEntry.salla_order_id == salla_order_id,
                                        LedgerEntry.kind == "invoice", LedgerEntry.state == "synced")
                                 .order_by(col(LedgerEntry.salla_invoice_id))).first()
            return entry.enerpize_id if entry else None

    def ledger_count(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(LedgerEntry)
                                .where(LedgerEntry.state == "synced")).one()

    # --- Salla tokens ----------------------------------------------------------------------

    def token_refresh_lock(self, timeout: float | None = TOKEN_REFRESH_WAIT) -> DatabaseLock:
        """The lock that makes a Salla token refresh single-flight across processes.

        ``with store.token_refresh_lock():`` or ``async with store.token_refresh_lock():`` (the
        async form waits in a worker thread). PostgreSQL: ``pg_advisory_lock`` held on a dedicated
        connection; SQLite: ``flock`` on ``<database file>.salla-token-refresh.lock``; neither
        blocks other writers, so ``save_tokens`` works while it is held. Raises ``LockTimeout``
        after ``timeout`` seconds (None waits for ever). After taking it, re-read the row with
        ``load_tokens_row()``: another process may have refreshed meanwhile.
        """
        return DatabaseLock(self.engine, TOKEN_REFRESH_LOCK, timeout=timeout)

    def load_tokens_row(self) -> SallaToken | None:
        """The stored tokens as they are now (no seeding from the environment)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SallaToken, 1)

    def load_tokens(self, env_access: str | None, env_refresh: str | None) -> SallaToken | None:
        """The tokens in force: the stored ones, unless the environment holds newer first tokens."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(SallaToken, 1)
            if env_access and env_refresh:
                seed = _fingerprint(env_access, env_refresh)
                if row is None or row.seeded_from != seed:
                    row = row or SallaToken(id=1, access_token=env_access, refresh_token=env_refresh)
                    row.access_token, row.refresh_token = env_access, env_refresh
                    row.expires_at, row.seeded_from, row.updated_at = None, seed, utcnow()
                    session.add(row)
                    session.commit()
            return row

    def save_tokens(self, access_token: str, refresh_token: str, expires_at: datetime | None) -> None:
        """Both new tokens in one transaction: never one without the other."""
        with Session(self.engine) as session:
            row = session.get(SallaToken, 1)
            if row is None:
                row = SallaToken(id=1, access_token=access_token, refresh_token=refresh_token)
            row.access_token, row.refresh_token = access_token, refresh_token
            row.expires_at, row.updated_at = expires_at, utcnow()
            session.add(row)
            session.commit()
