"""Where each run's thread lives in Slack, and the one-re-run-per-run guard, in the shared database.

The bot's tables sit beside the core's (same SQLModel metadata, same database). The core does not
know them: the bot names this module as an entry point (``salla_sync.tables`` in pyproject.toml),
where the schema's migrations find it. Which process reports a run, and how far it got, is the
run's own lease and report cursor (``sync_core/store/runs.py``): a thread has no lease of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Column, Text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from sync_core.store.database import delete_rows, update_rows
from sync_core.store.tables import utcnow


class SlackThread(SQLModel, table=True):
    """One run's place in Slack: the parent message, its progress/summary reply, who asked."""

    __tablename__ = "slack_thread"

    run_id: int = Field(primary_key=True, foreign_key="sync_run.id", sa_column_kwargs={"autoincrement": False})
    root_run_id: int = Field(index=True)  # the run whose parent message heads the thread
    user_id: str
    origin: str  # "command" or "home"
    requested_channel: str | None = None  # where the command was typed
    channel_id: str | None = None  # where the thread actually is (may be the user's DM)
    response_url: str | None = None
    parent_ts: str | None = None
    progress_ts: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SlackRerun(SQLModel, table=True):
    """At most one re-run per run: the primary key is the guard, across clicks, users and replicas."""

    __tablename__ = "slack_rerun"

    source_run_id: int = Field(primary_key=True, foreign_key="sync_run.id", sa_column_kwargs={"autoincrement": False})
    requested_by: str
    rerun_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SlackAudit(SQLModel, table=True):
    """An audit asked for in Slack: where its thread is, what it found, and who synced that (once)."""

    __tablename__ = "slack_audit"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str
    channel_id: str
    days: str  # the range as people read it: "2026-11-01 to 2026-11-30"
    first_day: str  # YYYY-MM-DD
    last_day: str
    parent_ts: str | None = None
    summary_ts: str | None = None
    report: str | None = Field(default=None, sa_column=Column(Text))  # AuditReport.to_json()
    synced_by: str | None = None  # who pressed "Sync N missing": the guard, across clicks and replicas
    runs: str | None = None  # the runs that sync them, comma-separated
    daily_for: str | None = Field(default=None, unique=True)  # the day of a daily audit: one post a day, whoever posts it
    # The process filling the thread in, until when (renewed while it works); NULL once it is done.
    # A process that dies leaves the lease to run out; another then re-runs the audit into the thread.
    owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SlackAlert(SQLModel, table=True):
    """An order an automatic sync left Failed, posted in the alerts channel: one open alert an order
    (failing again edits it), resolved by whoever retried it successfully."""

    __tablename__ = "slack_alert"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(index=True)  # the order as synced (its internal id) or typed
    reference: str | None = None  # the number a merchant reads, when Salla told it
    channel_id: str
    ts: str | None = None  # the alert message (None until Slack took it)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    run_id: int  # the run that left it Failed last
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ThreadStore:
    """Short synchronous queries; callers run them through ``asyncio.to_thread``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, thread: SQLModel):
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(thread)
            session.commit()
            return thread

    def get(self, run_id: int) -> SlackThread | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SlackThread, run_id)

    def set(self, run_id: int, **values: object) -> None:
        with Session(self.engine) as session:
            session.exec(update_rows(SlackThread).where(col(SlackThread.run_id) == run_id).values(**values))
            session.commit()

    def of_runs(self, run_ids: Iterable[int]) -> dict[int, SlackThread]:
        """The threads of these runs (those that have one), by run id: one query."""
        ids = sorted(set(run_ids))
        with Session(self.engine, expire_on_commit=False) as session:
            return {t.run_id: t for t in session.exec(select(SlackThread).where(col(SlackThread.run_id).in_(ids)))}

    def chain(self, root_run_id: int) -> list[SlackThread]:
        """The thread's runs, the root first, then its re-runs in the order they started."""
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(select(SlackThread).where(SlackThread.root_run_id == root_run_id)
                                     .order_by(col(SlackThread.run_id))))

    def add_audit(self, audit: SlackAudit) -> SlackAudit:
        return self.add(audit)

    def get_audit(self, audit_id: int) -> SlackAudit | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SlackAudit, audit_id)

    def audit_at(self, channel_id: str, parent_ts: str) -> SlackAudit | None:
        """The audit whose thread this is (its runs answer there too)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(select(SlackAudit).where(SlackAudit.channel_id == channel_id,
                                                         SlackAudit.parent_ts == parent_ts)).first()

    def set_audit(self, audit_id: int, **values: object) -> None:
        with Session(self.engine) as session:
            session.exec(update_rows(SlackAudit).where(col(SlackAudit.id) == audit_id).values(**values))
            session.commit()

    def claim_daily(self, audit: SlackAudit) -> SlackAudit | None:
        """Store the day's daily audit; None when another process stored it first (it posts it)."""
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(audit)
            try:
                session.commit()
                return audit
            except IntegrityError:
                session.rollback()
                return None

    def renew_audit(self, audit_id: int, owner: str, seconds: float) -> bool:
        with Session(self.engine) as session:
            renewed = session.exec(update_rows(SlackAudit)
                                   .where(col(SlackAudit.id) == audit_id, col(SlackAudit.owner) == owner,
                                          col(SlackAudit.lease_until).is_not(None))
                                   .values(lease_until=utcnow() + timedelta(seconds=seconds))).rowcount
            session.commit()
            return renewed == 1

    def audit_done(self, audit_id: int, owner: str) -> None:
        with Session(self.engine) as session:
            session.exec(update_rows(SlackAudit).where(col(SlackAudit.id) == audit_id, col(SlackAudit.owner) == owner)
                         .values(owner=None, lease_until=None))
            session.commit()

    def take_stale_audits(self, owner: str, seconds: float) -> list[SlackAudit]:
        """Audits whose process died before filling their thread in, each taken by one process."""
        now = utcnow()
        taken = []
        with Session(self.engine, expire_on_commit=False) as session:
            stale = session.exec(select(SlackAudit).where(col(SlackAudit.lease_until).is_not(None),
                                                          col(SlackAudit.lease_until) < now)).all()
            for audit in stale:
                won = session.exec(update_rows(SlackAudit)
                                   .where(col(SlackAudit.id) == audit.id,
                                          col(SlackAudit.lease_until) == audit.lease_until)
                                   .values(owner=owner, lease_until=now + timedelta(seconds=seconds))).rowcount
                session.commit()
                if won == 1:
                    taken.append(audit)
        return taken

    def open_alert(self, number: str) -> SlackAlert | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(select(SlackAlert).where(SlackAlert.number == number,
                                                         col(SlackAlert.resolved_at).is_(None))
                                .order_by(col(SlackAlert.id).desc())).first()

    def get_alert(self, alert_id: int) -> SlackAlert | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SlackAlert, alert_id)

    def set_alert(self, alert_id: int, **values: object) -> None:
        with Session(self.engine) as session:
            session.exec(update_rows(SlackAlert).where(col(SlackAlert.id) == alert_id).values(**values))
            session.commit()

    def claim_audit_sync(self, audit_id: int, user_id: str) -> bool:
        """Take the right to sync the audit's missing orders; False if someone took it first."""
        with Session(self.engine) as session:
            taken = session.exec(update_rows(SlackAudit)
                                 .where(col(SlackAudit.id) == audit_id, col(SlackAudit.synced_by).is_(None))
                                 .values(synced_by=user_id)).rowcount
            session.commit()
            return taken == 1

    def claim_rerun(self, source_run_id: int, user_id: str) -> SlackRerun | None:
        """Take the right to re-run ``source_run_id``; None (and the holder stays) if it was taken."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = SlackRerun(source_run_id=source_run_id, requested_by=user_id)
            session.add(row)
            try:
                session.commit()
                return row
            except IntegrityError:
                session.rollback()
                return None

    def release_rerun(self, source_run_id: int) -> None:
        """Give the claim back when the re-run could not even be stored."""
        with Session(self.engine) as session:
            session.exec(delete_rows(SlackRerun).where(col(SlackRerun.source_run_id) == source_run_id,
                                                  col(SlackRerun.rerun_id).is_(None)))
            session.commit()

    def rerun_of(self, source_run_id: int) -> SlackRerun | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SlackRerun, source_run_id)

    def set_rerun(self, source_run_id: int, rerun_id: int) -> None:
        with Session(self.engine) as session:
            session.exec(update_rows(SlackRerun).where(col(SlackRerun.source_run_id) == source_run_id)
                         .values(rerun_id=rerun_id))
            session.commit()
