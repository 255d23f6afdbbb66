"""Runs and their one lease.

A run is leased to one process from the moment it is stored until everything about it is
reported (its results synced, then told to whoever asked): one owner, one lease, one heartbeat.
Another process takes a run over only once its lease ran out; the report's progress is kept in the
run's row (``report_cursor``), so a run taken over half-reported goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import Session, SQLModel, col, select

from sync_core.results import OrderResult, SyncStatus
from sync_core.store.database import insert_values, table_of, update_rows
from sync_core.store.tables import RunSource, RunState, SyncRun, utcnow

ACTIVE = (RunState.PENDING.value, RunState.RUNNING.value)  # still syncing


@dataclass(frozen=True)
class NewRun:
    """A run to store: its numbers, who asked, from where, and rows stored with it (``along``)."""

    numbers: list[str]
    requested_by: str
    source: RunSource | str
    retry_of: int | None = None
    along: Callable[[int], Iterable[SQLModel]] | None = None


class RunLog:
    """The store's runs (mixed into ``Store``: ``self.engine``, ``self.intake_engine``)."""

    def create_runs(self, new_runs: Sequence[NewRun], *, owner: str | None = None,
                    lease: timedelta | None = None) -> list[SyncRun]:
        """Store several runs (each with its ``along`` rows) in one transaction: one commit for a
        burst of submissions. With ``owner``, each is leased to that process from the start, so no
        other process resumes it before its owner starts it. Plain Core inserts with bound
        parameters: the ORM's unit of work costs several times the CPU, on the path that answers Slack."""
        runs = []
        lease_until = utcnow() + lease if owner is not None and lease is not None else None
        with Session(self.intake_engine) as session:
            connection = session.connection()
            for new in new_runs:
                run = SyncRun(requested_by=new.requested_by, source=RunSource(new.source).value,
                              numbers="\n".join(new.numbers), total=len(new.numbers), retry_of=new.retry_of,
                              owner=owner if lease_until else None, lease_until=lease_until)
                run.id = connection.execute(table_of(SyncRun).insert(), insert_values(run)).inserted_primary_key[0]
                for row in new.along(run.id) if new.along is not None else ():
                    connection.execute(table_of(type(row)).insert(), insert_values(row))
                runs.append(run)
            session.commit()
        return runs

    def get_run(self, run_id: int) -> SyncRun | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(SyncRun, run_id)

    def recent_runs(self, limit: int = 20) -> list[SyncRun]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(select(SyncRun).order_by(col(SyncRun.id).desc()).limit(limit)))

    # --- the lease ----------------------------------------------------------------------------

    def acquire_run(self, run_id: int, owner: str, lease: timedelta) -> bool:
        """Take (or renew) the run for ``owner`` until everything about it is reported; False when
        a live process holds it, or nothing is left to do."""
        now = utcnow()
        with Session(self.engine) as session:
            taken = session.exec(
                update_rows(SyncRun)
                .where(col(SyncRun.id) == run_id, col(SyncRun.reported_at).is_(None),
                       or_(col(SyncRun.owner).is_(None), col(SyncRun.owner) == owner,
                           col(SyncRun.lease_until).is_(None), col(SyncRun.lease_until) < now))
                .values(owner=owner, lease_until=now + lease)).rowcount
            session.commit()
            return taken == 1

    def renew_run(self, run_id: int, owner: str, lease: timedelta) -> SyncRun | None:
        """Renew the lease ``owner`` holds; the run as it is now (a cancel asked for elsewhere shows
        there), or None when the lease is not ``owner``'s any more."""
        with Session(self.engine, expire_on_commit=False) as session:
            renewed = self._renew(session, run_id, owner, lease)
            session.commit()
            return session.get(SyncRun, run_id) if renewed else None

    @staticmethod
    def _renew(session: Session, run_id: int, owner: str, lease: timedelta, **values: object) -> bool:
        return session.exec(
            update_rows(SyncRun)
            .where(col(SyncRun.id) == run_id, col(SyncRun.owner) == owner, col(SyncRun.reported_at).is_(None))
            .values(lease_until=utcnow() + lease, **values)).rowcount == 1

    def start_run(self, run_id: int, owner: str, lease: timedelta) -> bool:
        """The owner begins syncing the run's numbers (pending -> running)."""
        with Session(self.engine) as session:
            started = self._renew(session, run_id, owner, lease)
            if started:
                session.exec(update_rows(SyncRun).where(col(SyncRun.id) == run_id,
                                                        col(SyncRun.state) == RunState.PENDING.value)
                             .values(state=RunState.RUNNING.value))
            session.commit()
            return started

    def finish_run(self, run_id: int, owner: str, results: Iterable[OrderResult], *,
                   cancelled: bool = False) -> SyncRun | None:
        """Every number has its result: the run's counts and end, under ``owner``'s lease (kept: the
        results are still to be reported). None when the lease is not ``owner``'s any more."""
        counts = {status: 0 for status in SyncStatus}
        for result in results:
            counts[result.status] += 1
        now = utcnow()
        with Session(self.engine, expire_on_commit=False) as session:
            done = session.exec(
                update_rows(SyncRun)
                .where(col(SyncRun.id) == run_id, col(SyncRun.owner) == owner, col(SyncRun.state).in_(ACTIVE))
                .values(succeeded=counts[SyncStatus.SUCCESS], failed=counts[SyncStatus.FAILED],
                        not_found=counts[SyncStatus.NOT_FOUND], cancelled=counts[SyncStatus.CANCELLED],
                        state=(RunState.CANCELLED if cancelled else RunState.FINISHED).value,
                        finished_at=now)).rowcount
            session.commit()
            return session.get(SyncRun, run_id) if done == 1 else None

    def advance_report(self, run_id: int, owner: str, cursor: int, lease: timedelta) -> bool:
        """Record how far the run's report got (and renew the lease); False when not ``owner``'s."""
        with Session(self.engine) as session:
            moved = self._renew(session, run_id, owner, lease, report_cursor=cursor)
            session.commit()
            return moved

    def mark_reported(self, run_id: int, owner: str) -> bool:
        """Everything about the run is reported: it is never resumed, and its lease ends."""
        with Session(self.engine) as session:
            done = session.exec(
                update_rows(SyncRun)
                .where(col(SyncRun.id) == run_id, col(SyncRun.owner) == owner, col(SyncRun.reported_at).is_(None))
                .values(reported_at=utcnow(), owner=None, lease_until=None)).rowcount
            session.commit()
            return done == 1

    def orphaned_runs(self, sources: Collection[RunSource] | None = None) -> list[SyncRun]:
        """Runs not yet reported whose lease ran out (their owner died, or stalled), oldest first;
        only those of ``sources`` when given."""
        now = utcnow()
        query = select(SyncRun).where(col(SyncRun.reported_at).is_(None),
                                      or_(col(SyncRun.lease_until).is_(None), col(SyncRun.lease_until) < now))
        if sources is not None:
            query = query.where(col(SyncRun.source).in_([RunSource(s).value for s in sources]))
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(query.order_by(col(SyncRun.id))))

    def request_cancel(self, run_id: int, by: str | None = None) -> bool:
        """Ask whichever process runs it to stop the run's numbers not yet started; the first to ask
        is the one named. False when the run is not syncing any more."""
        with Session(self.engine) as session:
            res = session.exec(update_rows(SyncRun)
                               .where(col(SyncRun.id) == run_id, col(SyncRun.state).in_(ACTIVE))
                               .values(cancel_requested=True))
            if res.rowcount == 1 and by is not None:
                session.exec(update_rows(SyncRun)
                             .where(col(SyncRun.id) == run_id, col(SyncRun.cancel_requested_by).is_(None))
                             .values(cancel_requested_by=by))
            session.commit()
            return res.rowcount == 1
