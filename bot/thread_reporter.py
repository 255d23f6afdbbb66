"""The Slack thread reporter: how a run started from Slack answers there.

The parent message in the channel (or the user's DM when the bot may not post there), one progress
message kept up to date while the run syncs, then the progress message turned into the summary,
the totals on the parent, and the results as replies. The run engine owns the run and its lease;
this only shows it. How many result messages are in the thread is the run's report cursor, so a
run resumed half-reported posts the rest, not the start again. Each message carries its key in
Slack's metadata (``slack_io.PostedOnce``): a resumed run first reads back what the dead process may have
posted without recording it, so its parent, progress message and result lines are each posted
once. While Slack is down, the engine keeps the results in the database and asks again later.

Slack calls per run: parent + progress + at most ``Tuning.max_progress_updates`` updates + the
result messages + summary + parent totals.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError

from bot.context import Origin
from bot.errors import explain, tell_user
from bot.slack_io import PostedOnce, SlackOut, error_code, slack_unavailable
from bot.threads import SlackThread, ThreadStore
from bot.tuning import Tuning
from bot.ui.audit import audit_parent
from bot.ui.thread import (
    SlackMessage,
    parent_message,
    progress_message,
    result_messages,
    summary_message,
    totals_text,
)
from sync_core.reporting import LiveRun, ReportCursor
from sync_core.results import OrderResult, SyncStatus
from sync_core.store import Store
from sync_core.store.tables import RunState, SyncRun, as_utc

log = logging.getLogger(__name__)

AUDIT_ORIGIN = "audit"  # SlackThread.origin of the runs an audit's "Sync N missing" starts


class SlackThreadReporter:
    def __init__(self, out: SlackOut, threads: ThreadStore, store: Store, tuning: Tuning) -> None:
        self.out = out
        self.threads = threads
        self.store = store
        self.tuning = tuning
        self.thread: SlackThread | None = None
        self._opening: asyncio.Task[bool] | None = None
        self._posts: PostedOnce | None = None  # the thread's messages, each posted once
        self._ticker: asyncio.Task | None = None
        self._stop = asyncio.Event()

    # --- the reporter port ---------------------------------------------------------------------

    async def start(self, live: LiveRun) -> None:
        self.thread = await asyncio.to_thread(self.threads.get, live.run_id)
        if self.thread is None:
            log.info("run %s (%s) has no Slack thread; its results are in the log only", live.run_id, live.run.source)
            return
        self._posts = PostedOnce(self.out, look_first=live.resumed, since=self.thread.created_at)
        # The thread's first messages go out while the sync starts: Slack's answers (about a second
        # with its per-channel pace) are not on the first order's way.
        self._opening = asyncio.create_task(self._open_first(live))
        if live.run.state in (RunState.PENDING.value, RunState.RUNNING.value):
            self._ticker = asyncio.create_task(self._tick(live))

    def result(self, live: LiveRun, result: OrderResult) -> None:
        pass  # the ticker reads live.counts

    async def syncing_stopped(self, live: LiveRun) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.cancel()  # a progress update still waiting on Slack (down, rate-limiting) is moot now
            await asyncio.gather(self._ticker, return_exceptions=True)

    async def report(self, live: LiveRun, results: Sequence[OrderResult], cursor: ReportCursor) -> bool:
        """The result messages from the cursor on, each one counted in the run before the next is
        posted; then the summary and the parent's totals (edits: a resumed run repeats them
        harmlessly), so a run reads finished only once every result line is in its thread."""
        thread = self.thread
        if thread is None:
            return True
        if self._opening is not None:
            await self._opening  # never two openings at once: this one opens the thread if that one could not
        thread = await self._open_thread(live)
        assert thread.channel_id and thread.parent_ts and thread.progress_ts and self._posts
        run = live.run
        cancelled_by = live.cancel_requested_by if run.state == RunState.CANCELLED.value else None
        messages = result_messages(list(results))
        while cursor.position < len(messages):
            # Already in the thread when a process died between Slack taking it and the cursor moving.
            await self._posts.post(thread.channel_id, f"run {live.run_id} results {cursor.position}",
                                   messages[cursor.position], thread_ts=thread.parent_ts)
            if not await cursor.advance():
                return False  # another process holds the run now: it posts the rest
        summary = summary_message(live.run_id, thread.user_id, list(results), retry_of=run.retry_of,
                                  cancelled_by=cancelled_by, duration=run_duration(run))
        await self.out.update(thread.channel_id, thread.progress_ts, summary)
        await self._update_parent(thread.root_run_id)
        return True

    def may_work_later(self, exc: BaseException) -> bool:
        """Slack is away or rate-limiting, or the database is: reporting is tried again."""
        return slack_unavailable(exc) or isinstance(exc, OperationalError)

    async def give_up(self, live: LiveRun, exc: BaseException) -> None:
        """No channel, no DM, a revoked token: told to the user once; the results are in the App Home log."""
        thread = self.thread
        if thread is None:
            return
        log.error("run %s: could not post its results: %s", live.run_id, error_code(exc) or type(exc).__name__)
        await tell_user(self.out, f"Your sync (run {live.run_id}) ended: {totals_text(live.counts)}. "
                                  f"I could not post its results in Slack: {explain(exc)} "
                                  "They are in the App Home log.",
                        user_id=thread.user_id, channel_id=thread.channel_id or thread.requested_channel,
                        response_url=thread.response_url)

    async def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._opening is not None:
            # Let a parent being posted be recorded (else a resume would post a second one)...
            await asyncio.wait({self._opening}, timeout=self.tuning.open_grace)
            self._opening.cancel()  # ... unless Slack hangs
            await asyncio.gather(self._opening, return_exceptions=True)

    # --- the thread ------------------------------------------------------------------------------

    async def _open_first(self, live: LiveRun) -> bool:
        """Open the thread; False when Slack is away or there is nowhere to post yet: the run syncs
        anyway and its results are posted at the end."""
        try:
            await self._open_thread(live)
            return True
        except Exception as exc:
            log.warning("run %s: could not open its thread yet (%s); syncing anyway", live.run_id,
                        error_code(exc) or type(exc).__name__)
            return False

    async def _open_thread(self, live: LiveRun) -> SlackThread:
        """Post the parent (root runs) and the progress message, once; remember where they are."""
        thread, posts = self.thread, self._posts
        assert thread is not None and posts is not None
        if thread.parent_ts is None:
            message = parent_message(thread.user_id, live.total, from_home=thread.origin == Origin.HOME.value)
            channel, ts = await self._post_parent(thread, message)
            thread.channel_id, thread.parent_ts = channel, ts
            await asyncio.to_thread(self.threads.set, thread.run_id, channel_id=channel, parent_ts=ts)
        if thread.progress_ts is None:
            assert thread.channel_id is not None
            thread.progress_ts = await posts.post(thread.channel_id, f"run {thread.run_id} progress",
                                                  self._progress(live), thread_ts=thread.parent_ts)
            await asyncio.to_thread(self.threads.set, thread.run_id, progress_ts=thread.progress_ts)
        return thread

    async def _post_parent(self, thread: SlackThread, message: SlackMessage) -> tuple[str, str]:
        """In the channel asked for (joining it if needed); else in the user's DM, and say why."""
        assert self._posts is not None
        key = f"run {thread.run_id} parent"
        channel = thread.requested_channel
        refused: str | None = None
        if channel:
            try:
                return channel, await self._posts.post(channel, key, message, joining=True)
            except SlackApiError as exc:
                if slack_unavailable(exc):  # not a refusal: try the channel again later
                    raise
                refused = error_code(exc) or "refused"
                log.info("can't post in %s (%s); using the DM of %s", channel, refused, thread.user_id)
        dm = await self.out.dm_channel(thread.user_id)
        ts = await self._posts.post(dm, key, message)
        if channel and key not in self._posts.found_again:  # else the user was told why then
            await tell_user(self.out, f"I can't post in <#{channel}> ({refused}), so your sync's results are in "
                                      "our direct messages. Invite me to the channel to get them there next time.",
                            user_id=thread.user_id, channel_id=channel, response_url=thread.response_url)
        return dm, ts

    def _progress(self, live: LiveRun) -> SlackMessage:
        assert self.thread is not None
        return progress_message(live.run_id, self.thread.user_id, live.total, live.counts,
                                retry_of=live.run.retry_of, cancel_requested_by=live.cancel_requested_by)

    async def _tick(self, live: LiveRun) -> None:
        """Update the progress message now and then: at most every ``progress_interval`` s at first,
        less often as the run goes on, never more than ``max_progress_updates`` times."""
        assert self._opening is not None
        if not await asyncio.shield(self._opening):
            return
        tuning = self.tuning
        interval = tuning.progress_interval
        updates = 0
        shown = self._progress(live)
        while not self._stop.is_set() and updates < tuning.max_progress_updates:
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
                return
            except TimeoutError:
                pass
            try:
                message = self._progress(live)
                if message == shown:
                    continue
                thread = self.thread
                assert thread is not None and thread.channel_id and thread.progress_ts
                await self.out.update(thread.channel_id, thread.progress_ts, message)
                shown = message
                updates += 1
                interval *= tuning.progress_backoff
            except Exception as exc:  # progress is best effort; the results still come
                log.warning("run %s: progress update failed: %s", live.run_id, error_code(exc) or type(exc).__name__)

    async def _update_parent(self, root_run_id: int) -> None:
        """Totals on the parent: each number's latest status across the run and its re-runs."""
        chain = await asyncio.to_thread(self.threads.chain, root_run_id)
        if not chain or chain[0].parent_ts is None or chain[0].channel_id is None:
            return
        root = chain[0]
        if root.origin in (Origin.MESSAGE.value, "alert"):
            return  # the parent is a person's message or an alert: not a sync's parent (the summary has the totals)
        root_run = await asyncio.to_thread(self.store.get_run, root_run_id)
        latest: dict[str, SyncStatus] = {}
        for link in chain:
            for result in await asyncio.to_thread(self.store.run_results, link.run_id):
                latest[result.number] = result.status
        if root.origin == AUDIT_ORIGIN:  # the thread of an audit: its parent says what was audited
            audit = await asyncio.to_thread(self.threads.audit_at, root.channel_id, root.parent_ts)
            if audit is None:
                return
            message = audit_parent(audit.user_id, audit.days, totals=Counter(latest.values()),
                                   synced_orders=len(latest))
        else:
            message = parent_message(root.user_id, root_run.total if root_run else len(latest),
                                     from_home=root.origin == Origin.HOME.value, totals=Counter(latest.values()),
                                     reruns=len(chain) - 1)
        await self.out.update(root.channel_id, root.parent_ts, message)


def run_duration(run: SyncRun | None) -> float | None:
    if run is None or run.finished_at is None or run.created_at is None:
        return None
    start, end = as_utc(run.created_at), as_utc(run.finished_at)
    return (end - start).total_seconds()
