"""``/salla-sync audit FROM [TO]`` in Slack: the audit in a thread, and its ``Sync N missing`` button.

The command is acked at once; the audit then posts one parent in the channel, a progress reply
while Salla is read, and the summary (counts, the button) with one line per missing invoice. The
button syncs exactly those orders as ordinary runs of the engine (source ``audit``, at most 100
numbers each, one after another), whose results are replies in the same thread; pressing it twice,
or two people at once, starts one sync (a compare-and-set on the audit's row).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import date, datetime, timedelta

from bot.runs import RunWorker
from bot.slack_io import PostedOnce, error_code
from bot.thread_reporter import AUDIT_ORIGIN
from bot.threads import SlackAudit, SlackThread
from bot.ui.audit import (
    DAILY_USER,
    audit_failed,
    audit_parent,
    audit_progress,
    audit_summary,
    daily_failed,
    daily_parent,
    daily_quiet,
    missing_messages,
)
from sync_core.audit import RIYADH, AuditProgress, AuditRange, AuditReport
from sync_core.csv_export import audit_csv
from sync_core.engine import RunBusy, Work
from sync_core.enerpize.lookups import CannotConfirm
from sync_core.http import Unreachable
from sync_core.input_rules import MAX_NUMBERS
from sync_core.salla.client import SallaError
from sync_core.salla.tokens import SallaAuthError
from sync_core.store.tables import RunSource, utcnow

log = logging.getLogger(__name__)


async def run_audit(worker: RunWorker, days: AuditRange, *, user_id: str, channel_id: str) -> int:
    """A person's audit: stored (leased to this process), then its thread posted and filled in."""
    audit = await asyncio.to_thread(worker.threads.add_audit, _new_audit(worker, days, user_id, channel_id))
    assert audit.id is not None
    await continue_audit(worker, audit)
    return audit.id


async def post_daily_audit(worker: RunWorker, day: date, channel_id: str) -> int | None:
    """The audit of ``day`` in ``channel_id``, once whichever process gets here first: a thread
    like a person's audit when something is missing, one quiet line when nothing is. The audit's
    id; None when another process has it (or had it) for that day."""
    audit = await asyncio.to_thread(worker.threads.claim_daily,
                                    _new_audit(worker, AuditRange(day, day), DAILY_USER, channel_id, daily=True))
    if audit is None:
        return None
    assert audit.id is not None
    await continue_audit(worker, audit)
    return audit.id


def _new_audit(worker: RunWorker, days: AuditRange, user_id: str, channel_id: str, *,
               daily: bool = False) -> SlackAudit:
    return SlackAudit(user_id=user_id, channel_id=channel_id, days=str(days), first_day=days.first.isoformat(),
                      last_day=days.last.isoformat(), daily_for=days.first.isoformat() if daily else None,
                      owner=worker.engine.owner, lease_until=utcnow() + worker.engine.lease)


async def resume_audits(worker: RunWorker) -> list[int]:
    """Audits whose process died before their thread was filled in: run again into that thread."""
    taken = await asyncio.to_thread(worker.threads.take_stale_audits, worker.engine.owner,
                                    worker.engine.lease.total_seconds())
    for audit in taken:
        log.info("resuming audit %s", audit.id)
        worker.engine.tasks.spawn(continue_audit(worker, audit, resumed=True), name=f"salla-sync-audit-{audit.id}")
    return [a.id for a in taken if a.id is not None]


async def keep_resuming_audits(worker: RunWorker) -> None:
    """For the life of the process, every third of the lease (``bot.main`` runs it)."""
    while True:
        try:
            await resume_audits(worker)
        except Exception as exc:  # the database is away for a moment: look again later
            log.warning("could not look for audits to resume (%s)", type(exc).__name__)
        await asyncio.sleep(worker.engine.lease.total_seconds() / 3)


async def continue_audit(worker: RunWorker, audit: SlackAudit, *, resumed: bool = False) -> None:
    """Fill the audit's thread in, from where it is (a resumed audit reads Salla again), holding
    its lease; a daily audit posts nothing before it knows whether anything is missing."""
    assert audit.id is not None
    heartbeat = asyncio.create_task(_keep_lease(worker, audit.id))
    try:
        await _fill_in(worker, audit, PostedOnce(worker.out, look_first=resumed, since=audit.created_at))
        await asyncio.to_thread(worker.threads.audit_done, audit.id, worker.engine.owner)
    finally:
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)


