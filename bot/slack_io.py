"""Talking to Slack from the run worker: one client, per-channel pacing, 429s waited out, never dropped.

The client's own retry handlers wait out the first 429s (``Retry-After``), 5xx answers and
dropped connections. A message still refused for rate limiting after that keeps waiting here,
up to ``Tuning.rate_limit_patience``: a 429 delays a message, it does not lose it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.tuning import Tuning
from bot.ui.thread import SlackMessage
from sync_core.metrics import trace_config
from sync_core.store.tables import as_utc

log = logging.getLogger(__name__)

POSTED_EVENT = "salla_sync_post"  # the metadata event of every message the bot must post once
POSTED_PAGES = 10  # of 200 messages: how far back a resumed process looks for what it posted
POSTED_CLOCK_SKEW = timedelta(minutes=10)  # Slack's clock against ours, when reading back from a time


def once(key: str) -> dict[str, Any]:
    """The message metadata naming what a message is (``"run 7 parent"``), so that a process that
    resumes the work finds it with ``SlackOut.posted`` instead of posting it again."""
    return {"event_type": POSTED_EVENT, "event_payload": {"key": key}}


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Waits ``Retry-After`` plus up to ``jitter`` seconds (slack-sdk's own adds up to a whole second)."""

    def __init__(self, max_retry_count: int, jitter: float = 1.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.jitter = jitter

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        wait = 1.0
        for key, value in response.headers.items():
            if key.lower() == "retry-after":
                try:
                    wait = float(value[0] if isinstance(value, list) else value)
                except (TypeError, ValueError):
                    pass
                break
        await asyncio.sleep(max(wait, 0.0) + random.random() * self.jitter)
        state.increment_current_attempt()


def retry_handlers(tuning: Tuning) -> list:
    return [
        RateLimitRetry(max_retry_count=tuning.rate_limit_retries, jitter=tuning.rate_limit_jitter),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(token: str, base_url: str, tuning: Tuning = Tuning()) -> AsyncWebClient:
    """The bot's one Slack Web API client, on one pooled aiohttp session (call it from the running
    loop; ``close_client`` closes the session).

    Without a session of its own, slack-sdk opens a new session, and so a new TCP and TLS
    connection, for every API call: a few milliseconds of CPU each on the loop that also has
    to acknowledge Slack's requests within 3 seconds.
    """
    if not base_url.endswith("/"):
        base_url += "/"
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32, keepalive_timeout=30),
                                    trace_configs=[trace_config("slack")])
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=retry_handlers(tuning), session=session)


async def close_client(client: AsyncWebClient) -> None:
    session = getattr(client, "session", None)
    if isinstance(session, aiohttp.ClientSession) and not session.closed:
        await session.close()


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, SlackApiError) and exc.response is not None:
        try:
            return exc.response.get("error")
        except Exception:  # a non-JSON answer
            return None
    return None


def _retry_after(exc: SlackApiError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(float(value[0] if isinstance(value, list) else value), 0.0)
            except (TypeError, ValueError):
                break
    return 1.0


def is_rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, SlackApiError) and (
        error_code(exc) == "ratelimited" or getattr(exc.response, "status_code", None) == 429)


# Answers that say "not now" rather than "no": Slack is down, overloaded or rate-limiting.
_UNAVAILABLE_CODES = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                                "request_timeout"})


def slack_unavailable(exc: BaseException) -> bool:
    """True when the call may work later (Slack down, unreachable, 5xx, rate-limited, timed out):
    what was to be posted is kept and sent again, never dropped. False for a refusal (a missing
    channel, a revoked token…) and for anything else."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        return (isinstance(status, int) and (status >= 500 or status == 429)) or error_code(exc) in _UNAVAILABLE_CODES
    return isinstance(exc, (aiohttp.ClientError, TimeoutError, ConnectionError))


class ChannelPacer:
    """At most one call per ``interval`` seconds per channel, in the order they asked."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._next: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, channel: str | None) -> AsyncIterator[None]:
        if channel is None:
            yield
            return
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            wait = self._next.get(channel, 0.0) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._next[channel] = loop.time() + self.interval


