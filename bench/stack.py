"""The bot as Slack sees it: a real ``salla-sync-bot --http`` process against the three simulators.

    with Stack(salla_store, plan=720, latency=0.12, workdir=tmp) as stack:
        ack, trigger = await stack.command(http, user="U1", channel="C1")  # signed /salla-sync
        view = await stack.opened_view(trigger)                           # the bot's views.open
        ack = await stack.submit(http, view, "1001\\n1002", user="U1")
        done = await stack.wait_reported(stack.run_of("U1"), timeout=60)

Requests are signed and POSTed to ``/slack/events`` exactly as Slack sends them (``SlackDriver``); an
acknowledgement's latency is the HTTP response time of that POST, seen from here (the client side,
as Slack sees it).
Every clock here is ``time.monotonic`` (the Slack simulator's ``ApiCall.at`` uses it too).

Three processes: this one (the measuring client and the Slack simulator, whose recorded calls the
bench reads closely), a child running the Salla and Enerpize simulators (``bench.remote_sims``: the
runs' load on them does not take this process's GIL from the client), and the bot.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import aiohttp
from aiohttp import web

from bench.remote_sims import RemoteEnerpize, RemoteSalla, RemoteSims
from sandbox.bot_process import SIGNING_SECRET, BotProcess, bot_env
from sandbox.salla_store import SallaStore
from sandbox.slack_driver import EVENTS_PATH, Answer, SlackDriver
from sandbox.slack_sim import ApiCall, SlackRequest, SlackSimulator, _decode


class PacedSlack(SlackSimulator):
    """The Slack simulator with Slack's own limit on ``chat.postMessage``: about one message a second
    per channel, with a short burst allowed (a token bucket of ``burst`` per channel refilled at
    ``per_second``). Over it, the answer is 429 ``ratelimited`` with ``Retry-After: 1``, as Slack's.

    The plain simulator throttles nothing; with this one a bot that posts faster than Slack allows
    is seen (429s counted) and one that drops a throttled message is caught (lines missing).

    It also hands each ``views.open`` call, once answered, to whoever awaits its trigger
    (``views_open``): no polling, no rescanning of the call log."""

    def __init__(self, *, per_second: float = 1.0, burst: int = 3, **kwargs: Any) -> None:
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (level, at)
        self._opened_by_trigger: dict[str, ApiCall] = {}  # trigger_id -> its first answered views.open
        self._trigger_waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future]]] = {}
        super().__init__(**kwargs)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._opened_by_trigger.clear()

    def _admit(self, channel: str) -> bool:
        now = time.monotonic()
        with self._lock:
            level, at = self._buckets.get(channel, (float(self.burst), now))
            level = min(float(self.burst), level + (now - at) * self.per_second)
            allowed = level >= 1.0
            self._buckets[channel] = (level - 1.0 if allowed else level, now)
            return allowed

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage":
            args = await _decode(request)  # aiohttp keeps the body: the simulator reads it again
            channel = str(args.get("channel") or "")
            if channel and not self._admit(channel):
                with self._lock:
                    self._calls.append(ApiCall("chat.postMessage", args, status=429, ok=False, error="ratelimited"))
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": "1"})
        if request.match_info["method"] != "views.open":
            return await super()._api(request)
        trigger_id = str((await _decode(request)).get("trigger_id") or "")
        with self._lock:
            recorded = len(self._calls)  # this request's ApiCall is appended after this point
        response = await super()._api(request)
        with self._lock:  # the call is answered: its ok, error and status are final
            call = next((c for c in self._calls[recorded:]
                         if c.method == "views.open" and c.args.get("trigger_id") == trigger_id), None)
            if call is None or trigger_id in self._opened_by_trigger:
                return response
            self._opened_by_trigger[trigger_id] = call
            waiters = self._trigger_waiters.pop(trigger_id, [])
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future, call)
            except RuntimeError:  # that event loop is closed: nobody is waiting any more
                pass
        return response

    async def views_open(self, trigger_id: str, timeout: float) -> ApiCall:
        """The first answered ``views.open`` call with this trigger (at once if it is answered
        already); TimeoutError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        waiter = (loop, future)
        with self._lock:
            call = self._opened_by_trigger.get(trigger_id)
            if call is not None:
                return call
            self._trigger_waiters.setdefault(trigger_id, []).append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            with self._lock:
                waiters = self._trigger_waiters.get(trigger_id, [])
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    self._trigger_waiters.pop(trigger_id, None)


def _resolve(future: asyncio.Future, call: ApiCall) -> None:
    if not future.done():
        future.set_result(call)


@dataclass
class Ack:
    """One POST to the bot as Slack makes it: when it was sent, how long the answer took, what it said."""

    sent: float
    seconds: float
    status: int
    body: str


