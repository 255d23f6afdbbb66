"""The bot's side of the run engine: runs started from Slack, and how the bot reports them.

A listener stores the run with its Slack thread (``submit``) before it acks, then hands it to the
engine (``launch``), which drives it as a task of its own, never a listener's. The bot registers
its Slack thread reporter for Slack's runs; runs of other sources that it resumes (a CLI run left
by a killed ``salla-sync``) are finished with their results in the log. Follow-ups of listeners
(buttons, notes to the user) are tasks of the engine too, so ``wait_idle`` and ``shutdown`` see
everything in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.context import ModalContext, Origin
from bot.slack_io import SlackOut
from bot.thread_reporter import SlackThreadReporter
from bot.threads import SlackThread, ThreadStore
from bot.tuning import Tuning
from sync_core.engine import RunEngine, Work
from sync_core.service import SyncService
from sync_core.store.tables import RunSource, SyncRun


class RunWorker:
    def __init__(self, service: SyncService, client: AsyncWebClient, *, tuning: Tuning | None = None) -> None:
        self.service = service
        self.engine: RunEngine = service.engine
        self.tuning = tuning or Tuning()
        self.out = SlackOut(client, self.tuning)
        self.threads = ThreadStore(service.store.engine)
        self.engine.report_retry = (self.tuning.report_retry_initial, self.tuning.report_retry_max)
        self.engine.register(RunSource.SLACK, self.reporter)
        self.engine.register(RunSource.AUDIT, self.reporter)  # an audit's "Sync N missing" (no thread: the log)

    def reporter(self, _run: SyncRun | None = None) -> SlackThreadReporter:
        return SlackThreadReporter(self.out, self.threads, self.service.store, self.tuning)

    # --- tasks ------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task:
        return self.engine.tasks.spawn(coro, name=name)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        return await self.engine.tasks.wait_idle(timeout)

    async def shutdown(self, timeout: float = 20.0) -> None:
        await self.engine.shutdown(timeout)

    def start_resuming(self) -> asyncio.Task:
        return self.engine.start_resuming()

    async def resume(self) -> list[int]:
        return await self.engine.resume()

    @property
    def running(self) -> list[int]:
        return self.engine.running

    # --- starting runs ------------------------------------------------------------------------

    async def submit(self, numbers: Sequence[str], context: ModalContext, user_id: str) -> int:
        """Store the run and where it answers, in one transaction; fast, done before the modal's ack."""

        under_message = context.origin is Origin.MESSAGE and context.channel_id and context.message_ts

        def thread(run_id: int) -> list[SlackThread]:
            return [SlackThread(run_id=run_id, root_run_id=run_id, user_id=user_id, origin=context.origin.value,
                                requested_channel=context.channel_id if context.origin is not Origin.HOME else None,
                                response_url=context.response_url,
                                # "Sync orders in message": the thread is that message's
                                channel_id=context.channel_id if under_message else None,
                                parent_ts=context.message_ts if under_message else None)]

        run = await self.engine.submit(Work(RunSource.SLACK, user_id, numbers, along=thread))
        assert run.id is not None
        return run.id

    def launch(self, run_id: int) -> asyncio.Task:
        return self.engine.launch(run_id, self.reporter())
