"""The Slack Web API the simulator serves, and the faults a test can script into it.

Served methods: auth.test, views.open, views.update, views.publish, chat.postMessage,
chat.update, chat.postEphemeral, conversations.join, conversations.open (apps.connections.open is
Socket Mode's, in ``sandbox.slack_socket_mode``), and the ``response_url`` endpoints the workspace
hands out. Every call is recorded with its decoded body (``_decode``); each method is the
``_m_<method>`` of ``SlackWebApi`` (``chat.postMessage`` -> ``_m_chat_postMessage``).

It refuses what Slack refuses: a message whose blocks ``check_blocks`` faults (``invalid_blocks``)
or with more than 12,000 characters of block text (``msg_blocks_too_long``), a modal or Home tab
``check_view`` faults (``invalid_arguments``), a trigger_id that is unknown, used or older than
``trigger_ttl`` seconds, a reply to a message that is not a thread parent, a response_url used more
than ``RESPONSE_URL_USES`` times or older than ``RESPONSE_URL_TTL`` seconds.

Scripted faults: ``rate_limit_next`` (429 + Retry-After), ``not_in_channel`` (until
conversations.join), ``channel_not_found``, ``private_channel``, ``expire_trigger``,
``fail_next`` (any ``{"ok": false, "error": …}``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.parse
from typing import Any

from aiohttp import web

from sandbox.slack_blocks import (
    MESSAGE_MAX_BLOCK_TEXT,
    MESSAGE_MAX_BLOCKS,
    block_text_length,
    check_blocks,
    check_view,
)
from sandbox.slack_workspace import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, ApiCall, Ephemeral, SlackWorkspace

API_PREFIX = "/api/"
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60


class _Refused(Exception):
    """A call Slack refuses: ``{"ok": false, "error": error, **extra}`` with HTTP ``status`` and ``headers``, and
    ``messages`` as its ``response_metadata.messages``."""

    def __init__(self, error: str, *messages: str, status: int = 200, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)
        self.status = status
        self.headers = headers
        self.extra = extra


class SlackWebApi(SlackWorkspace):
    """The Web API's handlers over the workspace (``SlackSimulator.__init__`` sets the tokens and timings)."""

    token: str
    app_token: str
    latency: float
    trigger_ttl: float

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self._expired: set[str] = set()
            self._not_member: set[str] = set()
            self._missing: set[str] = set()
            self._private: set[str] = set()
            self._rate_limits: list[list[Any]] = []  # [method, remaining, retry_after]
            self._failures: list[list[Any]] = []  # [method, remaining, error]

    # -- scripted faults ----------------------------------------------------------------------------

    def rate_limit_next(self, method: str, count: int = 1, retry_after: int = 1) -> None:
        """The next ``count`` calls of ``method`` answer 429 with ``Retry-After: retry_after`` and
        ``{"ok": false, "error": "ratelimited"}``."""
        with self._lock:
            self._rate_limits.append([method, count, retry_after])

    def fail_next(self, method: str, error: str, count: int = 1) -> None:
        """The next ``count`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        with self._lock:
            self._failures.append([method, count, error])

    def not_in_channel(self, *channels: str) -> None:
        """Public channels the bot is not in: posting answers ``not_in_channel`` until conversations.join."""
        with self._lock:
            self._not_member.update(channels)

    def channel_not_found(self, *channels: str) -> None:
        """Channels the bot cannot see at all: every call naming them answers ``channel_not_found``."""
        with self._lock:
            self._missing.update(channels)

    def private_channel(self, *channels: str) -> None:
        """Private channels the bot was not invited to: ``channel_not_found``; joining is not allowed."""
        with self._lock:
            self._private.update(channels)

    def expire_trigger(self, trigger_id: str) -> None:
        with self._lock:
            self._expired.add(trigger_id)

    # -- answering calls --------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _decode(request)
        call = ApiCall(method, args)
        with self._lock:
            self._calls.append(call)
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            with self._lock:
                self._scripted(method)
                self._authenticate(request, args)
                handler = getattr(self, "_m_" + method.replace(".", "_"), None)
                if handler is None:
                    raise _Refused("unknown_method", status=404)
                body = {"ok": True, **handler(args)}
        except _Refused as refused:
            call.ok, call.error, call.status = False, refused.error, refused.status
            body = {"ok": False, "error": refused.error, **refused.extra}
            if refused.messages:
                body["response_metadata"] = {"messages": refused.messages}
            return web.json_response(body, status=refused.status, headers=refused.headers)
        return web.json_response(body)

    def _scripted(self, method: str) -> None:
        for entry in self._rate_limits:
            if entry[0] == method and entry[1] > 0:
                entry[1] -= 1
                raise _Refused("ratelimited", status=429, headers={"Retry-After": str(entry[2])})
        for entry in self._failures:
            if entry[0] == method and entry[1] > 0:
                entry[1] -= 1
                raise _Refused(entry[2])

    def _authenticate(self, request: web.Request, args: dict[str, Any]) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else str(args.get("token") or "")
        if not token:
            raise _Refused("not_authed")
        if request.match_info.get("method") == "apps.connections.open":
            if token != self.app_token:
                raise _Refused("not_allowed_token_type" if token == self.token else "invalid_auth")
        elif token != self.token:
            raise _Refused("invalid_auth")

    async def _response_url(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="invalid_payload")
        with self._lock:
            issued = self._response_urls.get(key)
            if issued is None:
                return web.Response(status=404, text="invalid_token")
            if time.monotonic() - issued["issued"] > RESPONSE_URL_TTL:
                return web.Response(status=404, text="expired_url")
            if issued["uses"] >= RESPONSE_URL_USES:
                return web.Response(status=404, text="used_url")
            issued["uses"] += 1
            self._calls.append(ApiCall("response_url", body))
            if body.get("response_type") == "in_channel" and issued["channel"]:
                problems = check_blocks(body["blocks"], max_blocks=MESSAGE_MAX_BLOCKS) if body.get("blocks") else []
                if problems:
                    return web.Response(status=400, text="invalid_blocks")
                self._store_message(issued["channel"], body.get("text"), body.get("blocks"), body.get("thread_ts"))
            else:
                self._ephemerals.append(Ephemeral(issued["channel"], issued["user"], body.get("text"),
                                                  body.get("blocks"), via="response_url", body=body))
        return web.Response(text="ok")

    def _resolve_channel(self, channel: Any, *, posting: bool = True) -> str:
        if not channel:
            raise _Refused("channel_not_found")
        channel = str(channel)
        if channel.startswith(("U", "W")):  # posting to a user id lands in the bot's DM with them
            return self.dm_channel_of(channel)
        if channel in self._missing or channel in self._private:
            raise _Refused("channel_not_found")
        if posting and channel in self._not_member:
            raise _Refused("not_in_channel")
        return channel

    def _check_message(self, args: dict[str, Any]) -> None:
        blocks = args.get("blocks")
        if blocks is None:
            if not args.get("text"):
                raise _Refused("no_text")
            return
        problems = check_blocks(blocks, max_blocks=MESSAGE_MAX_BLOCKS)
        if problems:
            raise _Refused("invalid_blocks", *problems)
        if block_text_length(blocks) > MESSAGE_MAX_BLOCK_TEXT:
            raise _Refused("msg_blocks_too_long")

    # -- methods -------------------------------------------------------------------------------------------

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://sandbox.slack.com/", "team": "Sandbox", "user": "salla-sync", "team_id": TEAM_ID,
                "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        self._check_message(args)
        thread_ts = args.get("thread_ts") or None
        if thread_ts:
            parent = self._find(channel, str(thread_ts))
            if parent is None:
                raise _Refused("thread_not_found")
            if parent.is_reply:  # replies go to the parent's ts, never to a reply's
                raise _Refused("invalid_thread_ts", "[ERROR] thread_ts must be the parent message's ts")
        message = self._store_message(channel, args.get("text"), args.get("blocks"), thread_ts)
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata is not None:
            if not isinstance(metadata, dict) or not metadata.get("event_type") \
                    or not isinstance(metadata.get("event_payload"), dict):
                raise _Refused("invalid_metadata_format")
            message.metadata = metadata
        return {"channel": channel, "ts": message.ts, "message": message.to_json()}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread's messages, the parent first, in pages."""
        channel = self._resolve_channel(args.get("channel"))
        parent = self._find(channel, str(args.get("ts") or ""))
        if parent is None:
            raise _Refused("thread_not_found")
        thread = [parent] + [m for m in self._messages.get(channel, []) if m.thread_ts == parent.ts and m is not parent]
        return _page(thread, args)

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """The channel's top-level messages, newest first, from ``oldest`` on, in pages. The bot must
        be in the channel."""
        channel = self._resolve_channel(args.get("channel"))
        oldest = float(args.get("oldest") or 0)
        return _page([m for m in reversed(self._messages.get(channel, [])) if not m.is_reply and float(m.ts) > oldest],
                     args)

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"), posting=False)
        message = self._find(channel, str(args.get("ts") or ""))
        if message is None:
            raise _Refused("message_not_found")
        if message.user != BOT_USER_ID:
            raise _Refused("cant_update_message")
        if "blocks" in args:
            self._check_message(args)
        message.text = args.get("text", message.text)
        message.blocks = args.get("blocks")  # text without blocks drops the old blocks, as Slack does
        message.edits += 1
        return {"channel": channel, "ts": message.ts, "text": message.text or "", "message": message.to_json()}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        if not args.get("user"):
            raise _Refused("user_not_in_channel")
        self._check_message(args)
        self._ephemerals.append(Ephemeral(channel, args.get("user"), args.get("text"), args.get("blocks"), body=args))
        return {"message_ts": self._next_ts()}

    def _m_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel in self._private:
            raise _Refused("method_not_supported_for_channel_type")
        if not channel or channel in self._missing:
            raise _Refused("channel_not_found")
        already = channel not in self._not_member
        self._not_member.discard(channel)
        self.joined.append(channel)
        body: dict[str, Any] = {"channel": {"id": channel, "is_channel": True, "is_member": True}}
        if already:
            body["warning"] = "already_in_channel"
        return body

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "")
        if not users:
            raise _Refused("users_list_not_supplied")
        if "," in users:
            raise _Refused("not_allowed_token_type")  # group DMs are not what the bot opens
        return {"channel": {"id": self.dm_channel_of(users), "is_im": True}}

    def _check_view(self, view: Any, *, kinds: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(view, dict) or view.get("type") not in kinds:
            raise _Refused("invalid_arguments", "[ERROR] view.type must be one of " + ", ".join(kinds))
        problems = check_view(view)
        if problems:
            raise _Refused("invalid_arguments", *problems)
        return view

    def _stored_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._serial):08d}"
        stored = {"id": view_id, "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": BOT_ID,
                  "state": {"values": {}}, "hash": hashlib.sha1(f"{view_id}{time.time_ns()}".encode()).hexdigest()[:16],
                  "private_metadata": "", "callback_id": "", "root_view_id": view_id, "previous_view_id": None,
                  "external_id": "", **view}
        self._views[view_id] = stored
        return stored

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        issued = self._triggers.get(trigger)
        if issued is None:
            raise _Refused("invalid_trigger_id")
        at, used = issued
        if trigger in self._expired or time.monotonic() - at > self.trigger_ttl:
            raise _Refused("expired_trigger_id")
        if used:
            raise _Refused("exchanged_trigger_id")
        view = self._check_view(args.get("view"), kinds=("modal",))
        self._triggers[trigger] = (at, True)
        stored = self._stored_view(view)
        self._opened.append(stored)
        return {"view": stored}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if not view_id or view_id not in self._views:
            raise _Refused("not_found")
        if args.get("hash") and args["hash"] != self._views[view_id]["hash"]:
            raise _Refused("hash_conflict")
        view = self._check_view(args.get("view"), kinds=("modal",))
        return {"view": self._stored_view(view, view_id)}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id") or "")
        if not user:
            raise _Refused("invalid_arguments", "[ERROR] missing required field: user_id")
        view = self._check_view(args.get("view"), kinds=("home",))
        previous = self._homes.get(user)
        stored = self._stored_view(view, previous["id"] if previous else None)
        self._homes[user] = stored
        return {"view": stored}


async def _decode(request: web.Request) -> dict[str, Any]:
    """A Web API call's arguments: JSON body, form fields or query string; JSON-valued fields decoded."""
    args: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            try:
                decoded = json.loads(raw)
            except json.JSONDecodeError:
                decoded = {}
            if isinstance(decoded, dict):
                args.update(decoded)
        else:
            args.update(dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
    for key in ("blocks", "view", "attachments", "metadata"):
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                pass
    return args


def _page(messages: list, args: dict[str, Any]) -> dict[str, Any]:
    """``limit`` messages (100 unless asked, 999 at most) from ``cursor`` on, and the next cursor;
    their metadata only with ``include_all_metadata``, as Slack answers conversations.* reads."""
    limit = max(1, min(int(args.get("limit") or 100), 999))
    start = int(args.get("cursor") or 0)
    with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
    bodies = []
    for message in messages[start:start + limit]:
        body = message.to_json()
        if not with_metadata:
            body.pop("metadata", None)
        bodies.append(body)
    more = start + limit < len(messages)
    return {"messages": bodies, "has_more": more, "response_metadata": {"next_cursor": str(start + limit) if more else ""}}
