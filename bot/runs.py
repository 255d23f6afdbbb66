"""The bot's run worker: each run is an asyncio task on the app's loop, never a listener's.

A listener stores the run (``submit``) before it acks, then hands it here (``launch``). The
worker opens the thread (parent message in the channel, or the user's DM when the bot may
not post there), keeps one progress message up to date, posts the results as replies when the
run ends, turns the progress message into the summary and puts the totals on the parent.

Slack calls per run: parent + progress + at most ``Tuning.max_progress_updates`` updates +
the result messages + summary + parent totals.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject
from slack_sdk.web.async_client import AsyncWebClient

from bot.context import ModalContext, Origin
from bot.errors import explain, tell_user
from bot.slack_io import SlackOut, error_code
from bot.threads import SlackThread, ThreadStore
from bot.tuning import Tuning
from bot.ui.thread import (
    SlackMessage,
    parent_message,
    progress_message,
    result_messages,
    summary_message,
    totals_text,
)
from sync_core.results import SyncStatus
from sync_core.service import RunBusy, SyncService
from sync_core.store.tables import SyncRun, utcnow

log = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[Any]]
CANCEL_POLL_SECONDS = 5.0  # how soon a cancel asked for through another replica is noticed


@dataclass
class _LiveRun:
    """What the progress ticker of one run reads."""

    run_id: int
    total: int
    counts: Counter[SyncStatus] = field(default_factory=Counter)
    cancel_by: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class RunWorker:
    def __init__(self, service: SyncService, client: AsyncWebClient, *, tuning: Tuning | None = None) -> None:
        self.service = service
        self.tuning = tuning or Tuning()
        self.out = SlackOut(client, self.tuning)
        self.threads = ThreadStore(service.store.engine)
        self._tasks: set[asyncio.Task] = set()
        self._live: dict[int, _LiveRun] = {}

    # --- tasks ------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task:
        """Run ``coro`` as the worker's task (tracked, so ``wait_idle`` waits for it)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("worker task %s failed", task.get_name(), exc_info=task.exception())

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every run and follow-up in flight is done (tasks may start others). False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def shutdown(self, timeout: float = 20.0) -> None:
        """Let runs finish for a while, then stop them; a restarted bot resumes what is left."""
        if not await self.wait_idle(timeout):
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def running(self) -> list[int]:
        return sorted(self._live)

    # --- starting runs ------------------------------------------------------------------------

    async def submit(self, numbers: Sequence[str], context: ModalContext, user_id: str) -> int:
        """Store the run and where it answers; fast (two inserts), done before the modal's ack."""
        run = await self.service.start_run(numbers, requested_by=user_id, source="slack")
        assert run.id is not None
        await asyncio.to_thread(self.threads.add, SlackThread(
            run_id=run.id, root_run_id=run.id, user_id=user_id, origin=context.origin.value,
            requested_channel=context.channel_id if context.origin is Origin.COMMAND else None,
            response_url=context.response_url, lease_until=self._lease()))
        return run.id

    def launch(self, run_id: int) -> asyncio.Task:
        return self.spawn(self._drive(run_id), name=f"salla-sync-run-{run_id}")

    async def resume(self) -> list[int]:
        """Pick up runs a stopped bot left unfinished (their lease ran out); returns their ids."""
        run_ids = await asyncio.to_thread(self.threads.take_over_stale, self.tuning.lease_seconds)
        for run_id in run_ids:
            log.info("resuming run %s", run_id)
            self.launch(run_id)
        return run_ids

    def _lease(self):
        return utcnow() + timedelta(seconds=self.tuning.lease_seconds)

    # --- one run ------------------------------------------------------------------------------

    async def _drive(self, run_id: int) -> None:
        thread = await asyncio.to_thread(self.threads.get, run_id)
        run = await asyncio.to_thread(self.service.store.get_run, run_id)
        if thread is None or run is None:
            log.error("run %s has no thread; not driving it", run_id)
            return
        live = _LiveRun(run_id, run.total, cancel_by=thread.cancel_requested_by)
        live.counts.update(r.status for r in await self.service.run_results(run_id))
        self._live[run_id] = live
        lease = asyncio.create_task(self._keep_lease(run_id))
        try:
            try:
                thread = await self._open_thread(thread, run, live)
                headless: Exception | None = None
            except Exception as exc:  # nowhere to post: sync anyway, and say so at the end
                log.exception("run %s: could not open its thread", run_id)
                headless = exc
            stopped: Exception | None = None
            if run.state in ("pending", "running"):  # else: resumed after it ran, before it was reported
                try:
                    await self._execute(live, thread, run, progress=headless is None)
                except RunBusy:
                    log.warning("run %s is being executed by another process; leaving it to that one", run_id)
                    return
                except Exception as exc:  # the store or a bug: say so in the thread, keep what is done
                    log.exception("run %s stopped", run_id)
                    stopped = exc
                after = await asyncio.to_thread(self.service.store.get_run, run_id)
                if stopped is None and after is not None and after.state in ("pending", "running"):
                    log.warning("run %s was taken over by another process; it reports the results", run_id)
                    return
            if headless is None:
                try:
                    await self._finish(thread, run_id, live, stopped)
                    return
                except Exception as exc:
                    log.exception("run %s: could not post its results", run_id)
                    headless = exc
            await tell_user(self.out, f"Your sync (run {run_id}) ended: {totals_text(live.counts)}. "
                                      f"I could not post its results in Slack: {explain(headless)} "
                                      "They are in the App Home log.",
                            user_id=thread.user_id, channel_id=thread.channel_id or thread.requested_channel,
                            response_url=thread.response_url)
            await asyncio.to_thread(self.threads.reported, run_id)
        finally:
            lease.cancel()
            await asyncio.gather(lease, return_exceptions=True)
            self._live.pop(run_id, None)

    async def _execute(self, live: _LiveRun, thread: SlackThread, run: SyncRun, *, progress: bool) -> None:
        """Run the numbers, counting results for the progress ticker."""
        ticker = asyncio.create_task(self._tick(live, thread, run)) if progress else None
        try:
            if live.cancel_by:
                self.service.cancel(live.run_id)
            async for result in self.service.execute(live.run_id):
                live.counts[result.status] += 1
                if live.cancel_by:
                    self.service.cancel(live.run_id)
        finally:
            live.stop.set()
            if ticker is not None:
                await asyncio.gather(ticker, return_exceptions=True)

    async def _keep_lease(self, run_id: int) -> None:
        """While this process drives the thread, nobody else resumes it."""
        while True:
            await asyncio.sleep(self.tuning.lease_seconds / 3)
            try:
                await asyncio.to_thread(self.threads.renew_lease, run_id, self.tuning.lease_seconds)
            except Exception as exc:  # the next renewal may work; the lease is long
                log.warning("run %s: could not renew its lease (%s)", run_id, type(exc).__name__)

    async def _open_thread(self, thread: SlackThread, run: SyncRun, live: _LiveRun) -> SlackThread:
        """Post the parent (root runs) and the progress message, once; remember where they are."""
        if thread.parent_ts is None:
            message = parent_message(thread.user_id, run.total, from_home=thread.origin == Origin.HOME.value)
            channel, ts = await self._post_parent(thread, message)
            thread.channel_id, thread.parent_ts = channel, ts
            await asyncio.to_thread(self.threads.set, thread.run_id, channel_id=channel, parent_ts=ts)
        if thread.progress_ts is None:
            assert thread.channel_id is not None
            message = self._progress(live, thread, run)
            thread.progress_ts = await self.out.post(thread.channel_id, message, thread_ts=thread.parent_ts)
            await asyncio.to_thread(self.threads.set, thread.run_id, progress_ts=thread.progress_ts)
        return thread

    async def _post_parent(self, thread: SlackThread, message: SlackMessage) -> tuple[str, str]:
        """In the channel asked for (joining it if needed); else in the user's DM, and say why."""
        channel = thread.requested_channel
        refused: str | None = None
        if channel:
            try:
                return channel, await self._post_in_channel(channel, message)
            except SlackApiError as exc:
                refused = error_code(exc) or "refused"
                log.info("can't post in %s (%s); using the DM of %s", channel, refused, thread.user_id)
        dm = await self.out.dm_channel(thread.user_id)
        ts = await self.out.post(dm, message)
        if channel:
            await tell_user(self.out, f"I can't post in <#{channel}> ({refused}), so your sync's results are in "
                                      "our direct messages. Invite me to the channel to get them there next time.",
                            user_id=thread.user_id, channel_id=channel, response_url=thread.response_url)
        return dm, ts

    async def _post_in_channel(self, channel: str, message: SlackMessage) -> str:
        try:
            return await self.out.post(channel, message)
        except SlackApiError as exc:
            if error_code(exc) != "not_in_channel":
                raise
        await self.out.call("conversations_join", channel=channel)  # public channels; fails otherwise
        return await self.out.post(channel, message)

    def _progress(self, live: _LiveRun, thread: SlackThread, run: SyncRun) -> SlackMessage:
        return progress_message(live.run_id, thread.user_id, live.total, live.counts, retry_of=run.retry_of,
                                cancel_requested_by=live.cancel_by)

    async def _tick(self, live: _LiveRun, thread: SlackThread, run: SyncRun) -> None:
        """Update the progress message now and then: at most every ``progress_interval`` s at first,
        less often as the run goes on, never more than ``max_progress_updates`` times. Also notices a
        cancel asked for through another replica."""
        tuning = self.tuning
        interval = tuning.progress_interval
        updates = 0
        shown = self._progress(live, thread, run)
        while not live.stop.is_set():
            try:
                await asyncio.wait_for(live.stop.wait(), timeout=min(interval, CANCEL_POLL_SECONDS))
                return
            except TimeoutError:
                pass
            try:
                row = await asyncio.to_thread(self.threads.get, live.run_id)
                if row is not None and row.cancel_requested_by and not live.cancel_by:
                    live.cancel_by = row.cancel_requested_by
                if live.cancel_by:
                    self.service.cancel(live.run_id)
                if updates >= tuning.max_progress_updates or live.stop.is_set():
                    continue
                message = self._progress(live, thread, run)
                if message == shown:
                    continue
                assert thread.channel_id and thread.progress_ts
                await self.out.update(thread.channel_id, thread.progress_ts, message)
                shown = message
                updates += 1
                interval *= tuning.progress_backoff
            except Exception as exc:  # progress is best effort; the results still come
                log.warning("run %s: progress update failed: %s", live.run_id, error_code(exc) or type(exc).__name__)

    async def _finish(self, thread: SlackThread, run_id: int, live: _LiveRun, stopped: BaseException | None) -> None:
        assert thread.channel_id and thread.parent_ts and thread.progress_ts
        results = await self.service.run_results(run_id)
        for message in result_messages(results):
            await self.out.post(thread.channel_id, message, thread_ts=thread.parent_ts)
        run = await asyncio.to_thread(self.service.store.get_run, run_id)
        summary = summary_message(run_id, thread.user_id, results, retry_of=run.retry_of if run else None,
                                  cancelled_by=live.cancel_by if run and run.state == "cancelled" else None,
                                  duration=_duration(run))
        if stopped is not None:
            summary = _with_note(summary, f"⚠️ The sync stopped early: {explain(stopped)} "
                                          "Orders not listed here were not synced.")
        await self.out.update(thread.channel_id, thread.progress_ts, summary)
        await self._update_parent(thread.root_run_id)
        await asyncio.to_thread(self.threads.reported, run_id)

    async def _update_parent(self, root_run_id: int) -> None:
        """Totals on the parent: each number's latest status across the run and its re-runs."""
        chain = await asyncio.to_thread(self.threads.chain, root_run_id)
        if not chain or chain[0].parent_ts is None or chain[0].channel_id is None:
            return
        root = chain[0]
        root_run = await asyncio.to_thread(self.service.store.get_run, root_run_id)
        latest: dict[str, SyncStatus] = {}
        for link in chain:
            for result in await self.service.run_results(link.run_id):
                latest[result.number] = result.status
        message = parent_message(root.user_id, root_run.total if root_run else len(latest),
                                 from_home=root.origin == Origin.HOME.value, totals=Counter(latest.values()),
                                 reruns=len(chain) - 1)
        await self.out.update(root.channel_id, root.parent_ts, message)

    # --- buttons --------------------------------------------------------------------------------

    async def cancel(self, run_id: int, user_id: str, notify: Notify) -> None:
        """Stop the run's numbers not yet started (wherever the run is driven)."""
        run = await asyncio.to_thread(self.service.store.get_run, run_id)
        thread = await asyncio.to_thread(self.threads.get, run_id)
        if run is None or thread is None:
            await notify("I can't find that sync any more.")
            return
        if run.state not in ("pending", "running"):
            await notify("That sync has already finished; there is nothing left to cancel.")
            return
        if thread.cancel_requested_by is None:
            await asyncio.to_thread(self.threads.set, run_id, cancel_requested_by=user_id)
        live = self._live.get(run_id)
        if live is not None and live.cancel_by is None:
            live.cancel_by = user_id
        # Here, or in the process that executes it: its ticker (and the core's lease heartbeat) see the flag.
        await self.service.cancel_anywhere(run_id)

    async def rerun(self, source_run_id: int, user_id: str, notify: Notify) -> int | None:
        """Re-run the source run's failed numbers once, as a linked run answered in the same thread."""
        source = await asyncio.to_thread(self.threads.get, source_run_id)
        source_run = await asyncio.to_thread(self.service.store.get_run, source_run_id)
        if source is None or source_run is None or source.parent_ts is None:
            await notify("I can't find that sync any more.")
            return None
        if source_run.state in ("pending", "running"):
            await notify("That sync is still running; re-run its failures when it is done.")
            return None
        numbers = await self.service.failed_numbers(source_run_id)
        if not numbers:
            await notify(f"Nothing failed in run {source_run_id}, so there is nothing to re-run.")
            return None
        claim = await asyncio.to_thread(self.threads.claim_rerun, source_run_id, user_id)
        if claim is None:
            earlier = await asyncio.to_thread(self.threads.rerun_of, source_run_id)
            who = f"<@{earlier.requested_by}>" if earlier else "Someone"
            which = f" (run {earlier.rerun_id})" if earlier and earlier.rerun_id else ""
            await notify(f"{who} already re-ran the failed orders of run {source_run_id}{which}; "
                         "the results are in the thread.")
            return None
        try:
            run = await self.service.start_run(numbers, requested_by=user_id, source="slack", retry_of=source_run_id)
        except Exception:
            await asyncio.to_thread(self.threads.release_rerun, source_run_id)  # so the button works again
            raise
        assert run.id is not None
        await asyncio.to_thread(self.threads.set_rerun, source_run_id, run.id)
        await asyncio.to_thread(self.threads.add, SlackThread(
            run_id=run.id, root_run_id=source.root_run_id, user_id=user_id, origin=source.origin,
            requested_channel=source.requested_channel, channel_id=source.channel_id, parent_ts=source.parent_ts,
            lease_until=self._lease()))
        if source.progress_ts and source.channel_id:  # the old summary loses its button
            try:
                results = await self.service.run_results(source_run_id)
                await self.out.update(source.channel_id, source.progress_ts, summary_message(
                    source_run_id, source.user_id, results, retry_of=source_run.retry_of,
                    cancelled_by=source.cancel_requested_by if source_run.state == "cancelled" else None,
                    duration=_duration(source_run), rerun=(user_id, run.id)))
            except Exception as exc:
                log.warning("could not take the re-run button off run %s: %s", source_run_id,
                            error_code(exc) or type(exc).__name__)
        self.launch(run.id)
        return run.id


def _duration(run: SyncRun | None) -> float | None:
    if run is None or run.finished_at is None or run.created_at is None:
        return None
    start, end = (t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (run.created_at, run.finished_at))
    return (end - start).total_seconds()


def _with_note(message: SlackMessage, note: str) -> SlackMessage:
    block = ContextBlock(elements=[MarkdownTextObject(text=note)]).to_dict()
    return SlackMessage(text=message.text, blocks=[*message.blocks[:2], block, *message.blocks[2:]])
