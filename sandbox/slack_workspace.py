"""What the simulated Slack workspace holds, what it hands out, and how a test reads it.

The workspace is the sandbox team (``TEAM_ID``) with the salla-sync app (``APP_ID``) and its bot
user (``BOT_USER_ID`` / ``BOT_ID``). It keeps every Web API call (``ApiCall``), the messages posted
to each channel (``Message``: parents and thread replies), the ephemeral messages (``Ephemeral``),
the views opened and the Home tabs published; it hands out trigger_ids, response_urls and DM
channel ids. ``SlackWorkspace`` is the part of ``SlackSimulator`` that holds this state; the Web API
(``sandbox.slack_web_api``) changes it, and tests read it through the observation methods.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack_blocks import render

TEAM_ID = "T0SANDBOX"
APP_ID = "A0SALLASYNC"
BOT_USER_ID = "U0SALLABOT"
BOT_ID = "B0SALLABOT"
RESPONSE_PREFIX = "/response/"


@dataclass
class ApiCall:
    """One Web API call as the simulator saw it."""

    method: str
    args: dict[str, Any]
    status: int = 200
    ok: bool = True
    error: str | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def throttled(self) -> bool:
        return self.status == 429


@dataclass
class Message:
    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    edits: int = 0
    metadata: dict[str, Any] | None = None  # chat.postMessage's ``metadata`` (event_type, event_payload)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def lines(self) -> list[str]:
        """The message as a person reads it: one entry per line of text in a block or section field."""
        return render(self.blocks, self.text)

    def as_text(self) -> str:
        return "\n".join(self.lines())

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "bot_id": BOT_ID,
                                "text": self.text or "", "team": TEAM_ID}
        if self.blocks is not None:
            body["blocks"] = self.blocks
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            body["metadata"] = self.metadata
        return body


@dataclass
class Ephemeral:
    channel: str | None
    user: str | None
    text: str | None
    blocks: list[dict[str, Any]] | None = None
    via: str = "chat.postEphemeral"  # or "response_url"
    body: dict[str, Any] = field(default_factory=dict)

    def as_text(self) -> str:
        return "\n".join(render(self.blocks, self.text))


class SlackWorkspace:
    """The workspace's state (``SlackSimulator.__init__`` sets the lock, the serial counter and the base URL)."""

    _lock: threading.RLock
    _serial: itertools.count
    _last_ts: int  # microseconds
    base_url: str | None

    def reset(self) -> None:
        """Forget every call, message, view and scripted fault (the server keeps running).

        Each part of the simulator forgets its own state and passes on to the next (``super().reset()``)."""
        with self._lock:
            self._calls: list[ApiCall] = []
            self._messages: dict[str, list[Message]] = {}
            self._ephemerals: list[Ephemeral] = []
            self._triggers: dict[str, tuple[float, bool]] = {}  # id -> (issued at, used)
            self._response_urls: dict[str, dict[str, Any]] = {}
            self._views: dict[str, dict[str, Any]] = {}
            self._opened: list[dict[str, Any]] = []
            self._homes: dict[str, dict[str, Any]] = {}
            self.joined: list[str] = []

    # -- what Slack hands out ----------------------------------------------------------------------

    def new_trigger_id(self) -> str:
        noise = hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:16]
        trigger = f"{next(self._serial)}.{int(time.time())}.{noise}"
        with self._lock:
            self._triggers[trigger] = (time.monotonic(), False)
        return trigger

    def new_response_url(self, channel_id: str | None, user_id: str | None) -> str:
        if self.base_url is None:
            raise RuntimeError("simulator is not started")
        key = hashlib.sha1(f"{time.time_ns()}-{next(self._serial)}".encode()).hexdigest()[:20]
        with self._lock:
            self._response_urls[key] = {"channel": channel_id, "user": user_id, "uses": 0,
                                        "issued": time.monotonic()}
        return f"{self.base_url}{RESPONSE_PREFIX}{TEAM_ID}/{key}"

    def dm_channel_of(self, user_id: str) -> str:
        """The id of the bot's DM with ``user_id`` (what conversations.open answers)."""
        return "D" + hashlib.sha1(user_id.encode()).hexdigest()[:10].upper()

    # -- observation ----------------------------------------------------------------------------------

    def calls(self, method: str | None = None, *, include_throttled: bool = True) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if (method is None or c.method == method)
                    and (include_throttled or not c.throttled)]

    def messages(self, channel: str) -> list[Message]:
        """Every message in the channel, parents and replies, in the order they were posted."""
        with self._lock:
            return list(self._messages.get(channel, []))

    def top_level(self, channel: str) -> list[Message]:
        return [m for m in self.messages(channel) if not m.is_reply]

    def message(self, channel: str, ts: str) -> Message:
        with self._lock:
            for message in self._messages.get(channel, []):
                if message.ts == ts:
                    return message
        raise LookupError(f"no message {ts} in {channel}")

    def replies(self, channel: str, ts: str) -> list[Message]:
        return [m for m in self.messages(channel) if m.thread_ts == ts and m.ts != ts]

    def thread(self, channel: str, ts: str) -> list[str]:
        """The parent and its replies, each as the text a person reads."""
        return [self.message(channel, ts).as_text()] + [m.as_text() for m in self.replies(channel, ts)]

    @property
    def channels(self) -> list[str]:
        with self._lock:
            return [c for c, messages in self._messages.items() if messages]

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages (chat.postEphemeral and ephemeral response_url answers)."""
        with self._lock:
            return [e for e in self._ephemerals if user is None or e.user == user]

    @property
    def opened_views(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._opened)

    def home(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._homes.get(user_id)

    async def until(self, predicate, timeout: float = 5.0, interval: float = 0.01) -> Any:
        """Poll ``predicate()`` from an event loop until it is truthy; its value, or TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() > deadline:
                raise TimeoutError("the Slack simulator did not see what was awaited")
            await asyncio.sleep(interval)

    # -- storing messages -----------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        """A message's ts as Slack makes it: the time it was posted, in microseconds, unique."""
        with self._lock:
            self._last_ts = max(time.time_ns() // 1000, self._last_ts + 1)
            return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _store_message(self, channel: str, text: str | None, blocks: list | None,
                       thread_ts: str | None) -> Message:
        message = Message(channel, self._next_ts(), text, blocks, thread_ts or None)
        self._messages.setdefault(channel, []).append(message)
        return message

    def _find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self._messages.get(channel, []) if m.ts == ts), None)

