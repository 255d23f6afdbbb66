"""The store: runs and their records, the exactly-once ledger, and the Salla tokens, in one SQL
database. Each part is a module of its own (``runs``, ``records``, ``ledger``, ``tokens``); ``Store``
is them over one engine.

Methods are synchronous and short; async callers run them through ``asyncio.to_thread`` so the
event loop never waits on the database.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sync_core.store.database import make_engine
from sync_core.store.gate import TransactionGate
from sync_core.store.ledger import CLAIM_LEASE, Ledger
from sync_core.store.locks import sqlite_file
from sync_core.store.records import RecordLog
from sync_core.store.runs import RunLog
from sync_core.store.schema import ensure_schema
from sync_core.store.tokens import TokenStore


class Store(RunLog, RecordLog, Ledger, TokenStore):
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
