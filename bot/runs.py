"""The bot's run worker: each run is an asyncio task on the app's loop, never a listener's.

A listener stores the run (``submit``) before it acks, then hands it here (``launch``). The
worker opens the thread (parent message in the channel, or the user's DM when the bot may
not post there), keeps one progress message up to date and, when the run ends, turns the
progress message into the summary, puts the totals on the parent and posts the results as
replies.

Durable: the process driving a run holds its thread's lease (renewed every third of it). Every
third of the lease, each process takes over the threads whose driver is gone (``resume``): a
run left half-synced by a crash, ``kill -9`` or a deploy is finished by whichever replica takes
it, and its remaining results are posted in its original thread. While Slack is down, results
wait in the database and posting is tried again until it works.

Slack calls per run: parent + progress + at most ``Tuning.max_progress_updates`` updates +
the result messages + summary + parent totals.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import OperationalError

from bot.context import ModalContext, Origin
from bot.errors import explain, tell_user
from bot.slack_io import SlackOut, error_code, slack_unavailable
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
    """One run this process drives: what its progress ticker reads, its hold on the thread."""

    run_id: int
    total: int
    counts: Counter[SyncStatus] = field(default_factory=Counter)
    cancel_by: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    held: datetime | None = None  # the thread's lease as this process last set it
    lost: asyncio.Event = field(default_factory=asyncio.Event)  # another process took the thread over
    posted: int = 0  # result messages already in the thread


class RunWorker:
    def __init__(self, service: SyncService, client: AsyncWebClient, *, tuning: Tuning | None = None) -> None:
        self.service = service
        self.tuning = tuning or Tuning()
        self.out = SlackOut(client, self.tuning)
        self.threads = ThreadStore(service.store.engine)
        self._tasks: set[asyncio.Task] = set()
        self._live: dict[int, _LiveRun] = {}
        self._driving: Counter[int] = Counter()  # runs with a _drive task here (launched, maybe not started)
        self._resumer: asyncio.Task | None = None

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
        """Let runs finish for a while, then stop them; a restarted bot (or another replica) resumes
        what is left."""
        if self._resumer is not None:
            self._resumer.cancel()
            await asyncio.gather(self._resumer, return_exceptions=True)
            self._resumer = None
        if not await self.wait_idle(timeout):
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def running(self) -> list[int]:
        return sorted(self._live)

    # --- starting runs ------------------------------------------------------------------------

    async def submit(self, numbers: Sequence[str], context: ModalContext, user_id: str) -> int:
        """Store the run and where it answers, in one transaction; fast, done before the modal's ack."""

        def thread(run_id: int) -> list[SlackThread]:
            return [SlackThread(run_id=run_id, root_run_id=run_id, user_id=user_id, origin=context.origin.value,
                                requested_channel=context.channel_id if context.origin is Origin.COMMAND else None,
                                response_url=context.response_url, lease_until=self._lease())]

        run = await self.service.start_run(numbers, requested_by=user_id, source="slack", along=thread)
        assert run.id is not None
        return run.id

    def launch(self, run_id: int) -> asyncio.Task:
        self._driving[run_id] += 1
        task = self.spawn(self._drive(run_id), name=f"salla-sync-run-{run_id}")
        task.add_done_callback(lambda _: self._undrive(run_id))
        return task

    def _undrive(self, run_id: int) -> None:
        self._driving[run_id] -= 1
        if self._driving[run_id] <= 0:
            del self._driving[run_id]

    async def resume(self) -> list[int]:
        """Take over the runs whose driver is gone (a crash, ``kill -9``, a deploy, a replica that
        died), whatever they were doing: syncing, or posting their results. Returns their ids.

        A thread is taken only once its lease ran out and its run is not executed by a live process;
        a run submitted here and about to start holds its thread's lease from the moment it is stored.
        """
        taken = await asyncio.to_thread(self.threads.take_over_stale, self.tuning.lease_seconds,
                                        exclude=set(self._driving))
        for run_id, _ in taken:
            log.info("resuming run %s", run_id)
            self.launch(run_id)
        return [run_id for run_id, _ in taken]

    def start_resuming(self) -> asyncio.Task:
        """Resume what is left now, then look again every third of the lease, for the life of the
        process (so a replica takes over the runs of one that died). ``shutdown`` stops it."""
        if self._resumer is None or self._resumer.done():
            self._resumer = asyncio.get_running_loop().create_task(self._keep_resuming(), name="salla-sync-resume")
        return self._resumer

    async def _keep_resuming(self) -> None:
        while True:
            try:
                await self.resume()
            except Exception as exc:  # the database is away for a moment: look again later
                log.warning("could not look for runs to resume (%s)", type(exc).__name__)
            await asyncio.sleep(self.tuning.lease_seconds / 3)

    def _lease(self):
        return utcnow() + timedelta(seconds=self.tuning.lease_seconds)

    # --- one run ------------------------------------------------------------------------------

    async def _drive(self, run_id: int) -> None:
        thread = await asyncio.to_thread(self.threads.get, run_id)
        run = await asyncio.to_thread(self.service.store.get_run, run_id)
        if thread is None or run is None:
            log.error("run %s has no thread; not driving it", run_id)
            return
        live = _LiveRun(run_id, run.total, cancel_by=thread.cancel_requested_by, held=thread.lease_until)
        live.counts.update(r.status for r in await self.service.run_results(run_id))
        self._live[run_id] = live
        lease = asyncio.create_task(self._keep_lease(live))
        # The thread's first messages go out while the sync starts: Slack's answers (about a second
        # with its per-channel pace) are not on the first order's way.
        opening = asyncio.create_task(self._open_first(thread, run, live))
        try:
            if run.state in ("pending", "running"):  # else: resumed after it ran, before it was reported
                try:
                    await self._execute(live, thread, run, opening)
                except RunBusy:
                    log.warning("run %s is being executed by another process; leaving it to that one", run_id)
                    return
                except Exception:
                    # The store or a bug. What is done is kept; the thread's lease runs out and the
                    # run is resumed (here or by another replica), so no number is left without a status.
                    log.exception("run %s stopped; it will be resumed", run_id)
                    return
                after = await asyncio.to_thread(self.service.store.get_run, run_id)
                if after is not None and after.state in ("pending", "running"):
                    log.warning("run %s was taken over by another process; it reports the results", run_id)
                    return
            await opening  # never two openings at once: the report opens the thread if this one could not
            await self._report(thread, run, live)
        finally:
            lease.cancel()
            # Let a parent being posted be recorded (else a resume would post a second one)...
            await asyncio.wait({opening}, timeout=self.tuning.open_grace)
            opening.cancel()  # ... unless Slack hangs
            await asyncio.gather(lease, opening, return_exceptions=True)
            self._live.pop(run_id, None)

    async def _open_first(self, thread: SlackThread, run: SyncRun, live: _LiveRun) -> bool:
        """Open the thread (``thread`` is updated in place); False when Slack is away or there is
        nowhere to post yet: the run syncs anyway and its results are posted at the end."""
        try:
            await self._open_thread(thread, run, live)
            return True
        except Exception as exc:
            log.warning("run %s: could not open its thread yet (%s); syncing anyway", live.run_id,
                        error_code(exc) or type(exc).__name__)
            return False

    async def _report(self, thread: SlackThread, run: SyncRun, live: _LiveRun) -> None:
        """Post the results in the run's thread (opening it first if Slack was away when the run
        started), the summary and the totals.

        While Slack is unavailable the results wait in the database and posting is tried again,
        backing off, for as long as this process holds the thread (other runs keep syncing
        meanwhile); a process that takes the thread over carries on. A refusal (no channel, no DM,
        a revoked token) is told to the user once, and the results stay in the App Home log.
        """
        delay = self.tuning.report_retry_initial
        while not live.lost.is_set():
            try:
                thread = await self._open_thread(thread, run, live)
                await self._finish(thread, live)
                return
            except Exception as exc:
                if not _may_work_later(exc):
                    failure = exc
                    break
                log.warning("run %s: Slack is unavailable (%s); its results are kept and posted when it is "
                            "back (next try in %.1f s)", live.run_id, error_code(exc) or type(exc).__name__, delay)
            try:
                await asyncio.wait_for(live.lost.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.tuning.report_retry_max)
        else:
            log.warning("run %s: another process took its thread over; it posts the results", live.run_id)
            return
        log.error("run %s: could not post its results: %s", live.run_id, error_code(failure) or type(failure).__name__,
                  exc_info=not isinstance(failure, SlackApiError))
        await tell_user(self.out, f"Your sync (run {live.run_id}) ended: {totals_text(live.counts)}. "
                                  f"I could not post its results in Slack: {explain(failure)} "
                                  "They are in the App Home log.",
                        user_id=thread.user_id, channel_id=thread.channel_id or thread.requested_channel,
                        response_url=thread.response_url)
        await asyncio.to_thread(self.threads.reported, live.run_id)

    async def _execute(self, live: _LiveRun, thread: SlackThread, run: SyncRun, opening: asyncio.Task[bool]) -> None:
        """Run the numbers, counting results for the progress ticker (which starts once the thread is open)."""
        ticker = asyncio.create_task(self._tick(live, thread, run, opening))
        try:
            if live.cancel_by:
                self.service.cancel(live.run_id)
            async for result in self.service.execute(live.run_id):
                live.counts[result.status] += 1
                if live.cancel_by:
                    self.service.cancel(live.run_id)
        finally:
            live.stop.set()
            ticker.cancel()  # a progress update still waiting on Slack (down, rate-limiting) is moot now
            await asyncio.gather(ticker, return_exceptions=True)

    async def _keep_lease(self, live: _LiveRun) -> None:
        """While this process drives the thread, nobody else resumes it. The renewal is a
        compare-and-set on the lease this process set: once another process took the thread over
        (this one stalled past its lease), it stops here and posts nothing more."""
        while True:
            await asyncio.sleep(self.tuning.lease_seconds / 3)
            try:
                held = await asyncio.to_thread(self.threads.renew_lease, live.run_id, self.tuning.lease_seconds,
                                               live.held)
            except Exception as exc:  # the next renewal may work
                log.warning("run %s: could not renew its lease (%s)", live.run_id, type(exc).__name__)
                continue
            if held is None:  # reported (we are done), or taken over
                live.lost.set()
                return
            live.held = held

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
                if slack_unavailable(exc):  # not a refusal: try the channel again later
                    raise
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

    async def _tick(self, live: _LiveRun, thread: SlackThread, run: SyncRun, opening: asyncio.Task[bool]) -> None:
        """Update the progress message now and then: at most every ``progress_interval`` s at first,
        less often as the run goes on, never more than ``max_progress_updates`` times. Also notices a
        cancel asked for through another replica."""
        if not await asyncio.shield(opening):
            return
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

    async def _finish(self, thread: SlackThread, live: _LiveRun) -> None:
        """The summary and the totals, then the results (continuing after those already posted);
        then the thread is reported. Stops early, posting nothing more, once the thread was taken over.

        Edits come first and the new messages last, right before the thread is marked reported: a
        process that dies in between and is resumed repeats edits (harmless), and posts the results
        again only if it died in the moment between the last post and the mark.
        """
        assert thread.channel_id and thread.parent_ts and thread.progress_ts
        run_id = live.run_id
        results = await self.service.run_results(run_id)
        run = await asyncio.to_thread(self.service.store.get_run, run_id)
        summary = summary_message(run_id, thread.user_id, results, retry_of=run.retry_of if run else None,
                                  cancelled_by=live.cancel_by if run and run.state == "cancelled" else None,
                                  duration=_duration(run))
        if live.lost.is_set():
            return
        await self.out.update(thread.channel_id, thread.progress_ts, summary)
        await self._update_parent(thread.root_run_id)
        messages = result_messages(results)
        while live.posted < len(messages):
            if live.lost.is_set():
                return
            await self.out.post(thread.channel_id, messages[live.posted], thread_ts=thread.parent_ts)
            live.posted += 1
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

        def thread(run_id: int) -> list[SlackThread]:
            return [SlackThread(run_id=run_id, root_run_id=source.root_run_id, user_id=user_id, origin=source.origin,
                                requested_channel=source.requested_channel, channel_id=source.channel_id,
                                parent_ts=source.parent_ts, lease_until=self._lease())]

        try:
            run = await self.service.start_run(numbers, requested_by=user_id, source="slack", retry_of=source_run_id,
                                               along=thread)
        except Exception:
            await asyncio.to_thread(self.threads.release_rerun, source_run_id)  # so the button works again
            raise
        assert run.id is not None
        await asyncio.to_thread(self.threads.set_rerun, source_run_id, run.id)
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


def _may_work_later(exc: BaseException) -> bool:
    """Slack is away or rate-limiting, or the database is: posting the results is tried again."""
    return slack_unavailable(exc) or isinstance(exc, OperationalError)
