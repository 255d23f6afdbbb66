"""Where each run's thread lives in Slack, and the one-re-run-per-run guard, in the shared database.

The bot's tables sit beside the core's (same SQLModel metadata, same database); their schema is
versioned with the core's migrations (``sync_core/store/migrations``, which import this module).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Index, and_, not_, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from sync_core.store.store import delete_rows, update_rows
from sync_core.store.tables import SyncRun, utcnow


class SlackThread(SQLModel, table=True):
    """One run's place in Slack: the parent message, its progress/summary reply, who asked."""

    __tablename__ = "slack_thread"
    # Every replica looks for threads whose driver is gone every few seconds (take_over_stale):
    # only the few not yet reported have a lease, so the index holds just those.
    __table_args__ = (Index("ix_slack_thread_open_lease", "lease_until",
                            sqlite_where=text("lease_until IS NOT NULL"),
                            postgresql_where=text("lease_until IS NOT NULL")),)

    run_id: int = Field(primary_key=True, foreign_key="sync_run.id", sa_column_kwargs={"autoincrement": False})
    root_run_id: int = Field(index=True)  # the run whose parent message heads the thread
    user_id: str
    origin: str  # "command" or "home"
    requested_channel: str | None = None  # where the command was typed
    channel_id: str | None = None  # where the thread actually is (may be the user's DM)
    response_url: str | None = None
    parent_ts: str | None = None
    progress_ts: str | None = None
    cancel_requested_by: str | None = None
    # Renewed by the process driving the thread; once it is over, another process resumes the run.
    # NULL once everything is reported (results, summary, totals): nothing left to resume.
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SlackRerun(SQLModel, table=True):
    """At most one re-run per run: the primary key is the guard, across clicks, users and replicas."""

    __tablename__ = "slack_rerun"

    source_run_id: int = Field(primary_key=True, foreign_key="sync_run.id", sa_column_kwargs={"autoincrement": False})
    requested_by: str
    rerun_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ThreadStore:
    """Short synchronous queries; callers run them through ``asyncio.to_thread``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, thread: SlackThread) -> SlackThread:
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

    def chain(self, root_run_id: int) -> list[SlackThread]:
        """The thread's runs, the root first, then its re-runs in the order they started."""
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(select(SlackThread).where(SlackThread.root_run_id == root_run_id)
                                     .order_by(col(SlackThread.run_id))))

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

    # --- leases: which process drives a run --------------------------------------------------

    def renew_lease(self, run_id: int, seconds: float, held: datetime | None = None) -> datetime | None:
        """Keep the thread ours a while longer; the new end of the lease, or None when it is not ours
        any more. ``held``: the lease as we last set it (compare-and-set: a lease another process
        took over is left alone). Never revives the lease of a reported thread."""
        until = utcnow() + timedelta(seconds=seconds)
        condition = [col(SlackThread.run_id) == run_id, col(SlackThread.lease_until).is_not(None)]
        if held is not None:
            condition.append(col(SlackThread.lease_until) == held)
        with Session(self.engine) as session:
            result = session.exec(update_rows(SlackThread).where(*condition).values(lease_until=until))
            session.commit()
        return until if result.rowcount == 1 else None

    def reported(self, run_id: int) -> None:
        """Everything about the run is in Slack: it is never resumed."""
        self.set(run_id, lease_until=None)

    def take_over_stale(self, seconds: float, *, exclude: Iterable[int] = ()) -> list[tuple[int, datetime]]:
        """Threads not yet reported whose driver is gone, taken with a compare-and-set on the lease
        so only one process resumes each: (run id, the lease now held) pairs.

        Gone means the thread's lease ran out and so did the run's (or the run is over): a run some
        live process still executes is left to it. One query when there is nothing to take.
        ``exclude``: runs this process drives already.
        """
        now = utcnow()
        run_live = and_(col(SyncRun.state).in_(("pending", "running")), col(SyncRun.lease_until).is_not(None),
                        col(SyncRun.lease_until) >= now)
        taken = []
        skip = set(exclude)
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.exec(
                select(SlackThread.run_id, SlackThread.lease_until)
                .join(SyncRun, col(SyncRun.id) == col(SlackThread.run_id))
                .where(col(SlackThread.lease_until).is_not(None), col(SlackThread.lease_until) < now,
                       not_(run_live))
                .order_by(col(SlackThread.run_id))).all()
            for run_id, lease in rows:
                if run_id in skip:
                    continue
                until = utcnow() + timedelta(seconds=seconds)
                result = session.exec(
                    update_rows(SlackThread)
                    .where(col(SlackThread.run_id) == run_id, col(SlackThread.lease_until) == lease)
                    .values(lease_until=until))
                session.commit()
                if result.rowcount == 1:
                    taken.append((run_id, until))
        return taken
