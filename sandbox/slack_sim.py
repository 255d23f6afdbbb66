"""A Slack Web API simulator over real HTTP, plus what Slack itself sends to an app (signed requests).

    with SlackSimulator() as slack:
        slack.api_url       # http://127.0.0.1:PORT/api/  -> SLACK_API_URL
        slack.token         # the bot token it accepts    -> SLACK_BOT_TOKEN
        request = slack.command("1001 1002", user_id="U1", channel_id="C1")   # a /salla-sync
        headers = request.headers(signing_secret)        # signed exactly as Slack signs
        ...
        slack.thread("C1", parent_ts)                    # the parent and its replies, as text

Served methods: auth.test, views.open, views.update, views.publish, chat.postMessage,
chat.update, chat.postEphemeral, conversations.join, conversations.open, and the
``response_url`` endpoints it hands out. Every call is recorded with its decoded body.
Socket Mode too: apps.connections.open (with the app-level token) hands out a WebSocket on which
``socket_send`` delivers envelopes and ``socket_acks`` collects the app's acks.

It refuses what Slack refuses: more than 50 blocks in a message, a section text over 3000
characters or a message with more than 12,000 characters of block text (``invalid_blocks`` /
``msg_blocks_too_long``), a modal or Home tab over 100 blocks, a trigger_id that is unknown,
used or older than ``trigger_ttl`` seconds, a reply to a message that is not a thread parent.

Scripted faults: ``rate_limit_next`` (429 + Retry-After), ``not_in_channel`` (until
conversations.join), ``channel_not_found``, ``private_channel``, ``expire_trigger``,
``fail_next`` (any ``{"ok": false, "error": …}``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.server import LoopbackServer, LoopbackService

API_PREFIX = "/api/"
RESPONSE_PREFIX = "/response/"
SOCKET_PATH = "/socket"
TEAM_ID = "T0SANDBOX"
APP_ID = "A0SALLASYNC"
BOT_USER_ID = "U0SALLABOT"
BOT_ID = "B0SALLABOT"
LEGACY_TOKEN = "sandbox-verification-token"

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_MAX_BLOCK_TEXT = 12_000
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60


# --- signing: what Slack puts on every HTTP request ---------------------------------------------

def sign(body: bytes | str, secret: str, timestamp: int | str | None = None) -> dict[str, str]:
    """The two headers Slack signs a request with (``slack_sdk.signature.SignatureVerifier`` checks them)."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class SlackRequest:
    """A request as Slack would POST it to the app's request URL."""

    body: bytes
    content_type: str

    def headers(self, secret: str, timestamp: int | str | None = None) -> dict[str, str]:
        return {"Content-Type": self.content_type, **sign(self.body, secret, timestamp)}

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded body (form fields, the ``payload`` JSON of interactivity, or the event JSON)."""
        if self.content_type == JSON:
            return json.loads(self.body)
        fields = dict(urllib.parse.parse_qsl(self.body.decode()))
        return json.loads(fields["payload"]) if "payload" in fields else fields


def form_body(fields: dict[str, Any]) -> SlackRequest:
    return SlackRequest(urllib.parse.urlencode({k: v for k, v in fields.items() if v is not None}).encode(), FORM)


def payload_body(payload: dict[str, Any]) -> SlackRequest:
    """Interactivity (view_submission, block_actions…): form-encoded ``payload=<json>``."""
    return SlackRequest(urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(), FORM)


def slash_command(text: str = "", *, user_id: str, channel_id: str, trigger_id: str, response_url: str,
                  command: str = "/salla-sync", team_id: str = TEAM_ID, channel_name: str = "general",
                  user_name: str | None = None) -> SlackRequest:
    return form_body({
        "token": LEGACY_TOKEN, "team_id": team_id, "team_domain": "sandbox", "channel_id": channel_id,
        "channel_name": channel_name, "user_id": user_id, "user_name": user_name or user_id.lower(),
        "command": command, "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger_id,
    })


def _user(user_id: str, team_id: str = TEAM_ID) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def view_submission(view: dict[str, Any], values: dict[str, dict[str, Any]], *, user_id: str, trigger_id: str,
                    team_id: str = TEAM_ID) -> SlackRequest:
    """``values``: {block_id: {action_id: value-or-state-dict}}; a plain string is a plain_text_input."""
    state = {
        block: {action: (value if isinstance(value, dict) else {"type": "plain_text_input", "value": value})
                for action, value in actions.items()}
        for block, actions in values.items()
    }
    submitted = {**view, "state": {"values": state}}
    return payload_body({
        "type": "view_submission", "team": {"id": team_id, "domain": "sandbox"}, "user": _user(user_id, team_id),
        "api_app_id": APP_ID, "token": LEGACY_TOKEN, "trigger_id": trigger_id, "view": submitted,
        "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    })


def block_actions(action: dict[str, Any], *, user_id: str, trigger_id: str, container: dict[str, Any],
                  channel_id: str | None = None, message: dict[str, Any] | None = None,
                  view: dict[str, Any] | None = None, response_url: str | None = None,
                  team_id: str = TEAM_ID) -> SlackRequest:
    payload: dict[str, Any] = {
        "type": "block_actions", "user": _user(user_id, team_id), "api_app_id": APP_ID, "token": LEGACY_TOKEN,
        "container": container, "trigger_id": trigger_id, "team": {"id": team_id, "domain": "sandbox"},
        "enterprise": None, "is_enterprise_install": False, "state": {"values": {}},
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
    }
    if channel_id:
        payload["channel"] = {"id": channel_id, "name": "general"}
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    if response_url:
        payload["response_url"] = response_url
    return payload_body(payload)


def event_callback(event: dict[str, Any], *, team_id: str = TEAM_ID) -> SlackRequest:
    body = {
        "token": LEGACY_TOKEN, "team_id": team_id, "api_app_id": APP_ID, "event": event, "type": "event_callback",
        "event_id": f"Ev{int(time.time() * 1000)}", "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }
    return SlackRequest(json.dumps(body).encode(), JSON)


# --- what the simulator keeps ---------------------------------------------------------------------

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


def render(blocks: list[dict[str, Any]] | None, text: str | None = None) -> list[str]:
    """Lines of text as Slack would show them (blocks win over the fallback ``text``)."""
    if not blocks:
        return (text or "").splitlines()
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header", "markdown"):
            body = block.get("text")
            value = body.get("text") if isinstance(body, dict) else body
            if value:
                lines.extend(str(value).splitlines())
            for item in block.get("fields") or []:
                lines.append(str(item.get("text", "")).replace("\n", " "))
        elif kind == "context":
            parts = [str(e.get("text", "")) for e in block.get("elements") or [] if "text" in e]
            if parts:
                lines.append(" ".join(parts))
        elif kind == "actions":
            for element in block.get("elements") or []:
                label = element.get("text")
                if isinstance(label, dict):
                    lines.append(f"[{label.get('text', '')}]")
    return lines


def block_text_length(blocks: Iterable[Any]) -> int:
    total = 0
    stack: list[Any] = list(blocks)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    total += len(value)
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return total


class _Refused(Exception):
    def __init__(self, error: str, *messages: str, status: int = 200, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)
        self.status = status
        self.headers = headers
        self.extra = extra


def _plain(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _check_text(obj: Any, limit: int, pointer: str, problems: list[str], minimum: int = 0) -> None:
    if obj is None:
        return
    length = len(_plain(obj))
    if length > limit:
        problems.append(f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}]")
    elif length < minimum:
        problems.append(f"[ERROR] must be more than {minimum - 1} characters [json-pointer:{pointer}]")


def _check_element(element: dict[str, Any], pointer: str, problems: list[str]) -> None:
    kind = element.get("type")
    if len(str(element.get("action_id", ""))) > 255:
        problems.append(f"[ERROR] must be less than 256 characters [json-pointer:{pointer}/action_id]")
    if kind == "button":
        _check_text(element.get("text"), 75, f"{pointer}/text/text", problems, 1)
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"[ERROR] must be less than 2001 characters [json-pointer:{pointer}/value]")
    if kind == "plain_text_input":
        max_length = element.get("max_length")
        if max_length is not None and not 1 <= int(max_length) <= 3000:
            problems.append(f"[ERROR] must be between 1 and 3000 [json-pointer:{pointer}/max_length]")
        _check_text(element.get("placeholder"), 150, f"{pointer}/placeholder/text", problems)
        initial = element.get("initial_value")
        if initial is not None and len(initial) > int(max_length or 3000):
            problems.append(f"[ERROR] initial_value is longer than max_length [json-pointer:{pointer}/initial_value]")
    if kind in ("static_select",):
        options = element.get("options") or []
        if len(options) > 100:
            problems.append(f"[ERROR] no more than 100 items allowed [json-pointer:{pointer}/options]")
    confirm = element.get("confirm")
    if confirm:
        _check_text(confirm.get("title"), 100, f"{pointer}/confirm/title/text", problems, 1)
        _check_text(confirm.get("text"), 300, f"{pointer}/confirm/text/text", problems, 1)
        _check_text(confirm.get("confirm"), 30, f"{pointer}/confirm/confirm/text", problems, 1)
        _check_text(confirm.get("deny"), 30, f"{pointer}/confirm/deny/text", problems, 1)


def check_blocks(blocks: Any, *, max_blocks: int) -> list[str]:
    """What Slack would say about these blocks (empty when it would take them)."""
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(f"[ERROR] missing required field: type [json-pointer:{pointer}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"[ERROR] duplicate block_id [json-pointer:{pointer}/block_id]")
            block_ids.add(block_id)
            if len(block_id) > 255:
                problems.append(f"[ERROR] must be less than 256 characters [json-pointer:{pointer}/block_id]")
        kind = block["type"]
        if kind == "section":
            if block.get("text") is None and not block.get("fields"):
                problems.append(f"[ERROR] must provide either text or fields [json-pointer:{pointer}]")
            _check_text(block.get("text"), 3000, f"{pointer}/text/text", problems, 1 if block.get("text") else 0)
            fields = block.get("fields") or []
            if len(fields) > 10:
                problems.append(f"[ERROR] no more than 10 items allowed [json-pointer:{pointer}/fields]")
            for j, item in enumerate(fields):
                _check_text(item, 2000, f"{pointer}/fields/{j}/text", problems, 1)
            if block.get("accessory"):
                _check_element(block["accessory"], f"{pointer}/accessory", problems)
        elif kind == "header":
            _check_text(block.get("text"), 150, f"{pointer}/text/text", problems, 1)
        elif kind == "markdown":
            _check_text({"text": block.get("text", "")}, 12000, f"{pointer}/text", problems, 1)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append(f"[ERROR] must have between 1 and 10 items [json-pointer:{pointer}/elements]")
            for j, element in enumerate(elements):
                if "text" in element:
                    _check_text(element, 3000, f"{pointer}/elements/{j}/text", problems, 1)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                problems.append(f"[ERROR] must have between 1 and 25 items [json-pointer:{pointer}/elements]")
            for j, element in enumerate(elements):
                _check_element(element, f"{pointer}/elements/{j}", problems)
        elif kind == "input":
            _check_text(block.get("label"), 2000, f"{pointer}/label/text", problems, 1)
            _check_text(block.get("hint"), 2000, f"{pointer}/hint/text", problems)
            if not isinstance(block.get("element"), dict):
                problems.append(f"[ERROR] missing required field: element [json-pointer:{pointer}]")
            else:
                _check_element(block["element"], f"{pointer}/element", problems)
    return problems


# --- the simulator -----------------------------------------------------------------------------------

class SlackSimulator(LoopbackService):
    api_prefix = API_PREFIX

    def __init__(self, *, token: str = "xoxb-sandbox-bot-token", app_token: str = "xapp-sandbox-app-token",
                 latency: float = 0.0, trigger_ttl: float = 3.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.app_token = app_token
        self.latency = latency
        self.trigger_ttl = trigger_ttl
        self.bot_user_id = BOT_USER_ID
        self.team_id = TEAM_ID
        self._lock = threading.RLock()
        self._server = LoopbackServer(self._build_app, host=host, port=port)
        self.base_url: str | None = None
        self._serial = itertools.count(1)
        self._ts_base = int(time.time())
        self.reset()

    def reset(self) -> None:
        """Forget every call, message, view and scripted fault (the server keeps running)."""
        with self._lock:
            self._calls: list[ApiCall] = []
            self._messages: dict[str, list[Message]] = {}
            self._ephemerals: list[Ephemeral] = []
            self._triggers: dict[str, tuple[float, bool]] = {}  # id -> (issued at, used)
            self._expired: set[str] = set()
            self._response_urls: dict[str, dict[str, Any]] = {}
            self._views: dict[str, dict[str, Any]] = {}
            self._opened: list[dict[str, Any]] = []
            self._homes: dict[str, dict[str, Any]] = {}
            self._not_member: set[str] = set()
            self._missing: set[str] = set()
            self._private: set[str] = set()
            self._rate_limits: list[list[Any]] = []  # [method, remaining, retry_after]
            self._failures: list[list[Any]] = []  # [method, remaining, error]
            self.joined: list[str] = []
            self._sockets: list[web.WebSocketResponse] = []
            self.socket_acks: dict[str, Any] = {}  # envelope_id -> the payload the app acked with

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

    # -- requests as Slack would send them to the app ------------------------------------------------

    def command(self, text: str = "", *, user_id: str, channel_id: str, command: str = "/salla-sync") -> SlackRequest:
        """A slash command, with a fresh trigger_id and response_url."""
        return slash_command(text, user_id=user_id, channel_id=channel_id, trigger_id=self.new_trigger_id(),
                             response_url=self.new_response_url(channel_id, user_id), command=command)

    def submission(self, view: dict[str, Any], text: str | None = None, *, user_id: str,
                   values: dict[str, dict[str, Any]] | None = None) -> SlackRequest:
        """The view_submission of an opened ``view``: ``text`` goes into its first input block."""
        if values is None:
            values = {}
            for block in view.get("blocks", []):
                if block.get("type") == "input":
                    values[block["block_id"]] = {block["element"]["action_id"]: text}
                    break
        return view_submission(view, values, user_id=user_id, trigger_id=self.new_trigger_id())

    def click(self, channel: str, ts: str, action_id: str, *, user_id: str) -> SlackRequest:
        """Clicking the button ``action_id`` on a message as it is now (LookupError when it has none)."""
        message = self.message(channel, ts)
        for block in message.blocks or []:
            for element in block.get("elements") or []:
                if element.get("type") == "button" and element.get("action_id") == action_id:
                    action = {"type": "button", "action_id": action_id, "block_id": block.get("block_id", ""),
                              "text": element.get("text"), "value": element.get("value", "")}
                    container = {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False}
                    if message.thread_ts:
                        container["thread_ts"] = message.thread_ts
                    return block_actions(action, user_id=user_id, trigger_id=self.new_trigger_id(),
                                         container=container, channel_id=channel, message=message.to_json(),
                                         response_url=self.new_response_url(channel, user_id))
        raise LookupError(f"message {ts} in {channel} has no button {action_id!r}")

    def home_action(self, user_id: str, action_id: str, *, selected: str | None = None) -> SlackRequest:
        """Using an element of ``user_id``'s published Home tab: a button, or a select with ``selected``."""
        view = self.home(user_id)
        if view is None:
            raise LookupError(f"no Home tab published for {user_id}")
        for block in view.get("blocks", []):
            for element in block.get("elements") or []:
                if element.get("action_id") != action_id:
                    continue
                action: dict[str, Any] = {"type": element["type"], "action_id": action_id,
                                          "block_id": block.get("block_id", "")}
                if element["type"] == "button":
                    action.update(text=element.get("text"), value=element.get("value", ""))
                else:
                    option = next((o for o in element.get("options", []) if o.get("value") == selected), None)
                    if option is None:
                        raise LookupError(f"{action_id} has no option {selected!r}")
                    action["selected_option"] = option
                container = {"type": "view", "view_id": view["id"]}
                return block_actions(action, user_id=user_id, trigger_id=self.new_trigger_id(),
                                     container=container, view=view)
        raise LookupError(f"the Home tab of {user_id} has no element {action_id!r}")

    def home_opened(self, user_id: str) -> SlackRequest:
        event: dict[str, Any] = {"type": "app_home_opened", "user": user_id, "channel": self.dm_channel_of(user_id),
                                 "tab": "home", "event_ts": f"{time.time():.6f}"}
        view = self.home(user_id)
        if view is not None:
            event["view"] = view
        return event_callback(event)

    # -- Socket Mode ---------------------------------------------------------------------------------

    @property
    def socket_connections(self) -> int:
        with self._lock:
            return len(self._sockets)

    def socket_send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope on the newest Socket Mode connection; its id (its ack lands in ``socket_acks``).

        ``kind``: "slash_commands" (payload: the command's fields), "interactive" (a view_submission or
        block_actions payload) or "events_api" (an event_callback body). ``SlackRequest.payload`` gives each.
        """
        with self._lock:
            if not self._sockets:
                raise RuntimeError("no Socket Mode connection")
            socket = self._sockets[-1]
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": kind != "events_api"}
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        self._server.call(socket.send_json, envelope)
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        with self._lock:
            self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self._sockets),
                                "connection_info": {"app_id": APP_ID}, "debug_info": {"host": "sandbox"}})
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except json.JSONDecodeError:
                    continue
                if isinstance(data, dict) and "envelope_id" in data:
                    with self._lock:
                        self.socket_acks[data["envelope_id"]] = data.get("payload")
        finally:
            with self._lock:
                if socket in self._sockets:
                    self._sockets.remove(socket)
        return socket

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

    # -- the server ------------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(API_PREFIX + "{method}", self._api)
        app.router.add_get(API_PREFIX + "{method}", self._api)
        app.router.add_post(RESPONSE_PREFIX + "{team}/{key}", self._response_url)
        app.router.add_get(SOCKET_PATH, self._socket)
        return app

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

    # -- channels and messages --------------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._serial):06d}"

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

    def _store_message(self, channel: str, text: str | None, blocks: list | None,
                       thread_ts: str | None) -> Message:
        message = Message(channel, self._next_ts(), text, blocks, thread_ts or None)
        self._messages.setdefault(channel, []).append(message)
        return message

    def _find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self._messages.get(channel, []) if m.ts == ts), None)

    # -- methods -------------------------------------------------------------------------------------------

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://sandbox.slack.com/", "team": "Sandbox", "user": "salla-sync", "team_id": TEAM_ID,
                "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        assert self.base_url is not None
        return {"url": "ws" + self.base_url[len("http"):] + SOCKET_PATH + f"?ticket={uuid.uuid4()}"}

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
        return {"channel": channel, "ts": message.ts, "message": message.to_json()}

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
        problems = check_blocks(view.get("blocks"), max_blocks=VIEW_MAX_BLOCKS)
        if view["type"] == "modal":
            _check_text(view.get("title"), 24, "/view/title/text", problems, 1)
            _check_text(view.get("submit"), 24, "/view/submit/text", problems)
            _check_text(view.get("close"), 24, "/view/close/text", problems)
            if any(b.get("type") == "input" for b in view.get("blocks") or []) and not view.get("submit"):
                problems.append("[ERROR] submit is required when a view has input blocks [json-pointer:/view/submit]")
        if len(view.get("private_metadata") or "") > 3000:
            problems.append("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
        if len(view.get("callback_id") or "") > 255:
            problems.append("[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
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