async def _keep_lease(worker: RunWorker, audit_id: int) -> None:
    seconds = worker.engine.lease.total_seconds()
    while True:
        await asyncio.sleep(seconds / 3)
        try:
            if not await asyncio.to_thread(worker.threads.renew_audit, audit_id, worker.engine.owner, seconds):
                return
        except Exception as exc:
            log.warning("audit %s: could not renew its lease (%s)", audit_id, type(exc).__name__)


async def _fill_in(worker: RunWorker, audit: SlackAudit, posts: PostedOnce) -> None:
    """Each message under its key (``audit 7 summary``): a resumed audit finds what its dead process
    posted instead of posting it again."""
    out, threads = worker.out, worker.threads
    assert audit.id is not None
    days = AuditRange(date.fromisoformat(audit.first_day), date.fromisoformat(audit.last_day))
    daily = audit.daily_for is not None
    channel_id = audit.channel_id
    parent_ts, summary_ts = audit.parent_ts, audit.summary_ts
    if not daily:
        if parent_ts is None:
            parent_ts = await posts.post(channel_id, _key(audit, "parent"), audit_parent(audit.user_id, audit.days),
                                         joining=True)
            await asyncio.to_thread(threads.set_audit, audit.id, parent_ts=parent_ts)
        if summary_ts is None:
            summary_ts = await posts.post(channel_id, _key(audit, "summary"), audit_progress(AuditProgress()),
                                          thread_ts=parent_ts)
            await asyncio.to_thread(threads.set_audit, audit.id, summary_ts=summary_ts)

    shown = time.monotonic()
    updates: set[asyncio.Task] = set()

    def progress(state: AuditProgress) -> None:
        nonlocal shown
        if summary_ts and time.monotonic() - shown >= worker.tuning.progress_interval and not updates:
            shown = time.monotonic()
            task = asyncio.ensure_future(out.update(channel_id, summary_ts, audit_progress(state)))
            updates.add(task)
            task.add_done_callback(updates.discard)

    try:
        report = await worker.service.audit.run(days, progress=progress)
    except (SallaError, SallaAuthError, Unreachable, CannotConfirm) as exc:
        await asyncio.gather(*updates, return_exceptions=True)
        if summary_ts:
            await out.update(channel_id, summary_ts, audit_failed(str(exc)))
        else:
            await posts.post(channel_id, _key(audit, "failed"), daily_failed(days.first, str(exc)), thread_ts=parent_ts,
                             joining=parent_ts is None)
        return
    await asyncio.gather(*updates, return_exceptions=True)
    automatic = None
    if daily:  # what Salla's webhooks synced that day
        since = datetime.combine(days.first, datetime.min.time(), RIYADH)
        automatic = await asyncio.to_thread(worker.service.store.automatic_counts, since, since + timedelta(days=1))
    if daily and parent_ts is None:
        if not report.missing:
            ts = await posts.post(channel_id, _key(audit, "parent"), daily_quiet(report, automatic), joining=True)
            await asyncio.to_thread(threads.set_audit, audit.id, parent_ts=ts, report=json.dumps(report.to_json()))
            return
        parent_ts = await posts.post(channel_id, _key(audit, "parent"), daily_parent(days.first), joining=True)
        await asyncio.to_thread(threads.set_audit, audit.id, parent_ts=parent_ts)
    assert parent_ts is not None
    await _summarise(worker, audit, report, posts, parent_ts=parent_ts, summary_ts=summary_ts, automatic=automatic)


