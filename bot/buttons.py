"""What the thread's buttons do: Cancel (while the run syncs) and "Re-run failed (N)" (once it is done)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.runs import RunWorker
from bot.slack_io import error_code
from bot.thread_reporter import run_duration
from bot.threads import SlackThread
from bot.ui.thread import summary_message
from sync_core.csv_export import records_csv
from sync_core.engine import Work
from sync_core.store.runs import ACTIVE
from sync_core.store.tables import RunSource, RunState

log = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[Any]]


async def cancel(worker: RunWorker, run_id: int, user_id: str, notify: Notify) -> None:
    """Stop the run's numbers not yet started, wherever the run is driven (the run's owner notices)."""
    store = worker.service.store
    run = await asyncio.to_thread(store.get_run, run_id)
    thread = await asyncio.to_thread(worker.threads.get, run_id)
    if run is None or thread is None:
        await notify("I can't find that sync any more.")
        return
    if run.state not in ACTIVE or not await worker.engine.cancel(run_id, by=user_id):
        await notify("That sync has already finished; there is nothing left to cancel.")


async def download_csv(worker: RunWorker, run_id: int, user_id: str, notify: Notify) -> None:
    """The run's rows as a CSV file in its thread (UTF-8 with BOM: Excel opens Arabic right)."""
    store = worker.service.store
    thread = await asyncio.to_thread(worker.threads.get, run_id)
    if thread is None or thread.channel_id is None or thread.parent_ts is None:
        await notify("I can't find that sync any more.")
        return
    records = await asyncio.to_thread(store.run_records, run_id)
    runs = await asyncio.to_thread(store.runs_of, records)
    await worker.out.call("files_upload_v2", channel=thread.channel_id, thread_ts=thread.parent_ts,
                          file=records_csv(records, runs), filename=f"salla-sync-run-{run_id}.csv",
                          title=f"Run {run_id}: one row per number and document")


async def rerun(worker: RunWorker, source_run_id: int, user_id: str, notify: Notify) -> int | None:
    """Re-run the source run's failed numbers once, as a linked run answered in the same thread."""
    store, threads = worker.service.store, worker.threads
    source = await asyncio.to_thread(threads.get, source_run_id)
    source_run = await asyncio.to_thread(store.get_run, source_run_id)
    if source is None or source_run is None or source.parent_ts is None:
        await notify("I can't find that sync any more.")
        return None
    if source_run.state in ACTIVE:
        await notify("That sync is still running; re-run its failures when it is done.")
        return None
    numbers = await worker.engine.failed_numbers(source_run_id)
    if not numbers:
        await notify(f"Nothing failed in run {source_run_id}, so there is nothing to re-run.")
        return None
    claim = await asyncio.to_thread(threads.claim_rerun, source_run_id, user_id)
    if claim is None:
        earlier = await asyncio.to_thread(threads.rerun_of, source_run_id)
        who = f"<@{earlier.requested_by}>" if earlier else "Someone"
        which = f" (run {earlier.rerun_id})" if earlier and earlier.rerun_id else ""
        await notify(f"{who} already re-ran the failed orders of run {source_run_id}{which}; "
                     "the results are in the thread.")
        return None

    def thread(run_id: int) -> list[SlackThread]:
        return [SlackThread(run_id=run_id, root_run_id=source.root_run_id, user_id=user_id, origin=source.origin,
                            requested_channel=source.requested_channel, channel_id=source.channel_id,
                            parent_ts=source.parent_ts)]

    try:
        run = await worker.engine.submit(Work(RunSource.SLACK, user_id, numbers, retry_of=source_run_id, along=thread))
    except Exception:
        await asyncio.to_thread(threads.release_rerun, source_run_id)  # so the button works again
        raise
    assert run.id is not None
    await asyncio.to_thread(threads.set_rerun, source_run_id, run.id)
    if source.progress_ts and source.channel_id:  # the old summary loses its button
        try:
            results = await asyncio.to_thread(store.run_results, source_run_id)
            cancelled_by = source_run.cancel_requested_by if source_run.state == RunState.CANCELLED.value else None
            await worker.out.update(source.channel_id, source.progress_ts, summary_message(
                source_run_id, source.user_id, results, retry_of=source_run.retry_of, cancelled_by=cancelled_by,
                duration=run_duration(source_run), rerun=(user_id, run.id)))
        except Exception as exc:
            log.warning("could not take the re-run button off run %s: %s", source_run_id,
                        error_code(exc) or type(exc).__name__)
    worker.launch(run.id)
    return run.id
