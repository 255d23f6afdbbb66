"""The Invoice Sync Log: one record per input number and document, written by the run's owner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from sync_core.money import fmt, parse_amount
from sync_core.results import DocumentResult, OrderResult, SyncStatus
from sync_core.salla.models import DocumentKind
from sync_core.store.database import insert_values, table_of
from sync_core.store.tables import RunSource, SyncRecord, SyncRun


def records_of(run_id: int, result: OrderResult) -> list[SyncRecord]:
    """The log's rows for one number: one per document, or one for the order when it has none."""
    base = dict(run_id=run_id, number=result.number, salla_order_id=result.salla_order_id,
                salla_reference=result.salla_reference)
    if not result.documents:
        return [SyncRecord(**base, status=result.status.value, reason=result.reason)]
    return [SyncRecord(**base, salla_invoice_id=doc.salla_invoice_id, salla_invoice_number=doc.salla_invoice_number,
                       kind=doc.kind.value if doc.kind else None, status=doc.status.value, reason=doc.reason,
                       enerpize_id=doc.enerpize_id, enerpize_number=doc.enerpize_number,
                       amount=fmt(doc.total) if doc.total is not None else None, currency=doc.currency,
                       already_synced=doc.already_synced)
            for doc in result.documents]


def results_of(numbers: Sequence[str], records: Sequence[SyncRecord]) -> list[OrderResult]:
    """The results of a run's numbers that have any, in input order, from its log rows."""
    by_number: dict[str, list[SyncRecord]] = {}
    for record in records:
        by_number.setdefault(record.number, []).append(record)
    results = []
    for number in numbers:
        rows = by_number.get(number)
        if not rows:
            continue
        docs = tuple(
            DocumentResult(kind=DocumentKind(r.kind) if r.kind else None, status=SyncStatus(r.status),
                           salla_invoice_id=r.salla_invoice_id, salla_invoice_number=r.salla_invoice_number,
                           enerpize_id=r.enerpize_id, enerpize_number=r.enerpize_number,
                           total=parse_amount(r.amount) if r.amount else None, currency=r.currency,
                           reason=r.reason, already_synced=r.already_synced)
            for r in rows if r.salla_invoice_id is not None)
        status = OrderResult.overall(docs) if docs else SyncStatus(rows[0].status)
        results.append(OrderResult(number=number, status=status, reason=None if docs else rows[0].reason,
                                   salla_order_id=rows[0].salla_order_id, salla_reference=rows[0].salla_reference,
                                   documents=docs))
    return results


class RecordLog:
    """The store's records (mixed into ``Store``, beside ``RunLog``)."""

    def add_result(self, run_id: int, result: OrderResult, *, owner: str, lease: timedelta) -> bool:
        """Write one number's outcome, only while ``owner`` holds the run, renewing its lease in the
        same transaction; False (nothing written) when another process has taken the run over."""
        rows = records_of(run_id, result)
        with Session(self.engine) as session:
            if not self._renew(session, run_id, owner, lease):
                session.rollback()
                return False
            session.connection().execute(table_of(SyncRecord).insert(), [insert_values(row) for row in rows])
            session.commit()
            return True

    def run_records(self, run_id: int) -> list[SyncRecord]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(select(SyncRecord).where(SyncRecord.run_id == run_id)
                                     .order_by(col(SyncRecord.id))))

    def run_results(self, run_id: int) -> list[OrderResult]:
        """The run's results so far, in input order."""
        run = self.get_run(run_id)
        return results_of(run.number_list, self.run_records(run_id)) if run is not None else []

    def log(self, *, status: str | None = None, limit: int | None = 50, since: datetime | None = None,
            until: datetime | None = None, requested_by: str | None = None, offset: int = 0) -> list[SyncRecord]:
        """The Invoice Sync Log, newest first; ``since``/``until``: written in [since, until);
        ``requested_by``: of the runs this person asked for; ``offset``: rows skipped (paging)."""
        with Session(self.engine, expire_on_commit=False) as session:
            query = self._logged(select(SyncRecord), since, until, requested_by)
            if status:
                query = query.where(SyncRecord.status == status)
            query = query.order_by(col(SyncRecord.id).desc()).offset(offset)
            return list(session.exec(query.limit(limit) if limit is not None else query))

    def log_counts(self, *, since: datetime | None = None, until: datetime | None = None,
                   requested_by: str | None = None) -> dict[str, int]:
        """How many rows of the log have each status, in the range (and of the person) asked for."""
        with Session(self.engine) as session:
            query = self._logged(select(SyncRecord.status, func.count()), since, until, requested_by)
            return dict(session.exec(query.group_by(SyncRecord.status)).all())

    def automatic_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """Orders synced automatically (from Salla's webhooks) in [since, until), by final status."""
        with Session(self.engine) as session:
            query = (select(SyncRecord.status, func.count(func.distinct(SyncRecord.number)))
                     .join(SyncRun, col(SyncRun.id) == col(SyncRecord.run_id))
                     .where(SyncRun.source == RunSource.WEBHOOK.value, col(SyncRecord.created_at) >= since,
                            col(SyncRecord.created_at) < until)
                     .group_by(SyncRecord.status))
            return dict(session.exec(query).all())

    @staticmethod
    def _logged(query, since: datetime | None, until: datetime | None, requested_by: str | None):
        if since is not None:
            query = query.where(col(SyncRecord.created_at) >= since)
        if until is not None:
            query = query.where(col(SyncRecord.created_at) < until)
        if requested_by:
            query = query.join(SyncRun, col(SyncRun.id) == col(SyncRecord.run_id)).where(
                SyncRun.requested_by == requested_by)
        return query

    def runs_of(self, records: Sequence[SyncRecord]) -> dict[int, SyncRun]:
        """The runs these records belong to, by id (who asked for each)."""
        ids = sorted({r.run_id for r in records})
        with Session(self.engine, expire_on_commit=False) as session:
            return {run.id: run for start in range(0, len(ids), 500)
                    for run in session.exec(select(SyncRun).where(col(SyncRun.id).in_(ids[start:start + 500])))}