async def _summarise(worker: RunWorker, audit: SlackAudit, report: AuditReport, posts: PostedOnce, *,
                     parent_ts: str, summary_ts: str | None, automatic: dict[str, int] | None = None) -> None:
    """The summary (a new reply, or the progress message turned into it) and the missing lines."""
    assert audit.id is not None
    out = worker.out
    await asyncio.to_thread(worker.threads.set_audit, audit.id, report=json.dumps(report.to_json()))
    summary = audit_summary(audit.id, audit.user_id, report, automatic=automatic)
    if summary_ts is None:
        summary_ts = await posts.post(audit.channel_id, _key(audit, "summary"), summary, thread_ts=parent_ts)
        await asyncio.to_thread(worker.threads.set_audit, audit.id, summary_ts=summary_ts)
        if _key(audit, "summary") in posts.found_again:
            await out.update(audit.channel_id, summary_ts, summary)
    else:
        await out.update(audit.channel_id, summary_ts, summary)
    for part, message in enumerate(missing_messages(report)):
        await posts.post(audit.channel_id, _key(audit, f"missing {part}"), message, thread_ts=parent_ts)


def _key(audit: SlackAudit, part: str) -> str:
    return f"audit {audit.id} {part}"


async def sync_missing(worker: RunWorker, audit_id: int, user_id: str, notify) -> list[int]:
    """The button: the audit's missing orders, as runs of at most 100, once; their ids."""
    threads = worker.threads
    audit = await asyncio.to_thread(threads.get_audit, audit_id)
    if audit is None or audit.report is None or audit.parent_ts is None:
        await notify("I can't find that audit any more.")
        return []
    report = AuditReport.from_json(json.loads(audit.report))
    numbers = report.numbers_to_sync()
    if not numbers:
        await notify("That audit found nothing missing, so there is nothing to sync.")
        return []
    if not await asyncio.to_thread(threads.claim_audit_sync, audit_id, user_id):
        again = await asyncio.to_thread(threads.get_audit, audit_id)
        await notify(f"<@{again.synced_by if again else 'someone'}> already started syncing the missing orders "
                     f"of audit {audit_id}; the results are in its thread.")
        return []
    runs: list[int] = []
    root: int | None = None
    for start in range(0, len(numbers), MAX_NUMBERS):
        chunk = numbers[start:start + MAX_NUMBERS]

        def thread(run_id: int, root_id: int | None = root) -> list[SlackThread]:
            return [SlackThread(run_id=run_id, root_run_id=root_id or run_id, user_id=user_id, origin=AUDIT_ORIGIN,
                                channel_id=audit.channel_id, parent_ts=audit.parent_ts)]

        run = await worker.engine.submit(Work(RunSource.AUDIT, user_id, chunk, along=thread))
        assert run.id is not None
        root = root or run.id
        runs.append(run.id)
    await asyncio.to_thread(threads.set_audit, audit_id, runs=",".join(map(str, runs)))
    if audit.summary_ts:
        try:
            await worker.out.update(audit.channel_id, audit.summary_ts,
                                    audit_summary(audit_id, audit.user_id, report, synced_by=(user_id, runs)))
        except Exception as exc:
            log.warning("could not take the sync button off audit %s: %s", audit_id, error_code(exc) or exc)
    worker.engine.tasks.spawn(_one_after_another(worker, runs), name=f"salla-sync-audit-{audit_id}")
    return runs


async def download_csv(worker: RunWorker, audit_id: int, user_id: str, notify) -> None:
    """The audit's missing invoices as a CSV file in its thread (UTF-8 with BOM)."""
    audit = await asyncio.to_thread(worker.threads.get_audit, audit_id)
    if audit is None or audit.report is None or audit.parent_ts is None:
        await notify("I can't find that audit any more.")
        return
    report = AuditReport.from_json(json.loads(audit.report))
    await worker.out.call("files_upload_v2", channel=audit.channel_id, thread_ts=audit.parent_ts,
                          file=audit_csv(report), filename=f"salla-sync-audit-{audit_id}.csv",
                          title=f"Audit {audit_id}: Salla invoices of {audit.days} missing from Enerpize")


async def _one_after_another(worker: RunWorker, runs: list[int]) -> None:
    """The audit's runs in turn, each reported in the thread (a run left by a process that dies
    is resumed like any other)."""
    for run_id in runs:
        try:
            await worker.engine.drive(run_id, worker.reporter())
        except RunBusy:
            log.warning("run %s is held by another process; it reports there", run_id)