class SlackOut:
    def __init__(self, client: AsyncWebClient, tuning: Tuning) -> None:
        self.client = client
        self.tuning = tuning
        self.pacer = ChannelPacer(tuning.channel_pace)

    async def call(self, method: str, *, pace_channel: str | None = None, **kwargs: Any):
        """``client.<method>(**kwargs)``, paced per channel, rate limits waited out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.tuning.rate_limit_patience
        while True:
            async with self.pacer.slot(pace_channel):
                try:
                    return await getattr(self.client, method)(**kwargs)
                except SlackApiError as exc:
                    if not is_rate_limited(exc) or loop.time() >= deadline:
                        raise
                    delay = _retry_after(exc)
            log.warning("Slack rate-limited %s; waiting %.1f s before sending it again", method, delay)
            await asyncio.sleep(min(delay, max(deadline - loop.time(), 0.0)))

    async def post(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None,
                   metadata: dict[str, Any] | None = None) -> str:
        kwargs: dict[str, Any] = dict(channel=channel, text=message.text, blocks=message.blocks,
                                      unfurl_links=False, unfurl_media=False)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata is not None:
            kwargs["metadata"] = metadata
        response = await self.call("chat_postMessage", pace_channel=channel, **kwargs)
        return response["ts"]

    async def post_joining(self, channel: str, message: SlackMessage, *,
                           metadata: dict[str, Any] | None = None) -> str:
        """Post at the top of ``channel``, joining it first when the bot is not in it (public
        channels; a private one refuses)."""
        try:
            return await self.post(channel, message, metadata=metadata)
        except SlackApiError as exc:
            if error_code(exc) != "not_in_channel":
                raise
        await self.call("conversations_join", channel=channel)
        return await self.post(channel, message, metadata=metadata)

    async def posted(self, channel: str, *, thread_ts: str | None = None,
                     since: datetime | None = None) -> dict[str, str]:
        """What the bot posted with ``once(key)`` in ``thread_ts``'s thread (the parent included), or
        else at the top of ``channel`` since ``since``: key -> ts. A process that died between Slack
        taking a message and the database recording it finds the message here instead of posting
        it twice. Reads at most ``POSTED_PAGES`` pages (the messages since a run began). Raises only
        when Slack is unavailable; what it cannot read is taken as not posted."""
        if thread_ts:
            method, kwargs = "conversations_replies", {"ts": thread_ts}
        else:
            oldest = (as_utc(since) - POSTED_CLOCK_SKEW).timestamp() if since is not None else 0
            method, kwargs = "conversations_history", {"oldest": f"{max(oldest, 0):.6f}"}
        found: dict[str, str] = {}
        cursor, joined = None, False
        for _ in range(POSTED_PAGES):
            try:
                response = await self.call(method, channel=channel, include_all_metadata=True, limit=200,
                                            **kwargs, **({"cursor": cursor} if cursor else {}))
            except SlackApiError as exc:
                if slack_unavailable(exc):
                    raise  # the caller tries again later
                if error_code(exc) == "not_in_channel" and not joined:
                    joined = True
                    if await self._join_to_read(channel):
                        continue
                else:  # cannot read it back (a scope the install lacks, a channel gone): post, as before
                    log.warning("could not read back %s (%s); posting without looking", channel, error_code(exc))
                break
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload")
                if metadata.get("event_type") == POSTED_EVENT and isinstance(payload, dict) and payload.get("key"):
                    found.setdefault(str(payload["key"]), str(message.get("ts")))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found

    async def _join_to_read(self, channel: str) -> bool:
        """Join a public channel to read it (conversations.join); False if it refuses."""
        try:
            await self.call("conversations_join", channel=channel)
            return True
        except SlackApiError as exc:
            if slack_unavailable(exc):
                raise
            log.warning("could not read back %s (joining: %s); posting without looking", channel, error_code(exc))
            return False

    async def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        # Not paced per channel: the one-a-second guidance is chat.postMessage's; chat.update is a
        # Tier 3 method (50+ a minute per workspace), and a 429 is waited out all the same.
        await self.call("chat_update", channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        await self.call("chat_postEphemeral", channel=channel, user=user, text=text)

    async def dm_channel(self, user: str) -> str:
        response = await self.call("conversations_open", users=user)
        return response["channel"]["id"]

    async def respond(self, response_url: str, text: str) -> bool:
        """An ephemeral answer through a command's or action's ``response_url``; False if it failed."""
        webhook = AsyncWebhookClient(response_url, retry_handlers=retry_handlers(self.tuning))
        try:
            response = await webhook.send(text=text, response_type="ephemeral", replace_original=False)
        except Exception as exc:  # an expired or unreachable URL: the caller tries another way
            log.warning("response_url answer failed: %s", type(exc).__name__)
            return False
        return response.status_code == 200


class PostedOnce:
    """Messages posted once each, under a key in their metadata (``once``). With ``look_first``
    (work resumed from a process that died), what is already in a thread or at the top of a channel
    since ``since`` is read back first, once a place, and a message found there is not posted
    again. A post that fails other than by Slack refusing it turns ``look_first`` on: Slack may have
    taken it and the answer been lost."""

    def __init__(self, out: SlackOut, *, look_first: bool, since: datetime | None) -> None:
        self.out = out
        self.look_first = look_first
        self.since = since
        self.found_again: set[str] = set()  # the keys a dead process (or a lost answer) had posted
        self._read: dict[tuple[str, str | None], dict[str, str]] = {}  # (channel, thread) -> key -> ts

    async def post(self, channel: str, key: str, message: SlackMessage, *, thread_ts: str | None = None,
                   joining: bool = False) -> str:
        """The message's ts: found again, or posted now (``joining`` the channel if need be)."""
        if self.look_first:
            where = (channel, thread_ts)
            if where not in self._read:
                self._read[where] = await self.out.posted(channel, thread_ts=thread_ts, since=self.since)
            found = self._read[where].get(key)
            if found is not None:
                self.found_again.add(key)
                return found
        try:
            if joining:
                return await self.out.post_joining(channel, message, metadata=once(key))
            return await self.out.post(channel, message, thread_ts=thread_ts, metadata=once(key))
        except Exception as exc:
            if not isinstance(exc, SlackApiError) or slack_unavailable(exc):  # not a plain refusal
                self.look_first = True
                self._read.pop((channel, thread_ts), None)  # read again: it may be there now
            raise
