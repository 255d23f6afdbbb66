"""Helpers for the end-to-end bot tests: the real Bolt app served over HTTP on 127.0.0.1, requests
signed as Slack signs them (``sandbox.slack_driver``), the Slack simulator as Web API, and a real
SyncService against the Salla and Enerpize simulators."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp

from bot.app import wait_for_runs
from bot.threads import SlackThread, ThreadStore
from bot.tuning import FAST
from sandbox import EnerpizeSimulator, SallaSimulator
from sandbox.settings import simulator_settings
from sandbox.slack_driver import SlackDriver
from sandbox.slack_sim import SlackRequest, SlackSimulator
from sync_core.service import SyncService
from sync_core.settings import Settings
from sync_core.store import Store
from sync_core.store.tables import RunSource, SyncRun

SECRET = "sandbox-signing-secret-0123456789"
USER = "U0ALICE"
OTHER_USER = "U0BOB"
CHANNEL = "C0SALES"

TEST_TUNING = FAST  # no pacing, progress every ~50 ms: the production defaults stay ~2 s


@dataclass
class Reply:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass
class Bot:
    """The running bot and everything around it, with helpers that read like what a person does."""

    app: AsyncApp
    url: str
    slack: SlackSimulator
    salla: SallaSimulator
    enerpize: EnerpizeSimulator
    service: SyncService
    settings: Settings
    http: aiohttp.ClientSession
    threads: ThreadStore = field(init=False)
    driver: SlackDriver = field(init=False)  # Slack in front of the bot: signs and sends what Slack sends

    def __post_init__(self) -> None:
        self.threads = ThreadStore(self.store.engine)
        self.driver = SlackDriver(self.slack, self.url, SECRET, self.http)

    @property
    def store(self) -> Store:
        return self.service.store

    async def send(self, request: SlackRequest, *, secret: str = SECRET, timestamp: int | str | None = None,
                   headers: dict[str, str] | None = None) -> Reply:
        return Reply(*await self.driver.post(request, secret=secret, timestamp=timestamp, headers=headers))

    async def idle(self) -> None:
        assert await wait_for_runs(self.app, timeout=30), "runs still in flight after 30 s"

    # -- the modal -----------------------------------------------------------------------------------

    async def command(self, text: str = "", *, user: str = USER, channel: str = CHANNEL) -> Reply:
        return Reply(*await self.driver.command(text, user=user, channel=channel))

    async def open_modal(self, text: str = "", *, user: str = USER, channel: str = CHANNEL) -> dict[str, Any]:
        before = len(self.slack.opened_views)
        view = await self.driver.open_view(text, user=user, channel=channel)
        await self.idle()  # the rest of the command's follow-up work: it opens one view, no more
        assert len(self.slack.opened_views) == before + 1, self.slack.calls()
        return view

    async def submit(self, view: dict[str, Any], text: str, *, user: str = USER) -> Reply:
        return Reply(*await self.driver.submit(view, text, user=user))

    async def sync(self, text: str, *, user: str = USER, channel: str = CHANNEL) -> SlackThread:
        """Type the command, fill the modal, submit, wait for the run; the run's thread row."""
        view = await self.open_modal(user=user, channel=channel)
        reply = await self.submit(view, text, user=user)
        assert reply.status == 200 and not reply.text, reply  # an empty ack closes the modal
        await self.idle()
        return self.last_thread()

    # -- reading the database ------------------------------------------------------------------------

    def runs(self) -> list[SyncRun]:
        return list(reversed(self.store.recent_runs(100)))

    def last_thread(self) -> SlackThread:
        """The thread of the latest run started in Slack (a webhook run may have started after it)."""
        run = next(r for r in self.store.recent_runs(100) if r.source != RunSource.WEBHOOK.value)
        thread = self.threads.get(run.id)
        assert thread is not None, f"run {run.id} ({run.source}) has no thread"
        return thread

    def slack_calls_since(self, mark: int, *, include_throttled: bool = False) -> list:
        calls = self.slack.calls()[mark:]
        return [c for c in calls if include_throttled or not c.throttled]


BotFactory = Callable[..., Awaitable["Bot"]]


def make_settings(slack: SlackSimulator, salla: SallaSimulator, enerpize: EnerpizeSimulator, database_url: str,
                  **extra: Any) -> Settings:
    return simulator_settings(salla, enerpize, database_url, slack=slack, signing_secret=SECRET, **extra)


STATUS_WORDS = ("Success", "Failed", "Record not found", "Cancelled")


def result_messages(slack: SlackSimulator, thread: SlackThread) -> list:
    """The thread's result replies: the ones made only of sections (progress and summary carry a context)."""
    return [m for m in slack.replies(thread.channel_id, thread.parent_ts)
            if m.blocks and all(b.get("type") == "section" for b in m.blocks)]


def result_lines(slack: SlackSimulator, thread: SlackThread) -> list[str]:
    return [line for message in result_messages(slack, thread) for line in message.lines()]


def status_words(line: str) -> list[str]:
    return [word for word in STATUS_WORDS if word in line]


def lines_for(lines: list[str], number: str) -> list[str]:
    return [line for line in lines if f"`{number}`" in line]
