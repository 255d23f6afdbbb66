"""The tables. Money is kept as text ("310.50") so it stays exact on every backend.

Salla's ids are BIGINT: they already pass 1.4 billion, close to PostgreSQL's INTEGER limit.
A change here needs a migration (``salla-sync db revision``); see ``sync_core/store/schema.py``.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """A stored time as UTC: SQLite gives it back without its zone, PostgreSQL with it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class RunState(str, enum.Enum):
    """Where a run's sync is; whether it is reported too is ``SyncRun.reported_at``."""

    PENDING = "pending"  # stored, no number started
    RUNNING = "running"
    FINISHED = "finished"  # every number has its result
    CANCELLED = "cancelled"  # stopped on request: the numbers not started are ``Cancelled``


class RunSource(str, enum.Enum):
    """What started a run (its results are reported back there)."""

    SLACK = "slack"  # the modal, the App Home button, a re-run button
    CLI = "cli"  # ``salla-sync sync`` / ``retry``
    DEMO = "demo"
    AUDIT = "audit"
    WEBHOOK = "webhook"


class LedgerState(str, enum.Enum):
    CLAIMED = "claimed"  # an attempt is creating the document (the claim is taken before Enerpize is called)
    SYNCED = "synced"  # the document exists


class SyncRun(SQLModel, table=True):
    """One sync operation: who asked, from where, what they entered, and how it ended.

    One process at a time owns a run, from when it is stored until its results are reported
    (``owner`` until ``lease_until``, renewed while it works); another takes it over only after.
    """

    __tablename__ = "sync_run"
    # Every process looks for runs to resume every few seconds: only the few not yet reported are
    # in this index.
    __table_args__ = (Index("ix_sync_run_unreported", "lease_until",
                            sqlite_where=text("reported_at IS NULL"), postgresql_where=text("reported_at IS NULL")),)

    id: int | None = Field(default=None, primary_key=True)
    requested_by: str
    source: str  # a RunSource
    numbers: str = Field(sa_column=Column(Text, nullable=False))  # the input numbers, one a line
    state: str = RunState.PENDING.value  # a RunState
    retry_of: int | None = Field(default=None, foreign_key="sync_run.id", index=True)
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    not_found: int = 0
    cancelled: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    # Which process is executing the run, until when; another takes over once the lease is over.
    owner: str | None = None
    lease_until: datetime | None = None
    cancel_requested: bool = False
    cancel_requested_by: str | None = None
    # How far the report got (its reporter's unit: result messages in a Slack thread), and when it
    # was complete: a run resumed half-reported goes on from there, and a reported one never again.
    report_cursor: int = 0
    reported_at: datetime | None = None

    @property
    def number_list(self) -> list[str]:
        return [n for n in self.numbers.split("\n") if n]


class SyncRecord(SQLModel, table=True):
    """A row of the Invoice Sync Log: one per input number and document."""

    __tablename__ = "sync_record"
    __table_args__ = (Index("ix_sync_record_run_number", "run_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="sync_run.id")
    number: str  # as entered (normalised)
    salla_order_id: int | None = Field(default=None, index=True, sa_type=BigInteger)
    salla_reference: int | None = Field(default=None, sa_type=BigInteger)
    salla_invoice_id: int | None = Field(default=None, index=True, sa_type=BigInteger)
    salla_invoice_number: str | None = None
    kind: str | None = None  # invoice, return
    status: str = Field(index=True)  # Success, Failed, Record not found, Cancelled
    reason: str | None = Field(default=None, sa_column=Column(Text))
    enerpize_id: str | None = None
    enerpize_number: str | None = None
    amount: str | None = None
    currency: str | None = None
    already_synced: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)


class LedgerEntry(SQLModel, table=True):
    """Which Enerpize document a Salla invoice became. At most one row per Salla invoice.

    ``state`` is "claimed" while an attempt is creating the document (the claim is taken before
    Enerpize is called) and "synced" once the document exists.
    """

    __tablename__ = "ledger"

    salla_invoice_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    salla_order_id: int = Field(index=True, sa_type=BigInteger)
    kind: str
    po_number: str
    state: str = LedgerState.CLAIMED.value  # a LedgerState
    claim_token: str | None = None
    claimed_by_run: int | None = None
    lease_until: datetime | None = None
    enerpize_id: str | None = None
    enerpize_number: str | None = None
    amount: str | None = None
    currency: str | None = None
    synced_at: datetime | None = None


class SallaToken(SQLModel, table=True):
    """The Salla tokens in force; refreshed ones win over the environment's first tokens."""

    __tablename__ = "salla_token"

    id: int = Field(default=1, primary_key=True)
    access_token: str
    refresh_token: str
    expires_at: datetime | None = None
    seeded_from: str | None = None  # fingerprint of the env tokens this row started from
    updated_at: datetime = Field(default_factory=utcnow)


class EnerpizeIdMapping(SQLModel, table=True):
    """An Enerpize record the sync found or created, by the key it is looked up with: a client by
    its ``client_number`` (``salla-<customer id>``), a product by its SKU. Per tenant (the api2
    URL), so a warm tenant needs no look-up of either, even after a restart."""

    __tablename__ = "enerpize_id_map"

    tenant: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)  # "client" or "product"
    key: str = Field(primary_key=True)
    enerpize_id: str
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookEvent(SQLModel, table=True):
    """An event Salla delivered, stored before it is answered: once per (merchant, event, data id),
    however often Salla retries it. ``run_id`` is the engine run that syncs its order."""

    __tablename__ = "webhook_event"
    __table_args__ = (UniqueConstraint("merchant", "event", "data_id"),)

    id: int | None = Field(default=None, primary_key=True)
    merchant: str
    event: str
    data_id: str
    order_id: int | None = Field(default=None, index=True, sa_type=BigInteger)  # the order to sync (None: nothing to sync)
    # The document kind the event is about: invoice.created's invoice ("invoice", "return"), or
    # what an order.status.updated makes (completed: "invoice", restored: "return"); None: unknown.
    kind: str | None = None
    # The delivery as received (its data: invoice.created's invoice with its items and customer,
    # order.status.updated's order); what it carried is used instead of reading Salla where safe.
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(default_factory=utcnow)
    claimed_by: str | None = None  # the process turning it into a run, until claimed_until
    claimed_until: datetime | None = None
    run_id: int | None = Field(default=None, index=True)