class Stack:
    """The Slack simulator in this process, the Salla and Enerpize simulators in a child process, and
    the bot as a subprocess with its own fresh SQLite file."""

    def __init__(self, store: SallaStore, *, plan: int, latency: float, workdir: Path,
                 concurrency: int | None = None, name: str = "bot", rate_model: str = "bucket",
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.name = name
        self.db_path = workdir / f"{name}.db"
        self.log_path = workdir / f"{name}.log"
        self.slack = PacedSlack()
        self.sims = RemoteSims(store, plan=plan, latency=latency, rate_model=rate_model)
        self.concurrency = concurrency
        self.env = env or {}  # more settings of the bot
        self.bot: BotProcess | None = None
        self._db: sqlite3.Connection | None = None

    @property
    def salla(self) -> RemoteSalla:
        """The child's Salla simulator: ``calls()``, ``throttled_count()`` and what ``bot_env`` reads."""
        return self.sims.salla

    @property
    def enerpize(self) -> RemoteEnerpize:
        """The child's Enerpize simulator: ``call_count()`` and what ``bot_env`` reads."""
        return self.sims.enerpize

    def __enter__(self) -> Self:
        for stale in (self.db_path, self.db_path.with_name(self.db_path.name + "-wal"),
                      self.db_path.with_name(self.db_path.name + "-shm")):
            stale.unlink(missing_ok=True)  # every measurement starts on a fresh database
        try:
            self.sims.start()
            self.slack.start()
            extra = {} if self.concurrency is None else {"salla_sync_concurrency": str(self.concurrency)}
            env = bot_env(self.slack, self.salla, self.enerpize, f"sqlite:///{self.db_path}", **extra, **self.env)
            self.bot = BotProcess(env, log_path=self.log_path)
            self.bot.start(timeout=60)
        except BaseException:  # a with statement does not call __exit__ when __enter__ raises
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        quiet = logging.getLogger("sandbox")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # a killed bot leaves requests half-sent; the simulators need not say so
        try:
            self.sims.quiet()  # the same in the child, before the bot is killed
            if self.bot is not None:
                self.bot.kill()  # the bench's database is thrown away: no need for a graceful stop
        finally:  # the child goes even when an interrupt or an error came first
            self.sims.close()
            self.slack.stop()
            quiet.setLevel(level)

    @property
    def events_url(self) -> str:
        assert self.bot is not None
        return self.bot.url + EVENTS_PATH

    def peak_rss_mb(self) -> float:
        assert self.bot is not None
        return self.bot.peak_rss_mb()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- what Slack sends ------------------------------------------------------------------------

    def driver(self, http: aiohttp.ClientSession) -> SlackDriver:
        """Slack in front of the bot, sending over ``http``: signs and sends what Slack sends."""
        assert self.bot is not None
        return SlackDriver(self.slack, self.bot.url, SIGNING_SECRET, http)

    @staticmethod
    async def _timed(answer: Awaitable[Answer]) -> Ack:
        sent = time.monotonic()
        status, body = await answer
        return Ack(sent, time.monotonic() - sent, status, body)

    async def post(self, http: aiohttp.ClientSession, request: SlackRequest) -> Ack:
        return await self._timed(self.driver(http).post(request))

    async def command(self, http: aiohttp.ClientSession, *, user: str, channel: str) -> tuple[Ack, str]:
        """``/salla-sync`` with no text; the ack and the command's trigger_id."""
        request = self.slack.command("", user_id=user, channel_id=channel)
        return await self.post(http, request), request.payload["trigger_id"]

    async def views_open(self, trigger_id: str, timeout: float = 10.0) -> ApiCall:
        """The bot's ``views.open`` call with this trigger, as the simulator recorded it (its ``at`` is
        when the simulator received it) and answered it (it may have been refused: a trigger expires
        3 s after the command); TimeoutError when none is answered within ``timeout`` seconds."""
        return await self.slack.views_open(trigger_id, timeout)

    async def opened_view(self, trigger_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The modal the bot opened with this trigger; RuntimeError when Slack refused to open it."""
        call = await self.views_open(trigger_id, timeout)
        if not call.ok:
            raise RuntimeError(f"views.open was refused: {call.error}")
        return call.args["view"]

    async def submit(self, http: aiohttp.ClientSession, view: dict[str, Any], text: str, *, user: str) -> Ack:
        """The modal's view_submission with ``text`` in its input."""
        return await self._timed(self.driver(http).submit(view, text, user=user))

    # --- what the bot stored -------------------------------------------------------------------

    def _query(self, sql: str, *params: Any) -> list[tuple]:
        if self._db is None:  # read-only; the bot's database is in WAL mode, readers never block it
            self._db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        return self._db.execute(sql, params).fetchall()

    def run_of(self, user: str) -> int | None:
        rows = self._query("SELECT id FROM sync_run WHERE requested_by = ? ORDER BY id DESC LIMIT 1", user)
        return rows[0][0] if rows else None

    def reported(self, run_id: int) -> bool:
        """Results, summary and totals are all in Slack (the run's report is done)."""
        rows = self._query("SELECT state, reported_at FROM sync_run WHERE id = ?", run_id)
        return bool(rows) and rows[0][0] in ("finished", "cancelled") and rows[0][1] is not None

    def unreported(self) -> int:
        """Runs whose thread is not complete yet."""
        rows = self._query("SELECT COUNT(*) FROM sync_run WHERE reported_at IS NULL")
        return rows[0][0]

    def unfinished(self) -> int:
        """Runs still syncing."""
        rows = self._query("SELECT COUNT(*) FROM sync_run WHERE state IN ('pending', 'running')")
        return rows[0][0]

    async def until_zero(self, count, timeout: float) -> float | None:
        """Seconds until ``count()`` is 0 (polled), or None after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if count() == 0:
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        return None

    def finish_times(self, run_id: int) -> dict[str, float]:
        """Each number's result time (its first Invoice Sync Log row), as epoch seconds."""
        rows = self._query("SELECT number, MIN(created_at) FROM sync_record WHERE run_id = ? GROUP BY number", run_id)
        return {number: _epoch(at) for number, at in rows}

    def run_thread(self, run_id: int) -> tuple[str, str] | None:
        rows = self._query("SELECT channel_id, parent_ts FROM slack_thread WHERE run_id = ?", run_id)
        return rows[0] if rows and rows[0][1] else None

    async def wait_reported(self, run_id: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.reported(run_id):
                return True
            if self.bot is not None and self.bot.proc is not None and self.bot.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.bot.proc.returncode}:\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        return False


def _epoch(value: str) -> float:
    at = datetime.fromisoformat(value)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
